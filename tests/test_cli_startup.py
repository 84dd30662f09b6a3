"""The `jobhub` command's face before any backend is involved: start-up stays light, usage
errors exit 2, the version, the schema, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobhub.commands import STATES, ExitCode, exit_code
from jobhub.errors import (
    AuthError,
    BackendUnavailable,
    ConfigError,
    InvalidPayload,
    InvalidRef,
    JobAlreadyFinished,
    JobNotFound,
    NotSupported,
    RateLimited,
    WaitTimeout,
)
from jobhub.model import Job, JobState
from tests.cli_helpers import JOBHUB, run_command

HEAVY = ("httpx", "pydantic", "rich", "pluggy", "jobhub.hub", "jobhub.plugins")


def jobhub(*args: str) -> subprocess.CompletedProcess[str]:
    """The command run in this process (tests/cli_helpers.py); what it imports is measured in
    a process of its own (`imported_by`)."""
    return run_command(args, env=os.environ, cwd=Path(JOBHUB).parent)


def imported_by(*args: str) -> set[str]:
    """Top-level and dotted names of every module the console script imports for `args`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", JOBHUB, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_help_imports_no_heavy_library() -> None:
    loaded = imported_by("--help")
    assert "jobhub.cli" in loaded
    heavy = sorted(n for n in loaded if n.split(".")[0] in HEAVY or n in HEAVY)
    assert heavy == []


def test_a_subcommand_help_imports_no_heavy_library() -> None:
    loaded = imported_by("list", "--help")
    assert not {n.split(".")[0] for n in loaded} & {"httpx", "pydantic", "rich", "pluggy"}


def test_a_command_loads_what_it_runs_and_not_httpxs_own_command_line(tmp_path: Path) -> None:
    config = tmp_path / "jobhub.toml"
    config.write_text('[backends.sieve]\napi_key = "k"\n', encoding="utf-8")
    config.chmod(0o600)
    loaded = {n.split(".")[0] for n in imported_by("--config", str(config), "backends", "--json")}
    assert {"httpx", "pydantic", "pluggy", "jobhub_sieve"} <= loaded
    assert not loaded & {"click", "pygments"}  # what `httpx`'s command line would bring


def test_help_lists_every_command() -> None:
    result = jobhub("--help")
    assert result.returncode == 0
    for command in ("get", "list", "wait", "watch", "cancel", "backends", "plugins", "schema"):
        assert f"    {command} " in result.stdout


def test_version() -> None:
    result = jobhub("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "jobhub 0.1.0"


def test_no_command_is_a_usage_error() -> None:
    result = jobhub()
    assert result.returncode == ExitCode.USAGE
    assert "usage: jobhub" in result.stderr


def test_a_malformed_option_value_is_a_usage_error() -> None:
    result = jobhub("list", "ci", "--limit", "many")
    assert result.returncode == ExitCode.USAGE
    assert "--limit: must be a whole number, not 'many'" in result.stderr


def test_a_fault_rate_above_1_is_a_usage_error() -> None:
    result = jobhub("emulator", "--faults", "2")
    assert result.returncode == ExitCode.USAGE
    assert "--faults: must be between 0 and 1, not 2" in result.stderr


def test_malformed_ref_is_a_usage_error_in_one_line() -> None:
    result = jobhub("get", "no-backend-prefix")
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("jobhub: job ref 'no-backend-prefix' is not of the form")


def test_missing_config_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = jobhub("--config", str(missing), "backends")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.strip() == f"jobhub: config file {missing} does not exist"


def test_options_are_accepted_after_the_command_too(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = jobhub("backends", "--config", str(missing))
    assert result.returncode == ExitCode.USAGE
    assert str(missing) in result.stderr


def test_schema_is_the_job_model_json_schema() -> None:
    result = jobhub("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == Job.model_json_schema()


def test_state_choices_match_the_model() -> None:
    assert list(STATES) == [state.value for state in JobState]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("bad"), ExitCode.USAGE),
        (InvalidRef("bad"), ExitCode.USAGE),
        (AuthError("401"), ExitCode.BACKEND),
        (JobNotFound("404"), ExitCode.BACKEND),
        (BackendUnavailable("503"), ExitCode.BACKEND),
        (RateLimited("429"), ExitCode.BACKEND),
        (InvalidPayload("junk"), ExitCode.BACKEND),
        (NotSupported("no cancel"), ExitCode.BACKEND),
        (JobAlreadyFinished("ended"), ExitCode.BACKEND),
        (WaitTimeout("late", pending={}), ExitCode.TIMEOUT),
        (KeyError("bug"), ExitCode.INTERNAL),
    ],
)
def test_each_error_has_its_exit_code(error: Exception, code: ExitCode) -> None:
    assert exit_code(error) == code
