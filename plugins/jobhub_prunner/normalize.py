"""prunner's job JSON → the canonical `Job`: the state table and the field mapping, pure.

prunner has no job status word; a job's state follows from its flags (Go `PipelineJob`):

    ended (completed or canceled) and errored     → failed     (errored wins over canceled)
    canceled, never started, with a `lastError`    → failed     (it could not start: a reserved
      that is not a cancellation                                 variable name, say)
    ended and canceled                            → cancelled  (also cancelled before start, and
                                                                 jobs a restart found running)
    ended (completed)                             → succeeded
    not ended, start null                         → queued     (on the wait list)
    not ended, started                            → running    (even once a task errored:
                                                                 failure handlers or other
                                                                 tasks may still run)

"Ended" is prunner's own test (`isRunning` is `start != nil && !completed && !canceled`).
Task words map through `TASK_STATES`; a task still `waiting` inside an ended job is
`cancelled`, because prunner's fail-fast and cancel leave never-run tasks `waiting`.

What prunner's fields mean, read against the server (b692da9):

- `error`: the failing tasks, each with its own error (`task test: exit status 3`). prunner's
  `lastError` reads `context canceled` whenever a failure cancelled the tasks still running
  (fail-fast) and also when a user cancelled the job: it is never the error of a job whose task
  failed, and a job cancelled by its user has no error. Any other `lastError` (why a job could
  not start) is the error.
- `exit_code`: null for a task that never ran or still runs (prunner says 0 or -1); 0 for a
  task that succeeded (prunner says -1: its 0 is set after the last change is published); the
  real code otherwise, an `allow_failure` task that failed (`done`) included.
- `finished_at` of a task that failed or was cancelled: prunner records no end for those, so
  it is the job's end (the moment prunner saw the job over: no later than that the task had
  stopped), null while the job runs.
- progress counts tasks that ran and ended; tasks that never ran (left `waiting`, or marked
  `canceled` by a restart without having started) do not count, so a job a restart found
  running reads like one cancelled live.

Reading is the hot path of a batch refresh (one `/pipelines/jobs` answer can hold thousands of
jobs), so a payload whose values have JSON's own types is read straight from its dicts. Any
other value (a flag sent as "true", an exit code as 2.0, a missing task name) sends the payload
through the wire model (`jobhub_prunner.wire`), which coerces what it can and names what it
cannot; what it gives is read the same way. Tasks keep their own dicts of the payload as `raw`,
and each distinct time text is parsed once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobhub.backend import StateTable, parse_time
from jobhub.model import Job, JobState, Task, TaskFields
from jobhub.times import known_times
from jobhub_prunner.wire import WireJob

__all__ = ["CANCELLATION", "TASK_STATES", "job_ended", "job_state", "task_state", "to_job"]

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
# The `lastError` of a job whose tasks were cancelled: by its user, or by fail-fast.
CANCELLATION = "context canceled"

_PENDING = JobState.PENDING
_RUNNING = JobState.RUNNING
_SUCCEEDED = JobState.SUCCEEDED
_FAILED = JobState.FAILED
_CANCELLED = JobState.CANCELLED
_TERMINAL = frozenset(state for state in JobState if state.terminal)
_TASK_WORDS = TASK_STATES.known
_ENDED_JOB_TASK_WORDS = {
    word: _CANCELLED if state is _PENDING else state for word, state in _TASK_WORDS.items()
}


def job_ended(completed: bool | None, canceled: bool | None) -> bool:
    """prunner's own test: a job is over once it completed or was cancelled."""
    return bool(completed or canceled)


def job_state(
    completed: bool | None,
    canceled: bool | None,
    errored: bool | None,
    started: bool,
    last_error: str | None = None,
) -> JobState:
    """The canonical state of a job from prunner's flags (see the module's table)."""
    if job_ended(completed, canceled):
        if errored or (not started and last_error and last_error != CANCELLATION):
            return JobState.FAILED
        if canceled:
            return JobState.CANCELLED
        return JobState.SUCCEEDED
    return JobState.RUNNING if started else JobState.QUEUED


