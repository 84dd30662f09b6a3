"""Commands run in the test process (tests/cli_helpers.py) see the environment they are given
and leave the process as they found it: the next test cannot tell one ran."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import pytest

from jobhub.plugins import get_registry
from tests.cli_helpers import run_command


def test_a_command_sees_the_environment_and_directory_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "jobhub.toml").write_text('[backends.here]\ntype = "sieve"\napi_key = "k"\n')
    (tmp_path / "jobhub.toml").chmod(0o600)
    env = {"HOME": str(tmp_path), "JOBHUB_LOAD_PLUGINS": "sieve", "TZ": "JST-9"}
    plugins = run_command(["plugins", "--json"], env=env, cwd=tmp_path)
    assert plugins.returncode == 0, plugins.stderr
    assert [info["name"] for info in json.loads(plugins.stdout)] == ["sieve"]
    backends = run_command(["backends", "--json"], env=env, cwd=tmp_path)  # ./jobhub.toml
    assert [row["name"] for row in json.loads(backends.stdout)] == ["here"]


def test_usage_errors_help_and_version_give_the_exit_code_and_text(tmp_path: Path) -> None:
    usage = run_command(["get"], env={}, cwd=tmp_path)
    assert (usage.returncode, usage.stdout) == (2, "")
    assert "the following arguments are required: REF" in usage.stderr
    version = run_command(["--version"], env={}, cwd=tmp_path)
    assert (version.returncode, version.stdout.split()[0]) == (0, "jobhub")


def test_a_command_leaves_the_process_as_it_found_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loggers = [logging.getLogger(name) for name in ("jobhub", "httpx")]
    before = [(list(log.handlers), log.level, log.propagate) for log in loggers]
    environ, cwd, zone = dict(os.environ), os.getcwd(), time.tzname
    streams, shown = (sys.stdin, sys.stdout, sys.stderr), warnings.showwarning
    ctrl_c = signal.getsignal(signal.SIGINT)
    env = {"HOME": str(tmp_path), "JOBHUB_LOAD_PLUGINS": "sieve", "TZ": "JST-9"}
    result = run_command(["--debug", "plugins"], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(list(log.handlers), log.level, log.propagate) for log in loggers] == before
    assert (dict(os.environ), os.getcwd(), time.tzname) == (environ, cwd, zone)
    assert (sys.stdin, sys.stdout, sys.stderr) == streams
    assert (warnings.showwarning, signal.getsignal(signal.SIGINT)) == (shown, ctrl_c)
    assert {"sieve", "pixxel", "prunner", "wes"} <= set(get_registry().plugins)
    logging.getLogger("jobhub").warning("still caught")
    assert "still caught" in caplog.messages
