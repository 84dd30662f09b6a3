"""Sieve's v2 payloads as the API sends them, read leniently.

The models check only the types Sieve's OpenAPI description declares, strictly (a number where a
string belongs is an error, never coerced). Every field but `id` may be missing or null, because
older API versions and the vendor's own examples leave fields out; unknown fields are ignored
here and kept in `Job.raw`. Nested values jobhub passes through (`inputs`, output items, restart
records) are not deep-validated: the shape helpers below read them and say when they cannot.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict

__all__ = [
    "WireFunction",
    "WireJob",
    "WireList",
    "child_ids",
    "input_values",
    "job_fields",
    "json_kind",
    "output_values",
    "read_job",
    "restart_count",
    "workflow_of",
]

_LENIENT = ConfigDict(extra="ignore", strict=True, frozen=True)


class WireFunction(BaseModel):
    """`function`: the compact name of the function a job ran (`owner_name/name`)."""

    model_config = _LENIENT

    name: str | None = None
    owner_name: str | None = None

    @property
    def workflow(self) -> str | None:
        """`owner/name`, or None unless both parts are known."""
        if self.owner_name and self.name:
            return f"{self.owner_name}/{self.name}"
        return None


class WireJob(BaseModel):
    """One Sieve job (`components.schemas.Job`)."""

    model_config = _LENIENT

    id: str
    status: str | None = None
    function: WireFunction | None = None
    function_id: str | None = None
    organization_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: list[Any] | None = None
    error: str | None = None
    visibility: str | None = None
    run_id: str | None = None
    # The v2 spec: {key: [child, ...]}; the older job page: a plain list of child ids.
    children: dict[str, list[Any]] | list[Any] | None = None
    # The v2 spec: a list of restart records; the older job page: a number.
    restarts: list[Any] | int | None = None


def read_job(payload: dict[str, Any]) -> WireJob:
    """`WireJob.model_validate(payload)` without its Python wrapper. Raises
    `pydantic.ValidationError`."""
    return cast(WireJob, _validate_job(payload))


_validate_job = WireJob.__pydantic_validator__.validate_python


def job_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """A job's fields as `WireJob` reads them, by their Sieve names (`function` as a dict).

    This runs once per job read. A payload whose fields all have exactly their JSON types,
    which is what Sieve sends, is returned itself: validating it would give the same values.
    Any other is validated by `WireJob` (raising `pydantic.ValidationError` when it does not
    fit) and its values returned."""
    if _plain(payload):
        return payload
    return read_job(payload).model_dump()


# The fields WireJob types `str | None`, besides `id` (a `str`).
_TEXTS = (
    "status",
    "function_id",
    "organization_id",
    "created_at",
    "started_at",
    "completed_at",
    "error",
    "visibility",
    "run_id",
)


def _plain(payload: dict[str, Any]) -> bool:
    """Whether every field `WireJob` reads has exactly its JSON type."""
    get = payload.get
    if type(get("id")) is not str:
        return False
    for name in _TEXTS:
        value = get(name)
        if value is not None and type(value) is not str:
            return False
    function = get("function")
    if function is not None:
        if type(function) is not dict:
            return False
        for value in (function.get("name"), function.get("owner_name")):
            if value is not None and type(value) is not str:
                return False
    inputs = get("inputs")
    if inputs is not None:
        if type(inputs) is not dict:
            return False
        for key in inputs:
            if type(key) is not str:
                return False
    outputs = get("outputs")
    if outputs is not None and type(outputs) is not list:
        return False
    children = get("children")
    if children is not None and type(children) is not list:
        if type(children) is not dict:
            return False
        for key, group in children.items():
            if type(key) is not str or type(group) is not list:
                return False
    restarts = get("restarts")
    return restarts is None or type(restarts) is list or type(restarts) is int


def workflow_of(function: dict[str, Any] | None) -> str | None:
    """`owner/name` of a job's `function`, or None unless both parts are known."""
    if function is None:
        return None
    owner, name = function.get("owner_name"), function.get("name")
    return f"{owner}/{name}" if owner and name else None


class WireList(BaseModel):
    """A page of jobs: `{"data": [...], "next_offset": N}`; `next_offset` is -1 on the last."""

    model_config = _LENIENT

    data: list[Any]
    next_offset: int = -1


def input_values(inputs: dict[str, Any] | None) -> dict[str, Any]:
    """`{name: InputOutput}` → `{name: data}`. A value that is not an InputOutput record (no
    `data` key) is kept as it is."""
    if not inputs:
        return {}
    return {
        name: value["data"] if isinstance(value, dict) and "data" in value else value
        for name, value in inputs.items()
    }


def output_values(outputs: list[Any] | None) -> list[Any]:
    """`[InputOutput | [InputOutput]]` → the `data` of each, in order; a nested list (one
    yield of a generator function) stays a list of its `data`. Raises ValueError when an item
    is neither."""
    if not outputs:
        return []
    return [
        [_output_data(sub) for sub in item] if isinstance(item, list) else _output_data(item)
        for item in outputs
    ]


def _output_data(item: Any) -> Any:
    if not isinstance(item, dict):
        raise ValueError(f"an output must be an object, not {json_kind(item)}")
    return item.get("data")


def child_ids(children: dict[str, list[Any]] | list[Any] | None) -> list[str]:
    """Child job ids, in order, each once. Items are ids or objects with an `id` (or `job_id`);
    items that carry no id are skipped (they stay in `raw`)."""
    if not children:
        return []
    groups = children.values() if isinstance(children, dict) else [children]
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            child = item.get("id", item.get("job_id")) if isinstance(item, dict) else item
            if isinstance(child, str) and child:
                seen.setdefault(child, None)
    return list(seen)


def restart_count(restarts: list[Any] | int | None) -> int:
    """How many times the job restarted: the number of restart records (or the number itself,
    as older API versions sent it). Raises ValueError for a negative number."""
    if restarts is None:
        return 0
    if isinstance(restarts, int):
        if restarts < 0:
            raise ValueError(f"restarts must be 0 or more, not {restarts}")
        return restarts
    return len(restarts)


def json_kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