def task_state(status: str | None, *, job_ended: bool) -> JobState:
    """A task's canonical state; a never-started task of an ended job is cancelled."""
    state = TASK_STATES(status)
    if job_ended and state is _PENDING:
        return _CANCELLED
    return state


class _Unusual(Exception):
    """A value whose type is not the JSON type the field has: the wire model reads it."""


def _time(value: Any) -> datetime | None:
    """A prunner time: RFC 3339 text or null (None when unreadable: that one field, not the
    job, is lost)."""
    if value is None:
        return None
    if type(value) is not str:
        raise _Unusual
    return parse_time(value)


def _text(value: Any) -> str | None:
    """An optional string; Go sends "" for unset strings: that is no value."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise _Unusual
    return value


def _flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _Unusual


def to_job(payload: Any, *, backend: str) -> Job:
    """One prunner job payload → `Job`. Raises `ValueError` (pydantic's `ValidationError`
    included) when the payload cannot be read; the adapter turns that into `InvalidPayload`."""
    if not isinstance(payload, dict):
        raise ValueError(f"a job is a JSON object, not {type(payload).__name__}")
    try:
        return _job(payload, payload, backend)
    except _Unusual:
        pass
    # Raises ValidationError for what cannot be read; coerces the rest to JSON's own types.
    canonical = WireJob.model_validate(payload).model_dump(by_alias=True)
    try:
        return _job(canonical, payload, backend)
    except _Unusual:  # the wire model let through a type the reader does not take
        raise ValueError("the job holds a value of an unexpected type") from None


def _job(fields: dict[str, Any], payload: dict[str, Any], backend: str) -> Job:
    """The Job from `fields` (the payload, or its coerced copy) keeping `payload` as raw."""
    job_id = fields.get("id")
    if type(job_id) is not str:
        raise _Unusual
    if not job_id:
        raise ValueError("the job has no id")
    completed = _flag(fields.get("completed"))
    canceled = _flag(fields.get("canceled"))
    errored = _flag(fields.get("errored"))
    ended = job_ended(completed, canceled)
    variables = fields.get("variables")
    if variables is not None and type(variables) is not dict:
        raise _Unusual
    pipeline = _text(fields.get("pipeline"))
    user = _text(fields.get("user"))
    last_error = _text(fields.get("lastError"))
    created_at = _time(fields.get("created"))
    started_at = _time(fields.get("start"))
    finished_at = _time(fields.get("end"))
    tasks, terminal, failures = _tasks(
        fields.get("tasks"), payload.get("tasks"), ended, finished_at
    )
    # Started is what prunner says, even when its time cannot be read.
    started = fields.get("start") not in (None, "")
    state = job_state(completed, canceled, errored, started, last_error)
    if state is JobState.SUCCEEDED:
        progress: float | None = 1.0
    elif tasks:
        progress = terminal / len(tasks)
    else:
        progress = None
    duration = None
    if started_at is not None and finished_at is not None and finished_at >= started_at:
        duration = (finished_at - started_at).total_seconds()
    built = _JOB.copy()
    built["ref"] = f"{backend}:{job_id}"
    built["backend"] = backend
    built["id"] = job_id
    built["workflow"] = pipeline
    built["state"] = state
    built["created_at"] = created_at
    built["started_at"] = started_at
    built["finished_at"] = finished_at
    built["duration"] = duration
    built["progress"] = progress
    built["error"] = failures or (None if last_error == CANCELLATION else last_error)
    built["user"] = user
    built["tasks"] = tasks
    built["inputs"] = variables if variables is not None else {}
    built["children"] = []
    built["labels"] = {}
    built["raw"] = payload
    return Job.trusted(built)


# Every field of a Job, in a shared-key dict: a copy with the values that differ stored costs
# less time and memory than a dict display (see `Job.shared_fields`).
_JOB = Job.shared_fields({"type": TYPE})


def _tasks(
    fields: Any, raws: Any, ended: bool, job_end: datetime | None
) -> tuple[list[Task], int, str | None]:
    """The tasks from `fields` (the payload's list, or its coerced copy), each keeping its own
    dict of `raws` (the payload's list) as raw; how many ran and ended; the failing tasks and
    their errors (`task test: exit status 3; task lint: ...`), or None."""
    if fields is None:
        return [], 0, None
    if type(fields) is not list:
        raise _Unusual
    words = _ENDED_JOB_TASK_WORDS if ended else _TASK_WORDS
    terminal_states = _TERMINAL
    every_fields: list[TaskFields] = []
    append, blank = every_fields.append, _TASK.copy
    known_time = known_times.get
    terminal = 0
    failures: list[str] = []
    for task, raw in zip(fields, raws, strict=True):
        if type(task) is not dict:
            raise _Unusual
        try:  # prunner always sends these; indexing is cheaper than get
            name = task["name"]
            status = task["status"]
            start = task["start"]
            end = task["end"]
            exit_code = task["exitCode"]
        except KeyError:
            name = task.get("name")
            status = task.get("status")
            start = task.get("start")
            end = task.get("end")
            exit_code = task.get("exitCode")
        depends_on = task.get("dependsOn")
        error = task.get("error")
        if type(name) is not str:
            raise _Unusual
        if depends_on is not None and type(depends_on) is not list:
            raise _Unusual
        try:  # a list or an object where a word, a time or a name belongs: TypeError
            state = words.get(status) or _task_state(status, ended)
            if depends_on:
                "".join(depends_on)  # the quickest check that every item is a string
            # A time read before is looked up; None also for null, "" and a time not yet read.
            started_at = known_time(start)
            finished_at = known_time(end)
        except TypeError:
            raise _Unusual from None
        if started_at is None and start is not None:
            if type(start) is not str:
                raise _Unusual
            started_at = parse_time(start)
        if finished_at is None and end is not None:
            if type(end) is not str:
                raise _Unusual
            finished_at = parse_time(end)
        if exit_code is not None and type(exit_code) is not int:
            raise _Unusual
        if error is not None:
            if type(error) is not str:
                raise _Unusual
            if not error:
                error = None
        if state is _SUCCEEDED:  # most tasks: it ran, ended and counts as work done
            terminal += 1
            if exit_code == NO_EXIT_CODE:
                exit_code = 0  # prunner sets the real 0 after its last change is published
        else:
            if (
                state is _PENDING
                or state is _RUNNING
                or (started_at is None and state is _CANCELLED)
            ):
                exit_code = None  # it never ran, or runs still: prunner's 0 or -1 mean nothing
            elif exit_code == NO_EXIT_CODE:
                exit_code = None
            if state is _FAILED:
                failures.append(f"task {name}: {error or _failed_how(exit_code)}")
            if (
                finished_at is None
                and started_at is not None
                and (state is _FAILED or state is _CANCELLED)
                and job_end is not None
                and job_end >= started_at
            ):
                finished_at = job_end  # prunner records no end for these; the job's is the bound
            # Progress counts tasks that ran and ended, not those that never started.
            if state in terminal_states and not (state is _CANCELLED and started_at is None):
                terminal += 1
        fields = blank()
        fields["name"] = name
        fields["state"] = state
        fields["status"] = status
        fields["started_at"] = started_at
        fields["finished_at"] = finished_at
        fields["depends_on"] = [] if depends_on is None else depends_on
        fields["exit_code"] = exit_code
        fields["error"] = error
        fields["raw"] = raw
        append(fields)
    return Task.trusted_all(every_fields), terminal, "; ".join(failures) or None


# Every field of a task's Task; each is stored anew but `id` and `progress`, which prunner has
# not. A copy of this shared-key dict costs less time and memory than a dict display.
_TASK = Task.shared_fields()


def _failed_how(exit_code: int | None) -> str:
    return "failed" if exit_code is None else f"exit status {exit_code}"


def _task_state(status: Any, ended: bool) -> JobState:
    if status is not None and type(status) is not str:
        raise _Unusual
    return task_state(status, job_ended=ended)
