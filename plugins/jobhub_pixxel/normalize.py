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
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from jobhub.backend import Adapter, StateTable
from jobhub.model import Job, JobState, Task
from jobhub_pixxel.values import decode_raw_json, number, percent, seconds, timestamp
from jobhub_pixxel.wire import JobPayload, TaskPayload, ValError

__all__ = ["STATES", "to_job"]

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

_NOT_STARTED = frozenset({S.PENDING, S.QUEUED})
_NO_OUTPUT: tuple[Any, ...] = (None, "", [], {})


def to_job(adapter: Adapter, payload: Any, *, workflow_id: str | None = None) -> Job:
    """A Pixxel job (full or list item) as a `Job`; `workflow_id` fills in a payload that lacks
    its own. Raises only `InvalidPayload`."""
    if not isinstance(payload, dict):
        raise adapter.invalid(f"a job must be a JSON object, not {_kind(payload)}", payload)
    try:
        wire = JobPayload.model_validate(payload)
    except ValidationError as exc:
        raise adapter.invalid(f"job {_first_problem(exc)}", payload) from None
    job_id = wire.id
    workflow = wire.workflow_id or workflow_id
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

    state = STATES(wire.status)
    wire_tasks = wire.tasks or []
    reported = [STATES(task.status) for task in wire_tasks]
    tasks = [
        _task(task, raw, index, reported_state, job_ended=state.terminal)
        for index, (task, raw, reported_state) in enumerate(
            zip(wire_tasks, payload.get("tasks") or [], reported, strict=True)
        )
    ]
    ended_tasks = sum(task_state.terminal for task_state in reported)
    started_at = timestamp(wire.exec_created_at)
    finished_at = timestamp(wire.finished_at)
    combined = f"{workflow}/{job_id}"
    try:
        return Job(
            ref=adapter.ref(combined),
            backend=adapter.name,
            type=adapter.type,
            id=combined,
            workflow=workflow,
            state=state,
            status=wire.status,
            created_at=timestamp(wire.created_at),
            started_at=started_at,
            finished_at=finished_at,
            duration=_duration(started_at, finished_at, wire.time_taken),
            progress=_progress(state, wire.progress, ended_tasks, len(tasks)),
            error=_job_error(wire.val_errors or [], tasks),
            user=wire.created_by or None,
            tasks=tasks,
            inputs=decode_raw_json(wire.inputs if wire.inputs is not None else wire.spec),
            outputs=_outputs(wire_tasks, tasks),
            cost=number(wire.cost),
            raw=payload,
        )
    except ValidationError as exc:  # a value this module failed to tame: still typed
        raise adapter.invalid(f"job {_first_problem(exc)}", payload) from None


def _task(wire: TaskPayload, raw: Any, index: int, state: JobState, *, job_ended: bool) -> Task:
    if job_ended and state in _NOT_STARTED:
        state = S.CANCELLED  # a finished job never shows pending work
    started_at = timestamp(wire.block_inf_start_time)
    if started_at is None and state not in _NOT_STARTED and state is not S.CANCELLED:
        started_at = timestamp(wire.created_at)
    return Task(
        name=wire.name or wire.id or f"task-{index + 1}",
        id=wire.id or None,
        state=state,
        status=wire.status,
        started_at=started_at,
        finished_at=timestamp(wire.finished_at) or timestamp(wire.block_inf_end_time),
        depends_on=wire.depends_on or [],
        error=_task_error(wire),
        progress=1.0 if state is S.SUCCEEDED else percent(wire.progress),
        raw=raw,
    )


def _duration(started_at: Any, finished_at: Any, time_taken: Any) -> float | None:
    if started_at is not None and finished_at is not None and finished_at >= started_at:
        return float((finished_at - started_at).total_seconds())
    return seconds(time_taken)


def _progress(state: JobState, reported: Any, ended_tasks: int, all_tasks: int) -> float | None:
    if state is S.SUCCEEDED:
        return 1.0
    figure = percent(reported)
    if figure is None and all_tasks:
        figure = ended_tasks / all_tasks
    return figure


def _task_error(wire: TaskPayload) -> str | None:
    message, kind = wire.err_msg, wire.failure_type
    if message and kind:
        return f"{message} ({kind})"
    return message or kind or None


def _val_error(error: ValError) -> str | None:
    if not (error.err or error.reason or error.component_name or error.from_ or error.to):
        return None
    place = f" in {error.component_name}" if error.component_name else ""
    if error.from_ or error.to:
        place += f" ({error.from_ or '?'} → {error.to or '?'})"
    what = error.err or error.reason or "invalid"
    why = f" ({error.reason})" if error.err and error.reason and error.reason != error.err else ""
    return f"validation error{place}: {what}{why}"


def _job_error(val_errors: list[ValError], tasks: list[Task]) -> str | None:
    messages = [text for text in map(_val_error, val_errors) if text]
    messages += [f"task {task.name}: {task.error}" for task in tasks if task.error]
    return "; ".join(messages) or None


def _outputs(wires: list[TaskPayload], tasks: list[Task]) -> dict[str, Any] | None:
    outputs: dict[str, Any] = {}
    for wire, task in zip(wires, tasks, strict=True):
        if wire.result in _NO_OUTPUT:
            continue
        key = task.name if task.name not in outputs else f"{task.name}#{task.id or len(outputs)}"
        outputs[key] = decode_raw_json(wire.result)
    return outputs or None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _first_problem(exc: ValidationError) -> str:
    problems = exc.errors(include_url=False, include_input=False)
    if not problems:
        return "is not readable"
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"
