"""Pixxel job payloads → the canonical `Job`.

One function reads both shapes Pixxel sends: the full job (`GET .../jobs/{job_id}`) and the
list item (`GET .../jobs`, without tasks, spec or execution times). Field choices:

- `id` is `"<workflow_id>/<job_id>"` (Pixxel addresses a job by both), `workflow` the workflow id.
- `created_at` is `created_at` (the request was accepted); `started_at` is `exec_created_at`
  (the execution record, created when the job is handed to the engine — so queueing and
  validation are not counted as running time); `finished_at` is `finished_at`.
- `duration` is `finished_at - started_at` when both are known, else the vendor's own
  `time_taken` when it can be read, else null.
- `progress` is the job's percentage string; without one, the share of tasks that had ended as
  the backend reported them (tasks shown `cancelled` only because the job ended are not work
  done); 1.0 once the job succeeded, whatever figure it last reported.
- `inputs` is the job's `inputs` where the payload has them, else its `spec` (the specification
  it was started with); `outputs` maps each task's name to its `result`. Both decoded from
  Pixxel's raw-JSON encodings (see `values.decode_raw_json`).
- `error` joins the spec's validation errors (`val_errors`) and every task error.
- a task's `started_at` is `block_inf_start_time` (processing began), else `created_at` once
  the task has left the pending/queued states; its `finished_at` is `finished_at`, else
  `block_inf_end_time`. A task that never started inside an ended job is `cancelled`.

A listing is read again every cycle of a wait, so a list item (no tasks, spec or inputs) takes
a path of its own that reads just its few fields, and each distinct time, duration and
percentage text is read once.
"""

from __future__ import annotations

from types import NoneType
from typing import Any

from pydantic import ValidationError

from jobhub.backend import Adapter, StateTable
from jobhub.model import Job, JobFields, JobState, Task, TaskFields
from jobhub.problems import describe
from jobhub_pixxel.values import ReadOnce, decode_raw_json, number, percent, seconds, timestamp
from jobhub_pixxel.wire import JobPayload

__all__ = ["STATES", "to_job", "to_jobs"]

S = JobState
STATES = StateTable(
    "pixxel",
    {
        "created": S.PENDING,
        "pending": S.PENDING,
        "queued": S.QUEUED,
        "running": S.RUNNING,
        "inprogress": S.RUNNING,
        "in_progress": S.RUNNING,
        "started": S.RUNNING,
        "TaskStarted": S.RUNNING,
        "TaskInprogress": S.RUNNING,
        "completed": S.SUCCEEDED,
        "success": S.SUCCEEDED,
        "succeeded": S.SUCCEEDED,
        "done": S.SUCCEEDED,
        "TaskCompleted": S.SUCCEEDED,
        "failed": S.FAILED,
        "error": S.FAILED,
        "TaskFailed": S.FAILED,
        "cancelled": S.CANCELLED,
        "canceled": S.CANCELLED,
        "stopped": S.CANCELLED,
        "aborted": S.CANCELLED,
    },
)

_SUCCEEDED = S.SUCCEEDED
_NOT_STARTED = frozenset({S.PENDING, S.QUEUED})
_TERMINAL = frozenset(state for state in JobState if state.terminal)
_EMPTY_OUTPUT = (str, list, dict)  # an empty one of these is no output
_WORDS: dict[str | None, JobState] = {word: state for word, state in STATES.known.items()}
_TEXT = (str, NoneType)
# Integers within ±2**53 are floats exactly; `number` reads any other value.
_EXACT = 2**53

# The readers never raise and give immutable values, so each distinct text is read once (a
# listing read every cycle repeats every job's times and durations): looked up, a text read
# before costs less than the call of even a remembering reader (`timestamp` remembers too).
_seconds_of_text = ReadOnce(seconds, 4096)
_percent_of_text = ReadOnce(percent, 1024)
_timestamp_of_text = ReadOnce(timestamp, 16_384)


def _seconds(value: Any) -> float | None:
    return _seconds_of_text[value] if type(value) is str else seconds(value)


def _percent(value: Any) -> float | None:
    return _percent_of_text[value] if type(value) is str else percent(value)


class _Unusual(Exception):
    """A value whose type is not the JSON type the field has: the wire model reads it."""


def to_job(adapter: Adapter, payload: Any, *, workflow_id: str | None = None) -> Job:
    """A Pixxel job (full or list item) as a `Job`; `workflow_id` fills in a payload that lacks
    its own. Raises only `InvalidPayload`.

    A payload whose fields have JSON's own types (what Pixxel sends) is read straight from its
    dicts; any other goes through the wire model (`jobhub_pixxel.wire`), which renders message
    values as text or names what cannot be read, and what it gives is read the same way."""
    return _read(adapter, payload, workflow_id)


