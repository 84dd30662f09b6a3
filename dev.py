#!/usr/bin/env python3
"""Set up a virtual environment and run jobhub's demo or its test suite.

    python3 dev.py demo    # the embedded emulator, live
    python3 dev.py test    # lint, types and the whole test suite (what CI runs)

Needs only python3 (3.11+) with pip and venv. The environment lives in `.venv/` and is
reinstalled only when `pyproject.toml` changes.
"""

from __future__ import annotations

import hashlib
import os
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


def test(extra: list[str]) -> None:
    _run(BIN / "ruff", "check", "jobhub", "plugins", "tests", "benchmarks", "dev.py")
    _run(BIN / "ruff", "format", "--check", "jobhub", "plugins", "tests", "benchmarks", "dev.py")
    _run(BIN / "mypy", "jobhub", "plugins")
    # pytest exits 5 when it collects no test: that is a failure here, never hidden.
    _run(BIN / "python", "-m", "pytest", *extra)


def main() -> None:
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command not in {"demo", "test"}:
        sys.exit(__doc__)
    ensure_env()
    if command == "demo":
        os.execv(BIN / "jobhub", [str(BIN / "jobhub"), "demo", *extra])
    test(extra)


if __name__ == "__main__":
    main()
