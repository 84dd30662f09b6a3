"""docs/plugins.md's tutorial folder installs as the page says: its `pyproject.toml`, its
module and its test file in one folder, `pip install -e .`, and jobhub finds the plugin.

Fast by design: a new virtual environment that sees this one's packages (jobhub, pip,
setuptools) through a .pth file, and `pip install -e . --no-deps --no-build-isolation`, so no
index is asked and nothing is downloaded; what is checked is that the page's files build and
register the `acme` type."""

from __future__ import annotations

import site
import subprocess
import venv
from pathlib import Path

from tests.test_conformance_tutorial import block

# Nothing fetched: the build uses this environment's setuptools, jobhub is already here.
OFFLINE = ("--no-deps", "--no-build-isolation", "--no-index", "--quiet")


def test_the_tutorial_folder_installs_with_pip_install_e(tmp_path: Path) -> None:
    folder = tmp_path / "jobhub-acme"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(block("entry-point", "toml") + "\n")
    (folder / "jobhub_acme.py").write_text(block("file: jobhub_acme.py", "python") + "\n")
    (folder / "test_acme.py").write_text(block("file: test_acme.py", "python") + "\n")

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    # addsitedir, not a bare path: this environment's own .pth files (jobhub's editable
    # install among them) must be read too.
    outer = "".join(f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages())
    (Path(purelib) / "outer.pth").write_text(outer)

    install = subprocess.run(
        [python, "-m", "pip", "install", "-e", ".", *OFFLINE],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    # Run from elsewhere: the module is found through the editable install, not the cwd.
    listed = subprocess.run(
        [
            python,
            "-c",
            "from jobhub.cli import main; raise SystemExit(main(['plugins', '-o', 'json']))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "JOBHUB_LOAD_PLUGINS": "acme"},
    )
    assert listed.returncode == 0, listed.stderr
    assert '"adapters":["acme"]' in listed.stdout.replace(" ", "")
    assert '"error":null' in listed.stdout.replace(" ", "")