def to_jobs(
    adapter: Adapter,
    payloads: list[Any],
    *,
    workflow_id: str | None = None,
    workflow_name: str | None = None,
) -> list[Job]:
    """`to_job` of each payload, in order: a listing. A list item (no tasks, validation errors,
    spec, inputs or execution time) whose fields have JSON's own types is read here in one
    pass, giving what `_job` gives for it; any other payload goes the way `to_job` says.
    `workflow_name`, the workflow's own name where the workflow list gave it, becomes each
    job's `workflow_name` label (job answers carry only the workflow's id)."""
    name, kind, prefix = adapter.name, adapter.type, f"{adapter.name}:"
    jobs: list[Job] = []
    items: list[JobFields] = []  # the list items read since the last payload read apart
    # A copy of a dict costs less than a dict display of as many keys.
    item = _JOB.copy()
    item["backend"], item["type"] = name, kind
    append, blank, words, times = items.append, item.copy, _WORDS, _timestamp_of_text

    def read_apart(payload: Any) -> None:
        if items:
            jobs.extend(Job.trusted_all(items))
            items.clear()
        jobs.append(_read(adapter, payload, workflow_id, workflow_name))

    for payload in payloads:
        # A list item has none of the full job's keys: `in` costs less than a call to `get`.
        if type(payload) is not dict or not (
            ("tasks" not in payload or payload["tasks"] is None)
            and ("val_errors" not in payload or payload["val_errors"] is None)
            and ("exec_created_at" not in payload or payload["exec_created_at"] is None)
            and ("spec" not in payload or payload["spec"] is None)
            and ("inputs" not in payload or payload["inputs"] is None)
        ):
            read_apart(payload)
            continue
        try:  # Pixxel sends every one of these; indexing costs less than `get`
            job_id, own_workflow, status = payload["id"], payload["workflow_id"], payload["status"]
            user, created_at = payload["created_by"], payload["created_at"]
            finished_at, taken = payload["finished_at"], payload["time_taken"]
            reported, cost = payload["progress"], payload["cost"]
        except KeyError:
            get = payload.get
            job_id, own_workflow, status = get("id"), get("workflow_id"), get("status")
            user, created_at = get("created_by"), get("created_at")
            finished_at, taken = get("finished_at"), get("time_taken")
            reported, cost = get("progress"), get("cost")
        workflow = own_workflow or workflow_id
        # All text, as Pixxel sends them, is one test; anything else the full one.
        if not (
            (
                (
                    str is type(job_id) is type(own_workflow) is type(status) is type(user)
                    and type(created_at) is type(finished_at) is str
                )
                or (
                    type(job_id) is str
                    and type(own_workflow) in _TEXT
                    and type(status) in _TEXT
                    and type(user) in _TEXT
                    and type(created_at) in _TEXT  # any other is read by `_read` (as no time)
                    and type(finished_at) in _TEXT
                )
            )
            and type(workflow) is str
            and job_id
            and not job_id.isspace()  # `strip()` would make a string
            and workflow
            and not workflow.isspace()
            and "/" not in workflow
        ):
            read_apart(payload)  # which says what is wrong
            continue
        state = words.get(status) or STATES(status)
        if state is _SUCCEEDED:
            progress: float | None = 1.0
        else:
            progress = _percent_of_text[reported] if type(reported) is str else percent(reported)
        # Each time text is read once (Go's zero time, year 1, is no time: `timestamp`).
        created = None if created_at is None else times[created_at]
        finished = None if finished_at is None else times[finished_at]
        combined = f"{workflow}/{job_id}"
        fields = blank()
        fields["ref"] = prefix + combined
        fields["id"] = combined
        fields["workflow"] = workflow
        fields["state"] = state
        fields["status"] = status
        fields["created_at"] = created
        fields["finished_at"] = finished
        fields["duration"] = _seconds_of_text[taken] if type(taken) is str else seconds(taken)
        fields["progress"] = progress
        fields["user"] = user or None
        fields["tasks"] = []
        fields["children"] = []
        fields["cost"] = (
            float(cost) if type(cost) is int and _EXACT > cost > -_EXACT else number(cost)
        )
        fields["labels"] = {"workflow_name": workflow_name} if workflow_name else {}
        fields["raw"] = payload
        append(fields)
    if items:
        jobs.extend(Job.trusted_all(items))
    return jobs


