"""The canonical model every backend is normalized into: Job, Task, JobState, JobRef, JobEvent."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jobhub.errors import InvalidRef

__all__ = ["Job", "JobEvent", "JobRef", "JobState", "Task"]


class JobState(enum.StrEnum):
    """Canonical state of a job or task. `succeeded`, `failed`, `cancelled` and `skipped` are
    terminal: once there, a job does not move again."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED})


class JobRef(NamedTuple):
    """A job's address across backends: `"<backend name>:<id>"`."""

    backend: str
    id: str

    @classmethod
    def parse(cls, ref: str | JobRef) -> JobRef:
        if isinstance(ref, JobRef):
            return ref
        if not isinstance(ref, str):
            raise InvalidRef(f"a job ref is a string '<backend>:<id>', not {type(ref).__name__}")
        backend, sep, job_id = ref.partition(":")
        if not sep or not backend or not job_id:
            raise InvalidRef(
                f"job ref {ref!r} is not of the form '<backend>:<id>' — "
                "prefix the id with the configured backend name, e.g. 'sieve:1234'"
            )
        return cls(backend, job_id)

    def __str__(self) -> str:
        return f"{self.backend}:{self.id}"


_MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="null")


class Task(BaseModel):
    """One step of a job (Pixxel task, prunner task). Sieve jobs have none."""

    model_config = _MODEL_CONFIG

    name: str
    id: str | None = None
    state: JobState
    status: str | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    depends_on: list[str] = Field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    raw: Any = None


class Job(BaseModel):
    """A job on any backend, normalized. `raw` holds the backend's payload untouched."""

    model_config = _MODEL_CONFIG

    ref: str
    backend: str
    type: str
    id: str
    workflow: str | None = None
    state: JobState
    status: str | None = None
    created_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    duration: float | None = None
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    error: str | None = None
    user: str | None = None
    tasks: list[Task] = Field(default_factory=list)
    inputs: Any = None
    outputs: Any = None
    children: list[str] = Field(default_factory=list)
    restarts: int = 0
    cost: float | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    raw: Any = None

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def job_ref(self) -> JobRef:
        return JobRef(self.backend, self.id)

    def task(self, name: str) -> Task | None:
        return next((t for t in self.tasks if t.name == name), None)

    def __repr_args__(self) -> Any:
        # Keep reprs short: raw payloads and task lists are often large.
        for key, value in super().__repr_args__():
            if key == "raw":
                yield key, "..."
            elif key == "tasks":
                yield key, f"<{len(value)} tasks>"
            else:
                yield key, value


EventKind = Literal["state", "task", "progress", "output"]


class JobEvent(BaseModel):
    """A change seen while watching a job.

    kind "state": the job's state changed (`old` is None when the job is first seen);
    "task": a task's state changed (`task` names it); "progress": progress changed;
    "output": new outputs appeared (`new` holds them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str
    kind: EventKind
    old: Any = None
    new: Any = None
    job: Job
    task: str | None = None
    at: datetime
