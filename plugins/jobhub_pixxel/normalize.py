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

from functools import lru_cache
from types import NoneType
from typing import Any

from pydantic import ValidationError

from jobhub.backend import Adapter, StateTable
from jobhub.model import Job, JobState, Task
from jobhub.problems import describe
from jobhub.times import known_times
from jobhub_pixxel.values import decode_raw_json, number, percent, seconds, timestamp
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
_NO_OUTPUT: tuple[Any, ...] = (None, "", [], {})
_WORDS: dict[str | None, JobState] = {word: state for word, state in STATES.known.items()}
_TEXT = (str, NoneType)
# Integers within ±2**53 are floats exactly; `number` reads any other value.
_EXACT = 2**53

# The readers never raise and give immutable values, so each distinct text is read once (a
# listing read every cycle repeats every job's durations; `timestamp` remembers times itself).
_seconds_of_text = lru_cache(maxsize=4096)(seconds)
_percent_of_text = lru_cache(maxsize=1024)(percent)


def _seconds(value: Any) -> float | None:
    return _seconds_of_text(value) if type(value) is str else seconds(value)


def _percent(value: Any) -> float | None:
    return _percent_of_text(value) if type(value) is str else percent(value)


class _Unusual(Exception):
    """A value whose type is not the JSON type the field has: the wire model reads it."""


def to_job(adapter: Adapter, payload: Any, *, workflow_id: str | None = None) -> Job:
    """A Pixxel job (full or list item) as a `Job`; `workflow_id` fills in a payload that lacks
    its own. Raises only `InvalidPayload`.

    A payload whose fields have JSON's own types (what Pixxel sends) is read straight from its
    dicts; any other goes through the wire model (`jobhub_pixxel.wire`), which renders message
    values as text or names what cannot be read, and what it gives is read the same way."""
    return to_jobs(adapter, [payload], workflow_id=workflow_id)[0]


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
    append, trusted, words, known_time = jobs.append, Job.trusted, _WORDS, known_times.get
    for payload in payloads:
        # A list item has none of the full job's keys: `in` costs less than a call to `get`.
        if type(payload) is not dict or not (
            ("tasks" not in payload or payload["tasks"] is None)
            and ("val_errors" not in payload or payload["val_errors"] is None)
            and ("exec_created_at" not in payload or payload["exec_created_at"] is None)
            and ("spec" not in payload or payload["spec"] is None)
            and ("inputs" not in payload or payload["inputs"] is None)
        ):
            append(_read(adapter, payload, workflow_id, workflow_name))
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
        if not (
            type(job_id) is str
            and type(own_workflow) in _TEXT
            and type(workflow) is str
            and type(status) in _TEXT
            and type(user) in _TEXT
            and type(created_at) in _TEXT  # any other is read by `_read` (as no time)
            and type(finished_at) in _TEXT
            and job_id.strip()
            and workflow.strip()
            and "/" not in workflow
        ):
            append(_read(adapter, payload, workflow_id, workflow_name))  # which says what is wrong
            continue
        state = words.get(status) or STATES(status)
        if state is _SUCCEEDED:
            progress: float | None = 1.0
        else:
            progress = _percent_of_text(reported) if type(reported) is str else percent(reported)
        # A time read before is looked up (Go's zero time, year 1, is no time: `timestamp`).
        created = known_time(created_at)
        if created is None or created.year <= 1:
            created = timestamp(created_at)
        finished = known_time(finished_at)
        if finished is None or finished.year <= 1:
            finished = timestamp(finished_at)
        combined = f"{workflow}/{job_id}"
        append(
            trusted(
                {
                    "ref": prefix + combined,
                    "backend": name,
                    "type": kind,
                    "id": combined,
                    "workflow": workflow,
                    "state": state,
                    "status": status,
                    "created_at": created,
                    "started_at": None,
                    "finished_at": finished,
                    "duration": _seconds_of_text(taken) if type(taken) is str else seconds(taken),
                    "progress": progress,
                    "error": None,
                    "user": user or None,
                    "tasks": [],
                    "inputs": None,
                    "outputs": None,
                    "children": [],
                    "restarts": 0,
                    "cost": float(cost)
                    if type(cost) is int and _EXACT > cost > -_EXACT
                    else number(cost),
                    "labels": {"workflow_name": workflow_name} if workflow_name else {},
                    "raw": payload,
                }
            )
        )
    return jobs


