"""prunner's answers as the emulator writes them: Go's JSON encoding and plain-text errors,
jobs in `pipelineJobResult` and tasks in `taskResult` shape, the bearer token as jwtauth
finds it, synthetic task output."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from jobhub.emulator.formats import rfc3339_seconds
from jobhub_prunner.emulated_runs import JobPlan, TaskRun, Timeline

__all__ = [
    "EncodedJobs",
    "encoded_answer",
    "go_json",
    "job_answer",
    "json_answer",
    "plain_answer",
    "task_json",
    "task_logs",
    "token_of",
]


def go_json(data: Any) -> str:
    """JSON as Go's encoder writes it: compact, UTF-8, `<>&` escaped."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_answer(data: Any, status: int = 200) -> Response:
    """`data` as Go's encoder answers it (`go_json`, ending in a newline)."""
    return encoded_answer(go_json(data), status)


def encoded_answer(text: str, status: int = 200) -> Response:
    """A JSON answer already encoded by `go_json`."""
    return Response(text + "\n", status_code=status, media_type="application/json")


def plain_answer(status: int, text: str) -> Response:
    """Go's ``http.Error``: plain text with a newline."""
    return PlainTextResponse(
        text + "\n", status_code=status, headers={"X-Content-Type-Options": "nosniff"}
    )


def token_of(request: Request) -> str:
    header = request.headers.get("authorization", "").strip()
    if len(header) > 7 and header[:7].upper() == "BEARER ":
        return header[7:].strip()
    return request.cookies.get("jwt", "")


@dataclass(slots=True)
class _Encoded:
    line: Timeline  # the timeline the text was read from
    moments: tuple[float, ...]  # `line.moments()`
    passed: int  # how many of them had passed when it was encoded
    text: str


class EncodedJobs:
    """Each job's answer as last encoded (`go_json` of `job_answer`). Until the next moment of
    its timeline a job reads the same, so a refresh of thousands of jobs encodes only those
    that moved."""

    def __init__(self) -> None:
        self._known: dict[str, _Encoded] = {}

    def text(
        self, plan: JobPlan, line: Timeline, now: float, at: Callable[[float], datetime]
    ) -> str:
        known = self._known.get(plan.id)
        if known is None or known.line is not line:
            known = self._known[plan.id] = _Encoded(line, line.moments(), -1, "")
        passed = bisect.bisect_right(known.moments, now)
        if known.passed != passed:
            known.passed, known.text = passed, go_json(job_answer(plan, line, now, at))
        return known.text

    def forget(self, job_id: str) -> None:
        self._known.pop(job_id, None)


def job_answer(
    plan: JobPlan, line: Timeline, now: float, at: Callable[[float], datetime]
) -> dict[str, Any]:
    """The job as prunner's ``pipelineJobResult`` at emulated time ``now``, its timeline
    ``line``; ``at`` turns an emulated time into a datetime."""
    started = line.start is not None and now >= line.start
    ended = line.ended(now)
    runs = list(line.tasks)
    if line.on_error is not None and line.tasks_end is not None and now >= line.tasks_end:
        runs.append(line.on_error)
    tasks = [task_json(run, now if started else None, at) for run in runs]
    job: dict[str, Any] = {
        "id": plan.id,
        "pipeline": plan.pipeline.name,
        "tasks": tasks,
        "completed": ended and started,
        "canceled": ended and line.canceled,
        "errored": any(task["errored"] for task in tasks),
        "created": rfc3339_seconds(at(plan.created)),
        "start": rfc3339_seconds(at(line.start)) if started and line.start is not None else None,
        "end": rfc3339_seconds(at(line.end)) if ended and line.end is not None else None,
    }
    if ended and line.last_error:
        job["lastError"] = line.last_error
    if plan.variables:
        job["variables"] = plan.variables
    job["user"] = plan.user
    return job


def task_json(run: TaskRun, now: float | None, at: Callable[[float], datetime]) -> dict[str, Any]:
    """A task as prunner's ``taskResult`` at ``now`` (None: its job has not started): a task
    that fails or is cancelled keeps ``end`` null; a done one reads exit code -1 (its 0 is set
    after the change is published); one that never ran keeps Go's zero values."""
    task = run.task
    answer: dict[str, Any] = {"name": task.name}
    if task.depends_on:
        answer["dependsOn"] = list(task.depends_on)
    status, start, end, exit_code, error = "waiting", None, None, 0, None
    if now is not None and run.start is not None and now >= run.start:
        assert run.end is not None
        start = run.start
        if now < run.end:
            status, exit_code = "running", -1
        elif run.outcome == "done":
            status, end, exit_code = "done", run.end, task.exit_code or -1
        elif run.outcome == "error":
            status, exit_code, error = "error", task.exit_code, f"exit status {task.exit_code}"
        else:
            status, exit_code = "canceled", -1
    answer.update(
        {
            "status": status,
            "start": None if start is None else rfc3339_seconds(at(start)),
            "end": None if end is None else rfc3339_seconds(at(end)),
            "skipped": False,
            "exitCode": exit_code,
            "errored": status == "error",
        }
    )
    if error is not None:
        answer["error"] = error
    return answer


def task_logs(run: TaskRun, now: float) -> tuple[str, str]:
    """What a task printed so far."""
    if run.start is None or now < run.start:
        return "", ""
    name = run.task.name
    stdout, stderr = f"+ make {name}\n{name}: working\n", ""
    assert run.end is not None
    if now >= run.end:
        if run.outcome == "done":
            stdout += f"{name}: ok\n"
        elif run.outcome == "error":
            stderr = f"{name}: exit status {run.task.exit_code}\n"
        else:
            stderr = "signal: interrupt\n"
    return stdout, stderr
