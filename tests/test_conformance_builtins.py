"""The three built-in adapters run the conformance suite, through their plugin modules, with
the payloads of their cassettes (the vendors' documented answers), and end to end against
their emulators."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jobhub_pixxel
import jobhub_prunner
import jobhub_sieve
import pytest
import yaml
from jobhub_pixxel.adapter import PixxelAdapter
from jobhub_prunner.adapter import PrunnerAdapter
from jobhub_sieve.adapter import SieveAdapter

from jobhub.backend import Adapter
from jobhub.errors import AuthError, InvalidRef, JobAlreadyFinished
from jobhub.model import JobState
from jobhub.testing import AdapterConformance, EmulatorConformance, ErrorCase, Sample
from tests.conftest import CASSETTES


def recorded(backend: str, cassette: str, index: int = 0) -> Any:
    """The JSON body of answer `index` in cassettes/<backend>/<cassette>.yaml."""
    data = yaml.safe_load((CASSETTES / backend / f"{cassette}.yaml").read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


class TestSieveConformance(AdapterConformance, EmulatorConformance):
    @pytest.fixture
    def adapter_class(self) -> type[Adapter]:
        return SieveAdapter

    @pytest.fixture
    def plugin(self) -> object:
        return jobhub_sieve

    @pytest.fixture
    def backend_settings(self, secret: str) -> dict[str, Any]:
        return {"api_key": secret}

    @pytest.fixture
    def samples(self) -> list[Sample]:
        listed = recorded("sieve", "list_jobs_paged")["data"]
        return [
            Sample(
                recorded("sieve", "get_job"),
                {"state": "running", "status": "processing", "workflow": "sieve/retalker"},
                label="get_job.yaml",
            ),
            Sample(recorded("sieve", "await_job"), {"state": "succeeded", "progress": 1.0}),
            Sample(listed[0], {"id": "34196fe0-6fc9-4cc7-a716-48861ef15c86"}, label="docs/001"),
            Sample(listed[1], {"state": "failed"}, label="list, failed job"),
        ]

    @pytest.fixture
    def status_words(self) -> dict[str, JobState]:
        return {
            "queued": JobState.QUEUED,
            "processing": JobState.RUNNING,
            "started": JobState.RUNNING,
            "running": JobState.RUNNING,
            "finished": JobState.SUCCEEDED,
            "error": JobState.FAILED,
            "cancelled": JobState.CANCELLED,
            "canceled": JobState.CANCELLED,
        }

    @pytest.fixture
    def job_with_status(self) -> Callable[[str], Any]:
        return lambda word: {"id": "43d7add5-61cf-44ad-aac8-c5d14c642bb4", "status": word}

    @pytest.fixture
    def list_body(self) -> Callable[[list[Any]], Any]:
        return lambda payloads: {"data": payloads, "next_offset": -1}

    @pytest.fixture
    def cancel_body(self) -> Any:
        return {"message": "Job cancelled."}

    @pytest.fixture
    def error_cases(self) -> list[ErrorCase]:
        ended = {"detail": "Job is not processing."}
        return [ErrorCase(400, ended, JobAlreadyFinished, says="not processing", call="cancel")]


PIXXEL_WORKFLOW = "8f14e45f-ceea-4671-a6c5-0d5cb3a1f2b7"


class TestPixxelConformance(AdapterConformance, EmulatorConformance):
    @pytest.fixture
    def adapter_class(self) -> type[Adapter]:
        return PixxelAdapter

    @pytest.fixture
    def plugin(self) -> object:
        return jobhub_pixxel

    @pytest.fixture
    def backend_settings(self, secret: str) -> dict[str, Any]:
        return {"api_key": secret}

    @pytest.fixture
    def samples(self) -> list[Sample]:
        return [
            Sample(recorded("pixxel", "get_running"), {"state": "running"}, label="running"),
            Sample(recorded("pixxel", "get_completed"), {"state": "succeeded"}, label="done"),
            Sample(recorded("pixxel", "get_failed"), {"state": "failed"}, label="failed"),
        ]

    @pytest.fixture
    def status_words(self) -> dict[str, JobState]:
        words = ("created", "pending", "queued", "running", "inprogress", "in_progress")
        ended = ("completed", "success", "succeeded", "done", "failed", "error")
        stopped = ("cancelled", "canceled", "stopped", "aborted")
        return {
            **dict.fromkeys(words[:2], JobState.PENDING),
            "queued": JobState.QUEUED,
            **dict.fromkeys((*words[3:], "started"), JobState.RUNNING),
            **dict.fromkeys(ended[:4], JobState.SUCCEEDED),
            **dict.fromkeys(ended[4:], JobState.FAILED),
            **dict.fromkeys(stopped, JobState.CANCELLED),
        }

    @pytest.fixture
    def job_with_status(self) -> Callable[[str], Any]:
        return lambda word: {"id": "j1", "workflow_id": PIXXEL_WORKFLOW, "status": word}

    @pytest.fixture
    def list_options(self) -> dict[str, Any]:
        return {"workflow": PIXXEL_WORKFLOW}

    @pytest.fixture
    def list_body(self) -> Callable[[list[Any]], Any]:
        return lambda payloads: {"jobs": payloads}

    @pytest.fixture
    def id_template(self) -> Callable[[str], str]:
        return lambda part: f"{PIXXEL_WORKFLOW}/{part}"

    @pytest.fixture
    def error_body(self) -> Callable[[int, str], Any]:
        return lambda status, message: {"error": {"code": "E", "message": message}}


PRUNNER_JOB = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"


class TestPrunnerConformance(AdapterConformance, EmulatorConformance):
    @pytest.fixture
    def adapter_class(self) -> type[Adapter]:
        return PrunnerAdapter

    @pytest.fixture
    def plugin(self) -> object:
        return jobhub_prunner

    @pytest.fixture
    def backend_settings(self, secret: str) -> dict[str, Any]:
        return {"url": "http://build:9009", "jwt_secret": secret}

    @pytest.fixture
    def samples(self) -> list[Sample]:
        return [
            Sample(
                recorded("prunner", "get", 1),
                {"state": "running", "workflow": "release"},
                label="running",
            ),
            Sample(recorded("prunner", "get", 0), {"state": "queued"}, label="queued"),
            Sample(recorded("prunner", "get", 3), {"state": "failed"}, label="failed"),
            Sample(recorded("prunner", "get", 4), {"state": "cancelled"}, label="cancelled"),
        ]

    @pytest.fixture
    def status_words(self) -> dict[str, JobState]:
        # prunner's words are its tasks' statuses (a job has flags, not a word)
        return {
            "waiting": JobState.PENDING,
            "running": JobState.RUNNING,
            "skipped": JobState.SKIPPED,
            "done": JobState.SUCCEEDED,
            "error": JobState.FAILED,
            "canceled": JobState.CANCELLED,
        }

    @pytest.fixture
    def job_with_status(self) -> Callable[[str], Any]:
        def job(word: str) -> Any:
            task = {"name": "build", "status": word, "start": None, "end": None}
            flags = {"completed": False, "canceled": False, "errored": False}
            started = "2025-08-15T12:00:01Z"
            return {"id": PRUNNER_JOB, "pipeline": "release", "start": started, **flags,
                    "tasks": [task]}  # fmt: skip

        return job

    @pytest.fixture
    def state_of(self) -> Callable[[Any], tuple[JobState, str | None]]:
        return lambda job: (job.tasks[0].state, job.tasks[0].status)

    @pytest.fixture
    def list_body(self) -> Callable[[list[Any]], Any]:
        return lambda payloads: {"pipelines": [], "jobs": payloads}

    @pytest.fixture
    def cancel_body(self) -> Any:
        return True

    @pytest.fixture
    def error_body(self) -> Callable[[int, str], Any]:
        # prunner's JWT middleware answers 401 in plain text; its handlers {"error": ...}
        return lambda status, message: message if status == 401 else {"error": message}

    @pytest.fixture
    def error_cases(self) -> list[ErrorCase]:
        return [
            ErrorCase(500, {"error": "Error canceling job"}, JobAlreadyFinished, call="cancel"),
            ErrorCase(400, {"error": "Invalid job id"}, InvalidRef, says="Invalid job id"),
            ErrorCase(401, "token is expired", AuthError, says="token is expired"),
        ]
