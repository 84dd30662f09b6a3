"""prunner's job JSON → the canonical `Job`: the state table and the field mapping, pure.

prunner has no job status word; a job's state follows from its flags (Go `PipelineJob`):

    ended (completed or canceled) and errored     → failed     (errored wins over canceled)
    ended and canceled                            → cancelled  (also cancelled before start)
    ended (completed)                             → succeeded
    not ended, start null                         → queued     (on the wait list)
    not ended, started                            → running    (even once a task errored:
                                                                 failure handlers or other
                                                                 tasks may still run)

"Ended" is prunner's own test (`isRunning` is `start != nil && !completed && !canceled`).
Task words map through `TASK_STATES`; a task still `waiting` inside an ended job is
`cancelled`, because prunner's fail-fast and cancel leave never-run tasks `waiting`.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from jobhub.backend import StateTable, parse_time
from jobhub.model import Job, JobState, Task
from jobhub_prunner.wire import WireJob, WireTask

__all__ = ["TASK_STATES", "job_ended", "job_state", "task_state", "to_job"]

TYPE = "prunner"

TASK_STATES = StateTable(
    TYPE,
    {
        "waiting": JobState.PENDING,
        "running": JobState.RUNNING,
        "done": JobState.SUCCEEDED,
        "error": JobState.FAILED,
        "canceled": JobState.CANCELLED,
        "skipped": JobState.SKIPPED,
    },
)

# Go's exec.Cmd reports -1 until a process has exited (and when a signal killed it): no code.
NO_EXIT_CODE = -1


def job_ended(wire: WireJob) -> bool:
    """prunner's own test: a job is over once it completed or was cancelled."""
    return bool(wire.completed or wire.canceled)


def job_state(wire: WireJob, started: bool) -> JobState:
    """The canonical state of a job from prunner's flags (see the module's table)."""
    if job_ended(wire):
        if wire.errored:
            return JobState.FAILED
        if wire.canceled:
            return JobState.CANCELLED
        return JobState.SUCCEEDED
    return JobState.RUNNING if started else JobState.QUEUED


def task_state(status: str | None, *, job_ended: bool) -> JobState:
    """A task's canonical state; a never-started task of an ended job is cancelled."""
    state = TASK_STATES(status)
    if job_ended and state is JobState.PENDING:
        return JobState.CANCELLED
    return state


def _time(value: str | None, field: str) -> datetime | None:
    try:
        return _parse_time(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{field} {value!r} is not an RFC 3339 time") from None


# Every refresh of `/pipelines/jobs` repeats the times of every job the server holds; datetimes
# are immutable, so each distinct string is parsed once.
_parse_time = lru_cache(maxsize=8192)(parse_time)


def _text(value: str | None) -> str | None:
    """Go sends "" for unset strings: that is no value."""
    return value or None


def _task(wire: WireTask, raw: Any, *, job_ended: bool) -> Task:
    exit_code = wire.exit_code
    return Task(
        name=wire.name,
        state=task_state(wire.status, job_ended=job_ended),
        status=wire.status,
        started_at=_time(wire.start, "a task's start"),
        finished_at=_time(wire.end, "a task's end"),
        depends_on=wire.depends_on or [],
        exit_code=None if exit_code == NO_EXIT_CODE else exit_code,
        error=_text(wire.error),
        raw=raw,
    )


def _progress(state: JobState, tasks: list[Task]) -> float | None:
    if state is JobState.SUCCEEDED:
        return 1.0
    if not tasks:
        return None
    return sum(1 for task in tasks if task.state.terminal) / len(tasks)


def to_job(payload: Any, *, backend: str) -> Job:
    """One prunner job payload → `Job`. Raises `ValueError` (pydantic's `ValidationError`
    included) when the payload cannot be read; the adapter turns that into `InvalidPayload`."""
    if not isinstance(payload, dict):
        raise ValueError(f"a job is a JSON object, not {type(payload).__name__}")
    wire = WireJob.model_validate(payload)
    if not wire.id:
        raise ValueError("the job has no id")
    started_at = _time(wire.start, "start")
    finished_at = _time(wire.end, "end")
    state = job_state(wire, started_at is not None)
    ended = job_ended(wire)
    raw_tasks = payload.get("tasks") or ()
    tasks = [
        _task(task, raw, job_ended=ended)
        for task, raw in zip(wire.tasks or (), raw_tasks, strict=True)
    ]
    duration = None
    if started_at is not None and finished_at is not None and finished_at >= started_at:
        duration = (finished_at - started_at).total_seconds()
    error = _text(wire.last_error) or next((t.error for t in tasks if t.error), None)
    return Job(
        ref=f"{backend}:{wire.id}",
        backend=backend,
        type=TYPE,
        id=wire.id,
        workflow=_text(wire.pipeline),
        state=state,
        status=None,
        created_at=_time(wire.created, "created"),
        started_at=started_at,
        finished_at=finished_at,
        duration=duration,
        progress=_progress(state, tasks),
        error=error,
        user=_text(wire.user),
        tasks=tasks,
        inputs=wire.variables if wire.variables is not None else {},
        raw=payload,
    )
