"""The WES adapter runs the conformance suite an outside author would: through its plugin
module, with RunLogs recorded from the reference server and WES's own error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jobhub_wes
import pytest
import yaml
from jobhub_wes.adapter import WesAdapter

from jobhub.backend import Adapter
from jobhub.errors import AuthError, JobNotFound
from jobhub.model import JobState
from jobhub.testing import AdapterConformance, ErrorCase, Sample
from tests.conftest import CASSETTES


def recorded(name: str) -> Any:
    data = yaml.safe_load((CASSETTES / "wes" / f"{name}.yaml").read_text())
    return json.loads(data["interactions"][0]["response"]["body"]["string"])


class TestWesConformance(AdapterConformance):
    @pytest.fixture
    def adapter_class(self) -> type[Adapter]:
        return WesAdapter

    @pytest.fixture
    def plugin(self) -> object:
        return jobhub_wes

    @pytest.fixture
    def backend_settings(self, secret: str) -> dict[str, Any]:
        return {"url": "https://wes.example.org/ga4gh/wes/v1", "token": secret}

    @pytest.fixture
    def samples(self) -> list[Sample]:
        return [
            Sample(
                recorded("get_running"),
                {"state": "running", "status": "RUNNING", "outputs": {}, "tasks": []},
                label="reference server, running",
            ),
            Sample(
                recorded("get_complete"),
                {"state": "succeeded", "progress": 1.0, "labels": {"purpose": "succeeds"}},
                label="reference server, complete",
            ),
            Sample(
                recorded("get_executor_error"),
                {"state": "failed", "inputs": {"script": "echo oops >&2; exit 3"}},
                label="reference server, executor error",
            ),
            Sample(
                {
                    "run_id": "run-5c",
                    "state": "CANCELED",
                    "run_log": {
                        "start_time": "2025-03-01T09:00:00Z",
                        "end_time": "2025-03-01T09:10:00Z",
                    },
                    "task_logs": [
                        {"name": "index", "exit_code": 0, "end_time": "2025-03-01T09:02:00Z"},
                        {"name": "map", "start_time": "2025-03-01T09:02:05Z"},
                        {"name": "sort"},
                    ],
                },
                {
                    "state": "cancelled",
                    "finished_at": "2025-03-01T09:10:00Z",
                    "duration": 600.0,
                    "tasks.0.state": "succeeded",
                    "tasks.1.state": "cancelled",
                    "tasks.2.state": "cancelled",
                    "progress": 1.0,
                },
                label="WES 1.1, cancelled with task logs",
            ),
        ]

    @pytest.fixture
    def status_words(self) -> dict[str, JobState]:
        return {
            "UNKNOWN": JobState.UNKNOWN,
            "QUEUED": JobState.QUEUED,
            "INITIALIZING": JobState.QUEUED,
            "RUNNING": JobState.RUNNING,
            "PAUSED": JobState.RUNNING,
            "COMPLETE": JobState.SUCCEEDED,
            "EXECUTOR_ERROR": JobState.FAILED,
            "SYSTEM_ERROR": JobState.FAILED,
            "CANCELED": JobState.CANCELLED,
            "CANCELING": JobState.RUNNING,
            "PREEMPTED": JobState.FAILED,
        }

    @pytest.fixture
    def job_with_status(self) -> Callable[[str], Any]:
        return lambda word: {"run_id": "r1", "state": word}

    @pytest.fixture
    def list_body(self) -> Callable[[list[Any]], Any]:
        def body(payloads: list[Any]) -> Any:
            runs = [{"run_id": p["run_id"], "state": p["state"]} for p in payloads]
            return {"runs": runs, "next_page_token": ""}

        return body

    @pytest.fixture
    def cancel_body(self, job_id: str) -> Any:
        return {"run_id": job_id}

    @pytest.fixture
    def error_body(self) -> Callable[[int, str], Any]:
        return lambda status, message: {"msg": message, "status_code": status}

    @pytest.fixture
    def error_cases(self) -> list[ErrorCase]:
        # connexion-based servers (the reference one) answer RFC 7807 problem documents
        problem = {
            "type": "about:blank",
            "title": "Unauthorized",
            "detail": "No token",
            "status": 401,
        }
        return [
            ErrorCase(401, problem, AuthError, says="No token"),
            ErrorCase(404, {"msg": "run not found", "status_code": 404}, JobNotFound,
                      says="run not found", call="cancel"),
        ]  # fmt: skip