# Every field of a Job and of a Task, in shared-key dicts: a copy with the values that differ
# stored costs less time and memory than a dict display (see `Job.shared_fields`). A list
# item's Job holds what `_JOB` holds where the item says nothing.
_JOB = Job.shared_fields()

_TASK = Task.shared_fields()


def _read(
    adapter: Adapter, payload: Any, workflow_id: str | None, workflow_name: str | None = None
) -> Job:
    """`to_job`: also what a listing reads where its list-item path does not go."""
    if not isinstance(payload, dict):
        raise adapter.invalid(f"a job must be a JSON object, not {_kind(payload)}", payload)
    try:
        return _job(adapter, payload, payload, workflow_id, workflow_name)
    except _Unusual:
        pass
    try:
        fields = JobPayload.model_validate(payload).model_dump(by_alias=True)
    except ValidationError as exc:
        raise adapter.invalid(f"job {describe(exc)}", payload) from None
    try:
        return _job(adapter, fields, payload, workflow_id, workflow_name)
    except _Unusual:  # the wire model let through a type the reader does not take
        raise adapter.invalid("job holds a value of an unexpected type", payload) from None


def _job(
    adapter: Adapter,
    fields: dict[str, Any],
    payload: dict[str, Any],
    workflow_id: str | None,
    workflow_name: str | None = None,
) -> Job:
    """The Job from `fields` (the payload, or the wire model's reading of it), keeping
    `payload` as raw."""
    job_id = _text(fields.get("id"))
    workflow = _text(fields.get("workflow_id")) or workflow_id
    status = _text(fields.get("status"))
    created_by = _text(fields.get("created_by"))
    wire_tasks = fields.get("tasks")
    val_errors = fields.get("val_errors")
    if not (wire_tasks is None or type(wire_tasks) is list) or not (
        val_errors is None or type(val_errors) is list
    ):
        raise _Unusual
    if not job_id or not job_id.strip():
        raise adapter.invalid("job has no id", payload)
    if not workflow or not workflow.strip():
        raise adapter.invalid("job has no workflow_id", payload)
    if "/" in workflow:
        raise adapter.invalid(
            f"workflow_id {workflow!r} contains '/', so the job cannot be addressed as "
            "'<workflow_id>/<job_id>'",
            payload,
        )

    state = _WORDS.get(status) or STATES(status)
    tasks: list[Task] = []
    outputs: dict[str, Any] = {}
    ended_tasks = 0
    failures: list[str] = []
    if wire_tasks:
        tasks, outputs, ended_tasks, failures = _tasks(
            wire_tasks, payload.get("tasks") or [], state
        )
    started_at = timestamp(fields.get("exec_created_at"))
    finished_at = timestamp(fields.get("finished_at"))
    combined = f"{workflow}/{job_id}"
    inputs = fields.get("inputs")
    built = _JOB.copy()
    built["ref"] = f"{adapter.name}:{combined}"
    built["backend"] = adapter.name
    built["type"] = adapter.type
    built["id"] = combined
    built["workflow"] = workflow
    built["state"] = state
    built["status"] = status
    built["created_at"] = timestamp(fields.get("created_at"))
    built["started_at"] = started_at
    built["finished_at"] = finished_at
    built["duration"] = _duration(started_at, finished_at, fields.get("time_taken"))
    built["progress"] = _progress(state, fields.get("progress"), ended_tasks, len(tasks))
    built["error"] = _job_error(val_errors, failures) if val_errors or failures else None
    built["user"] = created_by or None
    built["tasks"] = tasks
    built["inputs"] = decode_raw_json(inputs if inputs is not None else fields.get("spec"))
    built["outputs"] = outputs or None
    built["children"] = []
    built["cost"] = number(fields.get("cost"))
    built["labels"] = {"workflow_name": workflow_name} if workflow_name else {}
    built["raw"] = payload
    return Job.trusted(built)


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Unusual


