"""`jobhub_wes.reference`: finding `wes-server`, and the errors that say what is missing when
the reference server cannot run (its real runs are in test_wes_integration.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jobhub_wes.reference import ReferenceServer, find_wes_server

from jobhub.errors import ConfigError


def executable(path: Path, script: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(0o755)
    return path


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No wes-server next to Python, on PATH or in the environment."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JOBHUB_WES_SERVER", raising=False)
    return empty


def test_the_environment_variable_names_the_server(tmp_path: Path, nowhere: Path) -> None:
    server = executable(tmp_path / "custom" / "wes-server")
    assert find_wes_server({"JOBHUB_WES_SERVER": str(server)}) == server


def test_the_server_next_to_python_is_found(nowhere: Path) -> None:
    server = executable(nowhere / "wes-server")
    assert find_wes_server({}) == server


def test_without_a_server_there_is_none(nowhere: Path) -> None:
    assert find_wes_server({"PATH": str(nowhere)}) is None


def test_a_missing_server_says_how_to_install_it(tmp_path: Path, nowhere: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found — install jobhub's test extra"):
        ReferenceServer(tmp_path / "work").start()


def test_a_server_without_cwltool_says_so(tmp_path: Path) -> None:
    server = executable(tmp_path / "bin" / "wes-server")
    with pytest.raises(ConfigError, match=r"no cwltool beside it"):
        ReferenceServer(tmp_path / "work", executable=server).start()


def test_a_server_that_stops_at_once_shows_its_log(tmp_path: Path) -> None:
    server = executable(tmp_path / "bin" / "wes-server", "#!/bin/sh\necho 'no backend'\nexit 1\n")
    executable(tmp_path / "bin" / "cwltool")
    with pytest.raises(ConfigError, match=r"did not start .* its log ends:\nno backend"):
        ReferenceServer(tmp_path / "work", executable=server, start_timeout=5).start()


def test_submitting_before_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not running: start\(\) it first"):
        ReferenceServer(tmp_path).submit("echo hi")
