"""The `jobhub` console script against the real prunner server (tests/realprunner.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from jobhub import Hub
from jobhub.emulator import config_toml
from tests.cli_helpers import run_command
from tests.realprunner import RealPrunner


@pytest.fixture(scope="module")
def config(real_prunner: RealPrunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "jobhub.toml"
    path.write_text(config_toml({"ci": real_prunner.hub_settings()}), encoding="utf-8")
    path.chmod(0o600)
    return path


def jobhub(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBHUB_", "PRUNNER_"))}
    result = run_command(["--config", str(config), *args], env=env, cwd=config.parent)
    assert "real-prunner-test-secret" not in result.stdout + result.stderr
    return result


def schedule(server: RealPrunner, pipeline: str) -> str:
    with server.client() as client:
        response = client.post("/pipelines/schedule", json={"pipeline": pipeline})
    job_id: str = response.json()["jobId"]
    return f"ci:{job_id}"


def test_wait_exits_1_and_get_shows_the_failing_task(real_prunner, config) -> None:
    ref = schedule(real_prunner, "fail_fast")
    waited = jobhub(config, "wait", ref, "--timeout", "30")
    assert waited.returncode == 1, waited.stderr
    assert "task bad: exit status 3" in waited.stdout
    shown = jobhub(config, "get", ref, "--json")
    assert shown.returncode == 0, shown.stderr
    job: dict[str, Any] = json.loads(shown.stdout)
    assert (job["state"], job["error"]) == ("failed", "task bad: exit status 3")
    assert {t["name"]: t["exit_code"] for t in job["tasks"]} == {
        "setup": 0,
        "bad": 3,
        "slow": None,
        "after": None,
    }


def test_wait_exits_0_for_a_succeeded_job(real_prunner, config) -> None:
    result = jobhub(config, "wait", schedule(real_prunner, "allow_fail"), "--timeout", "30")
    assert result.returncode == 0, result.stderr


def ended(server: RealPrunner, ref: str) -> None:
    """Waited for in-process: starting the console script costs seconds on a loaded machine."""
    with Hub({"ci": server.hub_settings()}, env={}) as hub:
        hub.wait(ref, timeout=30)


def test_list_by_pipeline(real_prunner, config) -> None:
    ref = schedule(real_prunner, "fail_single")
    ended(real_prunner, ref)
    result = jobhub(config, "list", "ci", "--workflow", "fail_single", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert ref in {job["ref"] for job in listed}
    assert {job["workflow"] for job in listed} == {"fail_single"}


def test_cancel_a_running_job_then_a_finished_one(real_prunner, config) -> None:
    ref = schedule(real_prunner, "slow")
    cancelled = jobhub(config, "cancel", ref)
    assert cancelled.returncode == 0, cancelled.stderr
    ended(real_prunner, ref)
    finished = schedule(real_prunner, "fail_single")
    ended(real_prunner, finished)
    again = jobhub(config, "cancel", finished)
    assert again.returncode == 3 and "nothing to cancel" in again.stderr


def test_wrong_secret_exits_3_with_prunners_reason(real_prunner, tmp_path) -> None:
    wrong = tmp_path / "wrong.toml"
    settings = real_prunner.hub_settings(jwt_secret="not-the-servers-secret-at-all-00000")
    wrong.write_text(config_toml({"ci": settings}), encoding="utf-8")
    wrong.chmod(0o600)
    result = jobhub(wrong, "list", "ci")
    assert result.returncode == 3
    assert "401 token is unauthorized" in result.stderr