def _tasks(
    wire_tasks: list[Any], raws: list[Any], job_state: JobState
) -> tuple[list[Task], dict[str, Any], int, list[str]]:
    """The tasks from `wire_tasks` (the payload's, or the wire model's reading of them), each
    keeping its own dict of `raws` as raw; the outputs (each task's decoded `result`, by
    name); how many tasks had ended as the backend reported them; each task's error, named."""
    job_ended = job_state in _TERMINAL
    every_fields: list[TaskFields] = []
    append, blank = every_fields.append, _TASK.copy
    outputs: dict[str, Any] = {}
    ended_tasks = 0
    failures: list[str] = []
    words, times = _WORDS, _timestamp_of_text
    for index, (task, raw) in enumerate(zip(wire_tasks, raws, strict=True)):
        if type(task) is not dict:
            raise _Unusual
        try:  # Pixxel sends every one of these; indexing costs less than `get`
            task_id, name, status = task["id"], task["name"], task["status"]
            message, kind, depends_on = task["err_msg"], task["failure_type"], task["depends_on"]
            inference_start, created_at = task["block_inf_start_time"], task["created_at"]
            finished_at, inference_end = task["finished_at"], task["block_inf_end_time"]
            progress, result = task["progress"], task["result"]
        except KeyError:
            get = task.get
            task_id, name, status = get("id"), get("name"), get("status")
            message, kind, depends_on = get("err_msg"), get("failure_type"), get("depends_on")
            inference_start, created_at = get("block_inf_start_time"), get("created_at")
            finished_at, inference_end = get("finished_at"), get("block_inf_end_time")
            progress, result = get("progress"), get("result")
        if not (str is type(task_id) is type(name) is type(status) is type(message) is type(kind)):
            for text in (task_id, name, status, message, kind):
                if text is not None and type(text) is not str:
                    raise _Unusual
        if depends_on:
            if type(depends_on) is not list:
                raise _Unusual
            try:
                "".join(depends_on)  # the quickest check that every item is a string
            except TypeError:
                raise _Unusual from None
        elif depends_on is not None and type(depends_on) is not list:
            raise _Unusual
        reported = state = words.get(status) or STATES(status)
        if reported in _TERMINAL:
            ended_tasks += 1
        if job_ended and state in _NOT_STARTED:
            state = S.CANCELLED  # a finished job never shows pending work
        # A time text read before is looked up (`_timestamp_of_text`), any other value read.
        started_at = (
            times[inference_start] if type(inference_start) is str else timestamp(inference_start)
        )
        if started_at is None and state not in _NOT_STARTED and state is not S.CANCELLED:
            started_at = times[created_at] if type(created_at) is str else timestamp(created_at)
        ended_at = times[finished_at] if type(finished_at) is str else timestamp(finished_at)
        if ended_at is None:
            ended_at = (
                times[inference_end] if type(inference_end) is str else timestamp(inference_end)
            )
        name = name or task_id or f"task-{index + 1}"
        if message and kind:
            error: str | None = f"{message} ({kind})"
        else:
            error = message or kind or None
        if error:
            failures.append(f"task {name}: {error}")
        fields = blank()
        fields["name"] = name
        fields["id"] = task_id or None
        fields["state"] = state
        fields["status"] = status
        fields["started_at"] = started_at
        fields["finished_at"] = ended_at
        fields["depends_on"] = [] if depends_on is None else depends_on
        fields["error"] = error
        fields["progress"] = 1.0 if state is _SUCCEEDED else _percent(progress)
        fields["raw"] = raw
        append(fields)
        # No output: null, "", [] and {} (each test costs less than `in` a tuple of them).
        if result is not None and (result or type(result) not in _EMPTY_OUTPUT):
            key = name if name not in outputs else f"{name}#{task_id or len(outputs)}"
            outputs[key] = decode_raw_json(result)
    return Task.trusted_all(every_fields), outputs, ended_tasks, failures


def _duration(started_at: Any, finished_at: Any, time_taken: Any) -> float | None:
    if started_at is not None and finished_at is not None and finished_at >= started_at:
        return float((finished_at - started_at).total_seconds())
    return _seconds(time_taken)


def _progress(state: JobState, reported: Any, ended_tasks: int, all_tasks: int) -> float | None:
    if state is S.SUCCEEDED:
        return 1.0
    figure = _percent(reported)
    if figure is None and all_tasks:
        figure = ended_tasks / all_tasks
    return figure


def _val_error(error: Any) -> str | None:
    """One validation error of the spec (`dexter.ValError`) as a sentence, or None when it
    says nothing."""
    if type(error) is not dict or "from_" in error:  # "from_": the wire model's own name
        raise _Unusual
    err, reason = _text(error.get("err")), _text(error.get("reason"))
    component, source, target = (
        _text(error.get("component_name")),
        _text(error.get("from")),
        _text(error.get("to")),
    )
    if not (err or reason or component or source or target):
        return None
    place = f" in {component}" if component else ""
    if source or target:
        place += f" ({source or '?'} → {target or '?'})"
    what = err or reason or "invalid"
    why = f" ({reason})" if err and reason and reason != err else ""
    return f"validation error{place}: {what}{why}"


def _job_error(val_errors: list[Any] | None, failures: list[str]) -> str | None:
    """The validation errors, then the tasks' (`task <name>: <error>`), as one text."""
    messages = [text for text in map(_val_error, val_errors or ()) if text]
    return "; ".join(messages + failures) or None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
