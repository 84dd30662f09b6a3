"""Sieve job payloads → the canonical `Job` (the field choices are in `jobhub_sieve.adapter`).

A Sieve job is read on every poll and a list page holds up to 500 of them, so a payload whose
fields have exactly the JSON types Sieve's schema declares (what Sieve sends) is read straight
from its dicts, each field looked at once. Any other goes through the wire model
(`jobhub_sieve.wire.WireJob`), which refuses what the schema does not allow (a number where a
string belongs is an error, never coerced), and what it gives is read the same way.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from jobhub.backend import Adapter, StateTable, parse_time
from jobhub.model import Job, JobState
from jobhub.problems import describe
from jobhub.times import known_times
from jobhub_sieve.wire import json_kind, read_job

__all__ = ["SIEVE_STATES", "to_job"]

SIEVE_STATES = StateTable(
    "sieve",
    {
        "queued": JobState.QUEUED,
        "processing": JobState.RUNNING,
        "started": JobState.RUNNING,  # older docs and the CLI
        "running": JobState.RUNNING,
        "finished": JobState.SUCCEEDED,
        "error": JobState.FAILED,
        "cancelled": JobState.CANCELLED,
        "canceled": JobState.CANCELLED,
    },
)

_WORDS: dict[str | None, JobState] = {word: state for word, state in SIEVE_STATES.known.items()}
_SUCCEEDED = JobState.SUCCEEDED
_known_time = known_times.get


class _Unusual(Exception):
    """A value whose type is not the JSON type its field has: the wire model reads it."""


def to_job(adapter: Adapter, payload: Any, workflow: str | None = None) -> Job:
    """A Sieve job as a `Job`; `workflow` is the function to assume when the payload's
    `function` is null (a function's listing). Raises only `InvalidPayload`."""
    if not isinstance(payload, dict):
        raise adapter.invalid(f"a job must be a JSON object, not {json_kind(payload)}", payload)
    try:
        return _job(adapter, payload, payload, workflow)
    except _Unusual:
        pass
    try:
        fields = read_job(payload).model_dump()
    except ValidationError as exc:
        raise adapter.invalid(
            f"job does not match Sieve's Job schema: {describe(exc)}", payload
        ) from None
    try:
        return _job(adapter, fields, payload, workflow)
    except _Unusual:  # the wire model let through a type the reader does not take
        raise adapter.invalid("job holds a value of an unexpected type", payload) from None


def _job(adapter: Adapter, fields: dict[str, Any], payload: Any, workflow: str | None) -> Job:
    """The Job from `fields` (the payload, or the wire model's reading of it), keeping
    `payload` as raw; `_Unusual` for a value of a type the schema does not give its field."""
    get = fields.get
    job_id = get("id")
    status, error = get("status"), get("error")
    created, started, completed = get("created_at"), get("started_at"), get("completed_at")
    visibility, function_id = get("visibility"), get("function_id")
    organization_id = get("organization_id")
    if type(job_id) is not str:
        raise _Unusual
    for text in (
        status,
        error,
        created,
        started,
        completed,
        visibility,
        function_id,
        organization_id,
        get("run_id"),
    ):
        if text is not None and type(text) is not str:
            raise _Unusual
    if not job_id:
        raise adapter.invalid("job has an empty id", payload)
    # A time read before is looked up (None also for null, "" and a time not read yet).
    created_at = _known_time(created)
    started_at = _known_time(started)
    finished_at = _known_time(completed)
    if created_at is None and created:
        created_at = parse_time(created)
    if started_at is None and started:
        started_at = parse_time(started)
    if finished_at is None and completed:
        finished_at = parse_time(completed)
    state = _WORDS.get(status) or SIEVE_STATES(status)
    labels: dict[str, str] = {}
    if visibility:
        labels["visibility"] = visibility
    if function_id:
        labels["function_id"] = function_id
    if organization_id:
        labels["organization_id"] = organization_id
    return Job.trusted(
        {
            "ref": f"{adapter.name}:{job_id}",
            "backend": adapter.name,
            "type": adapter.type,
            "id": job_id,
            "workflow": _workflow(get("function")) or workflow,
            "state": state,
            "status": status,
            "created_at": created_at,
            "started_at": started_at,
            "finished_at": finished_at,
            "duration": (
                (finished_at - started_at).total_seconds()
                if started_at is not None and finished_at is not None and finished_at >= started_at
                else None
            ),
            "progress": 1.0 if state is _SUCCEEDED else None,
            "error": error or None,
            "user": None,
            "tasks": [],
            "inputs": _inputs(get("inputs")),
            "outputs": _outputs(adapter, get("outputs"), job_id, payload),
            "children": _children(get("children")),
            "restarts": _restarts(adapter, get("restarts"), job_id, payload),
            "cost": None,
            "labels": labels,
            "raw": payload,
        }
    )


def _workflow(function: Any) -> str | None:
    """`owner_name/name` of a job's `function`, or None unless both parts are known."""
    if function is None:
        return None
    if type(function) is not dict:
        raise _Unusual
    owner, name = function.get("owner_name"), function.get("name")
    if (owner is not None and type(owner) is not str) or (
        name is not None and type(name) is not str
    ):
        raise _Unusual
    return f"{owner}/{name}" if owner and name else None


def _inputs(inputs: Any) -> dict[str, Any]:
    """`{name: InputOutput}` → `{name: data}`. A value that is not an InputOutput record (no
    `data` key) is kept as it is."""
    values: dict[str, Any] = {}
    if inputs is None:
        return values
    if type(inputs) is not dict:
        raise _Unusual
    for name, value in inputs.items():
        if type(name) is not str:
            raise _Unusual
        values[name] = value["data"] if isinstance(value, dict) and "data" in value else value
    return values


def _outputs(adapter: Adapter, outputs: Any, job_id: str, payload: Any) -> list[Any]:
    """`[InputOutput | [InputOutput]]` → the `data` of each, in order; a nested list (one
    yield of a generator function) stays a list of its `data`."""
    values: list[Any] = []
    if outputs is None:
        return values
    if type(outputs) is not list:
        raise _Unusual
    try:  # the common case: every output one record
        return [item["data"] for item in outputs]
    except (KeyError, TypeError):  # a record without data, a yield's list, not a record
        pass
    for item in outputs:
        if isinstance(item, dict):
            values.append(item.get("data"))
        elif isinstance(item, list):
            values.append([_output_data(adapter, sub, job_id, payload) for sub in item])
        else:
            values.append(_output_data(adapter, item, job_id, payload))
    return values


def _output_data(adapter: Adapter, item: Any, job_id: str, payload: Any) -> Any:
    if not isinstance(item, dict):
        raise adapter.invalid(
            f"job {job_id!r}: an output must be an object, not {json_kind(item)}", payload
        )
    return item.get("data")


def _children(children: Any) -> list[str]:
    """Child job ids, in order, each once, from the v2 `{key: [child, ...]}` or the older plain
    list. Items are ids or objects with an `id` (or `job_id`); items that carry no id are
    skipped (they stay in `raw`)."""
    if type(children) is dict:
        for key, group in children.items():
            if type(key) is not str or type(group) is not list:
                raise _Unusual
        groups: Any = children.values()
    elif type(children) is list:
        groups = (children,)
    elif children is None:
        return []
    else:
        raise _Unusual
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            child = item.get("id", item.get("job_id")) if isinstance(item, dict) else item
            if isinstance(child, str) and child:
                seen[child] = None
    return list(seen)


def _restarts(adapter: Adapter, restarts: Any, job_id: str, payload: Any) -> int:
    """How many times the job restarted: the number of restart records (or the number itself,
    as older API versions sent it)."""
    if restarts is None:
        return 0
    if type(restarts) is list:
        return len(restarts)
    if type(restarts) is not int:
        raise _Unusual
    if restarts < 0:
        raise adapter.invalid(
            f"job {job_id!r}: restarts must be 0 or more, not {restarts}", payload
        )
    return restarts
