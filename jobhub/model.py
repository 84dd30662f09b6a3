"""The canonical model every backend is normalized into: Job, Task, JobState, JobRef, JobEvent."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple, NoReturn, TypedDict, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticUndefined

from jobhub.errors import InvalidRef

__all__ = [
    "Job",
    "JobEvent",
    "JobFields",
    "JobRef",
    "JobState",
    "ModelCheckError",
    "Task",
    "TaskFields",
    "check_models",
]


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


_Model = TypeVar("_Model", bound=BaseModel)

_MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="null")


# -- building without validation ---------------------------------------------------------------
#
# Validating a Job costs more than reading its JSON: an adapter that has already checked every
# value it puts in builds Jobs and Tasks with `trusted(fields)`, which assembles the model as
# validation would, without validating. `fields` is a dict literal typed `JobFields` or
# `TaskFields`, so mypy checks each value's type (and, unlike keyword arguments, a literal costs
# little to pass). With checking on (`check_models()`, or JOBHUB_CHECK_MODELS=1 in the
# environment; the test suite turns it on), every trusted build is also validated and must come
# out the same, so a wrong adapter fails loudly in tests.


class ModelCheckError(AssertionError):
    """With model checking on: an adapter built a Job or Task the model refuses, or one that
    validation would have made differently. Always an adapter bug."""


_checking = os.environ.get("JOBHUB_CHECK_MODELS", "").strip().lower() not in ("", "0", "false")


def check_models(enabled: bool = True) -> bool:
    """Validate every Job and Task built by `trusted(...)` from now on (or stop doing so);
    returns the previous setting. Costs what validation costs; meant for tests and for
    debugging an adapter."""
    global _checking
    previous, _checking = _checking, enabled
    return previous


# `trusted(...)` assembles a model as pydantic's own `model_construct(_fields_set=...)` does
# for these models (no aliases, no extra values, no private attributes, no post-init): the field
# values become its `__dict__`, and its three bookkeeping slots are set to what
# `model_construct` sets. Each is written straight through its slot's descriptor, a fraction of
# the cost of `object.__setattr__`. Every field is set, so every trusted model of a class shares
# one set of them, as models given one `_fields_set` do: shared, that set refuses change, and
# its copies (`model_copy` takes one) are ordinary sets.


class _EveryField(set[str]):
    """The fields set on a trusted model: all of them, shared by every trusted model of its
    class, so unchangeable in place."""

    __slots__ = ()

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, memo: object) -> set[str]:
        return set(self)

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        return set, (list(self),)  # a pickled model comes back with a set of its own

    def _refuse(self, *args: object) -> NoReturn:
        raise TypeError(
            "the fields set of a Job or Task built by trusted() is shared by every such model; "
            "change a copy: set(model.model_fields_set)"
        )

    add = discard = remove = pop = clear = update = _refuse
    difference_update = intersection_update = symmetric_difference_update = _refuse
    __ior__ = __iand__ = __isub__ = __ixor__ = _refuse


_new = object.__new__
_set_dict = vars(BaseModel)["__dict__"].__set__
_set_fields_set = vars(BaseModel)["__pydantic_fields_set__"].__set__
_set_extra = vars(BaseModel)["__pydantic_extra__"].__set__
_set_private = vars(BaseModel)["__pydantic_private__"].__set__


def _check(cls: type[BaseModel], model: BaseModel) -> None:
    try:
        validated = cls.model_validate(dict(model.__dict__))
    except ValidationError as exc:
        raise ModelCheckError(
            f"{cls.__name__}.trusted() was given values the model refuses: {exc}"
        ) from None
    built, expected = model.__dict__, validated.__dict__
    differ = [
        name
        for name, value in expected.items()
        if name not in built or built[name] != value or type(built[name]) is not type(value)
    ]
    if differ:
        raise ModelCheckError(
            f"{cls.__name__}.trusted() built {differ} unlike validation: "
            f"{ {name: built.get(name) for name in differ}!r:.1000}, where validation gives "
            f"{ {name: expected[name] for name in differ}!r:.1000}"
        )
    if list(built) != list(expected):
        raise ModelCheckError(
            f"{cls.__name__}.trusted() was given the fields as {list(built)}; it takes every "
            f"field, in the model's order: {list(expected)}"
        )


class TaskFields(TypedDict):
    """Every field of a `Task`, in field order: what `Task.trusted` takes."""

    name: str
    id: str | None
    state: JobState
    status: str | None
    started_at: datetime | None
    finished_at: datetime | None
    depends_on: list[str]
    exit_code: int | None
    error: str | None
    progress: float | None
    raw: Any


class JobFields(TypedDict):
    """Every field of a `Job`, in field order: what `Job.trusted` takes."""

    ref: str
    backend: str
    type: str
    id: str
    workflow: str | None
    state: JobState
    status: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    progress: float | None
    error: str | None
    user: str | None
    tasks: list[Task]
    inputs: Any
    outputs: Any
    children: list[str]
    restarts: int
    cost: float | None
    labels: dict[str, str]
    raw: Any


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

    @classmethod
    def trusted(cls, fields: TaskFields) -> Task:
        """A Task from values the caller has checked, without validating them (see
        `check_models`): every field, in field order, each already what the field holds
        (`str`, a `JobState`, aware UTC datetimes, a `float` progress within 0–1). `fields`
        becomes the Task's own `__dict__`: pass a new dict (a literal), never one kept."""
        # The same steps as `Job.trusted` and `_trusted_all`, written out in each: a call less
        # per model.
        task = _new(cls)
        _set_dict(task, fields)
        _set_fields_set(task, _TASK_FIELDS)
        _set_extra(task, None)
        _set_private(task, None)
        if _checking:
            _check(cls, task)
        return task

    @classmethod
    def shared_fields(cls, fields: Mapping[str, Any] | None = None) -> TaskFields:
        """Every field of a Task in a dict that shares its keys with every other made so, as
        `Job.shared_fields` does (336 bytes against 472)."""
        shared: TaskFields = _shared_fields(cls, fields or {})
        return shared

    @classmethod
    def trusted_all(cls, every_fields: Iterable[TaskFields]) -> list[Task]:
        """`trusted` of each of `every_fields`, in order, in one call: a job's tasks. Each
        Task costs about a fifth less than a call of `trusted` for it."""
        return _trusted_all(cls, every_fields, _TASK_FIELDS)


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

    @classmethod
    def trusted(cls, fields: JobFields) -> Job:
        """A Job from values the caller has checked, without validating them (see
        `check_models`): what an adapter's `normalize` returns. `fields` holds every field, in
        field order, each already what the field holds (`str`, a `JobState`, aware UTC
        datetimes, `float` figures, `Task`s); `raw` is the payload itself. `fields` becomes the
        Job's own `__dict__`: pass a new dict (a literal), never one kept."""
        job = _new(cls)
        _set_dict(job, fields)
        _set_fields_set(job, _JOB_FIELDS)
        _set_extra(job, None)
        _set_private(job, None)
        if _checking:
            _check(cls, job)
        return job

    @classmethod
    def shared_fields(cls, fields: Mapping[str, Any] | None = None) -> JobFields:
        """Every field of a Job in a dict that shares its keys with every other made so and
        with its copies: 336 bytes where a dict of 22 keys of its own takes 840, and a copy
        with the values that differ stored costs less time than a dict display. Each field
        holds what `fields` gives, else its default where that is not a list or dict
        (`restarts`: 0), else None. To build many Jobs, make one of these once; for each Job,
        copy it, store the values that differ and every list and dict anew, and pass the copy
        to `trusted` or `trusted_all`. A copy not given its own list, dict or required value
        then fails `check_models` rather than sharing one with every other."""
        shared: JobFields = _shared_fields(cls, fields or {})
        return shared

    @classmethod
    def trusted_all(cls, every_fields: Iterable[JobFields]) -> list[Job]:
        """`trusted` of each of `every_fields`, in order, in one call: a listing's jobs."""
        return _trusted_all(cls, every_fields, _JOB_FIELDS)

    def __repr__(self) -> str:
        """`<Job prunner:52a5cb79… running 3/6 tasks>`: the ref (a long id cut), the state and
        the tasks ended of all; the payload, which may be large, never."""

        def shown(text: str) -> str:  # control characters as escapes, as in any repr
            return text.encode("unicode_escape").decode("ascii")

        ref = (
            shown(self.ref)
            if len(self.id) <= _REPR_ID
            else shown(self.ref[: len(self.backend) + 9]) + "…"
        )
        parts = [ref, self.state.value]
        if self.tasks:
            ended = sum(task.state.terminal for task in self.tasks)
            parts.append(f"{ended}/{len(self.tasks)} tasks")
        return f"<Job {' '.join(parts)}>"


