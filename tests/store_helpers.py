"""Jobs and events made up for store and serve tests, without a backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobhub.model import Job, JobEvent, JobState
from jobhub.waiting import job_events

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def make_job(
    n: int,
    *,
    backend: str = "ci",
    state: str = "running",
    workflow: str | None = "build",
    error: str | None = None,
    created: datetime | None = None,
    finished: datetime | None = None,
    tasks: list[dict[str, Any]] | None = None,
) -> Job:
    created = created if created is not None else EPOCH + timedelta(minutes=n)
    data: dict[str, Any] = {
        "ref": f"{backend}:job-{n:06d}",
        "backend": backend,
        "type": "prunner",
        "id": f"job-{n:06d}",
        "workflow": workflow,
        "state": state,
        "created_at": created,
        "finished_at": finished,
        "duration": (finished - created).total_seconds() if finished else None,
        "error": error,
        "tasks": tasks or [],
        "raw": {"n": n, "payload": "<b>as the backend said it</b>"},
    }
    return Job.model_validate(data)


def change(old: Job | None, new: Job, *, at: datetime | None = None) -> tuple[Job, list[JobEvent]]:
    return new, job_events(old, new, at=at or EPOCH)


def ended(job: Job, state: str = "succeeded", *, after: float = 60.0) -> Job:
    assert job.created_at is not None
    finished = job.created_at + timedelta(seconds=after)
    return job.model_copy(
        update={"state": JobState(state), "finished_at": finished, "duration": after}
    )
