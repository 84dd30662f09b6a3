#!/usr/bin/env python3
"""Set up a virtual environment and run jobhub's demo or its test suite.

    python3 dev.py demo          # the embedded emulator, live
    python3 dev.py test          # lint, types and the whole test suite, in parallel (what CI runs)
    python3 dev.py test-lowest   # the quick core tests at every dependency's lowest version
    python3 dev.py test-newest   # the same at every dependency's newest version

Needs only python3 (3.11+) with pip and venv. The environment lives in `.venv/` and is
reinstalled only when `pyproject.toml` changes. `test-lowest` and `test-newest` build their own
environments (`.venv-lowest/`, `.venv-newest/`) with uv, from `.venv/`: the lowest one installs
each declared dependency at its lower bound and fails if any other version is installed; the
newest one is upgraded on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".dev-stamp"


def _run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode:
        sys.exit(result.returncode)


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 -- dev.py runs under any python3 to say this
        sys.exit(f"jobhub needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("dev: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev: installing jobhub and its test tools into .venv", flush=True)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[test]")
    STAMP.write_text(wanted)


# Every worker collects the whole suite, so what collection costs is paid once per worker. Two
# things made it 10.8 s of CPU: pytest rewrites the asserts of every module of a package that
# has a `pytest11` entry point (all of schemathesis, hypothesis, anyio and jobhub), and with
# PYTHONDONTWRITEBYTECODE set nothing it rewrote or compiled was kept for the next process. So
# the suite's run names the plugins it uses instead of loading every installed one, and writes
# bytecode (under `__pycache__/`, which git ignores).
PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
PYTEST_PLUGINS = (
    "xdist.plugin",
    "pytest_timeout",
    "anyio.pytest_plugin",
    "_hypothesis_pytestplugin",
    "schemathesis.pytest.plugin",
    "jobhub.testing.plugin",
)


def test(extra: list[str]) -> None:
    _run(BIN / "ruff", "check", "jobhub", "plugins", "tests", "benchmarks", "dev.py")
    _run(BIN / "ruff", "format", "--check", "jobhub", "plugins", "tests", "benchmarks", "dev.py")
    _run(BIN / "mypy", "jobhub", "plugins", "benchmarks")
    # pytest exits 5 when it collects no test: that is a failure here, never hidden. The tests
    # are spread over worker processes (pytest-xdist), each module whole to the first one free,
    # so a module's fixtures (emulators, servers, the soak's runs) are set up once; `-n 0` after
    # the command runs them in this one. Much of the suite's time is spent waiting (servers,
    # subprocesses, real clocks), so two workers more than the cores keep them busy: on two
    # idle cores four workers took 2 min 41 s, three 3 min 02 s, five 2 min 55 s. Modules go
    # out in the order tests/conftest.py gives them, the longest first; pytest-xdist would
    # otherwise send the modules with the most tests first, and a module of one long test
    # last. (`--dist loadgroup` keeps no group together under pytest 9: pytest-xdist renames
    # the test's `_nodeid`, which pytest 9 no longer reads.)
    workers = str((os.cpu_count() or 1) + 2)
    os.environ.update(PYTEST_ENV)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    plugins = [arg for plugin in PYTEST_PLUGINS for arg in ("-p", plugin)]
    dist = ["--dist", "loadscope", "--no-loadscope-reorder"]
    _run(BIN / "python", "-m", "pytest", *plugins, "-n", workers, *dist, *extra)


# The quick part of the suite run at the lowest and the newest versions: the core model, hub,
# plugins and config, the adapters' parsers and the emulator.
FOCUSED = [
    "tests/test_core_model.py",
    "tests/test_core_trusted.py",
    "tests/test_core_hub.py",
    "tests/test_core_plugins.py",
    "tests/test_core_config.py",
    "tests/test_sieve_normalize.py",
    "tests/test_pixxel_normalize.py",
    "tests/test_prunner_normalize.py",
    "tests/test_sieve_adapter.py",
    "tests/test_emulator_framework.py",
    "tests/test_emulator_hub.py",
    "tests/test_hooks_documented.py",
]
# The extras those tests need, and the test tools, with the bounds the `test` extra gives them.
FOCUSED_EXTRAS = ("emulator",)
FOCUSED_TOOLS = {"pytest", "pytest-timeout", "anyio", "vcrpy", "pyyaml"}
LOWER_BOUND = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^]]*\])?\s*>=\s*([0-9][0-9.]*)")


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


def _release(version: str) -> tuple[int, ...]:
    parts = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:4]]
    while parts and parts[-1] == 0:
        parts.pop()  # 2.7 and 2.7.0 are one release
    return tuple(parts)


def focused_requirements() -> list[str]:
    """Every declared dependency of the library and of the extras the focused tests use (the
    emulator), and the test tools they use."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    tools = [r for r in extras["test"] if _name(r) in FOCUSED_TOOLS]
    return [*project["dependencies"], *(r for e in FOCUSED_EXTRAS for r in extras[e]), *tools]


def test_at(resolution: str, extra: list[str]) -> None:
    """The focused tests in `.venv-<resolution>`, installed at the lowest or newest versions."""
    target = ROOT / f".venv-{resolution}"
    python = target / ("Scripts" if os.name == "nt" else "bin") / "python"
    wanted = focused_requirements()
    stamp = target / ".dev-stamp"
    digest = hashlib.sha256(json.dumps(wanted).encode()).hexdigest()
    stale = not stamp.exists() or stamp.read_text() != digest
    if resolution == "lowest" and stale and target.exists():
        # A version installed before that meets the new bound would be kept: start afresh.
        shutil.rmtree(target)
    if not python.exists():
        _run(BIN / "uv", "venv", "--quiet", "--python", sys.executable, target)
    if resolution == "newest" or stale:
        print(f"dev: installing jobhub at the {resolution} versions into {target.name}", flush=True)
        how = ["--resolution", "lowest-direct"] if resolution == "lowest" else ["--upgrade"]
        uv_pip = [BIN / "uv", "pip", "install", "--quiet", "--python", python, *how]
        _run(*uv_pip, "--reinstall-package", "jobhub", "-e", ".", *wanted)
        stamp.write_text(digest)
    listed = subprocess.run(
        [str(BIN / "uv"), "pip", "list", "--python", str(python), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {_name(item["name"]): item["version"] for item in json.loads(listed.stdout)}
    shown = []
    for requirement in wanted:
        name, version = _name(requirement), installed.get(_name(requirement), "none")
        shown.append(f"{name} {version}")
        bound = LOWER_BOUND.match(requirement)
        if resolution == "lowest" and (bound is None or _release(bound[2]) != _release(version)):
            sys.exit(f"dev: {requirement!r} is installed at {version}, not at its lower bound")
    print(f"dev: {resolution}: python {sys.version.split()[0]}, {', '.join(shown)}", flush=True)
    _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FOCUSED, *extra)


def main() -> None:
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command not in {"demo", "test", "test-lowest", "test-newest"}:
        sys.exit(__doc__)
    ensure_env()
    if command == "demo":
        os.execv(BIN / "jobhub", [str(BIN / "jobhub"), "demo", *extra])
    if command.startswith("test-"):
        test_at(command.removeprefix("test-"), extra)
    else:
        test(extra)


if __name__ == "__main__":
    main()