def _shared_fields(cls: type[BaseModel], fields: Mapping[str, Any]) -> Any:
    unknown = set(fields) - set(cls.model_fields)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    # A model's `__dict__`, first read, is a dict whose keys are shared by the class (a split
    # table): filled in field order, it and its copies keep them shared.
    # (`update` would take the keys of `fields` instead.)
    shared = _new(cls).__dict__
    for name, field in cls.model_fields.items():
        if name in fields:
            shared[name] = fields[name]
        else:
            default = field.default
            shared[name] = None if default is PydanticUndefined or default is None else default
    return shared


def _trusted_all(
    cls: type[_Model], every_fields: Iterable[Any], every_field: _EveryField
) -> list[_Model]:
    """The steps of `trusted`, for many models of one class."""
    built: list[_Model] = []
    append = built.append
    new, set_dict, set_fields_set, set_extra, set_private = (
        _new,
        _set_dict,
        _set_fields_set,
        _set_extra,
        _set_private,
    )
    for fields in every_fields:
        model = new(cls)
        set_dict(model, fields)
        set_fields_set(model, every_field)
        set_extra(model, None)
        set_private(model, None)
        append(model)
    if _checking:
        for model in built:
            _check(cls, model)
    return built


_REPR_ID = 16  # longer ids are cut in a repr (UUIDs, Pixxel's workflow/job pairs)
_TASK_FIELDS = _EveryField(Task.model_fields)
_JOB_FIELDS = _EveryField(Job.model_fields)

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