def _read(
    adapter: Adapter, payload: Any, workflow_id: str | None, workflow_name: str | None = None
) -> Job:
    """`to_job` of a payload the list-item path does not take."""
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
    if wire_tasks:
        raws = payload.get("tasks") or []
        ended = state in _TERMINAL
        for index, (task, raw) in enumerate(zip(wire_tasks, raws, strict=True)):
            built, reported = _task(task, raw, index, ended)
            tasks.append(built)
            if reported in _TERMINAL:
                ended_tasks += 1
            result = task.get("result")
            if result not in _NO_OUTPUT:
                name = built.name
                key = name if name not in outputs else f"{name}#{built.id or len(outputs)}"
                outputs[key] = decode_raw_json(result)
    started_at = timestamp(fields.get("exec_created_at"))
    finished_at = timestamp(fields.get("finished_at"))
    combined = f"{workflow}/{job_id}"
    inputs = fields.get("inputs")
    return Job.trusted(
        {
            "ref": f"{adapter.name}:{combined}",
            "backend": adapter.name,
            "type": adapter.type,
            "id": combined,
            "workflow": workflow,
            "state": state,
            "status": status,
            "created_at": timestamp(fields.get("created_at")),
            "started_at": started_at,
            "finished_at": finished_at,
            "duration": _duration(started_at, finished_at, fields.get("time_taken")),
            "progress": _progress(state, fields.get("progress"), ended_tasks, len(tasks)),
            "error": _job_error(val_errors, tasks) if val_errors or tasks else None,
            "user": created_by or None,
            "tasks": tasks,
            "inputs": decode_raw_json(inputs if inputs is not None else fields.get("spec")),
            "outputs": outputs or None,
            "children": [],
            "restarts": 0,
            "cost": number(fields.get("cost")),
            "labels": {"workflow_name": workflow_name} if workflow_name else {},
            "raw": payload,
        }
    )


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Unusual


def _task(task: Any, raw: Any, index: int, job_ended: bool) -> tuple[Task, JobState]:
    """One task, and the state it reported."""
    if type(task) is not dict:
        raise _Unusual
    task_id, name, status = task.get("id"), task.get("name"), task.get("status")
    message, kind = task.get("err_msg"), task.get("failure_type")
    for text in (task_id, name, status, message, kind):
        if text is not None and type(text) is not str:
            raise _Unusual
    depends_on = task.get("depends_on")
    if depends_on is not None and type(depends_on) is not list:
        raise _Unusual
    if depends_on:
        try:
            "".join(depends_on)  # the quickest check that every item is a string
        except TypeError:
            raise _Unusual from None
    reported = state = _WORDS.get(status) or STATES(status)
    if job_ended and state in _NOT_STARTED:
        state = S.CANCELLED  # a finished job never shows pending work
    started_at = timestamp(task.get("block_inf_start_time"))
    if started_at is None and state not in _NOT_STARTED and state is not S.CANCELLED:
        started_at = timestamp(task.get("created_at"))
    if message and kind:
        error: str | None = f"{message} ({kind})"
    else:
        error = message or kind or None
    built = Task.trusted(
        {
            "name": name or task_id or f"task-{index + 1}",
            "id": task_id or None,
            "state": state,
            "status": status,
            "started_at": started_at,
            "finished_at": timestamp(task.get("finished_at"))
            or timestamp(task.get("block_inf_end_time")),
            "depends_on": [] if depends_on is None else depends_on,
            "exit_code": None,
            "error": error,
            "progress": 1.0 if state is S.SUCCEEDED else _percent(task.get("progress")),
            "raw": raw,
        }
    )
    return built, reported


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


def _job_error(val_errors: list[Any] | None, tasks: list[Task]) -> str | None:
    messages = [text for text in map(_val_error, val_errors or ()) if text]
    messages += [f"task {task.name}: {task.error}" for task in tasks if task.error]
    return "; ".join(messages) or None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
