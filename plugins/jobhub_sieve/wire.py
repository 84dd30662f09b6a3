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
    "json_kind",
    "read_job",
]

_LENIENT = ConfigDict(extra="ignore", strict=True, frozen=True)


class WireFunction(BaseModel):
    """`function`: the compact name of the function a job ran (`owner_name/name`)."""

    model_config = _LENIENT

    name: str | None = None
    owner_name: str | None = None


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


class WireList(BaseModel):
    """A page of jobs: `{"data": [...], "next_offset": N}`; `next_offset` is -1 on the last."""

    model_config = _LENIENT

    data: list[Any]
    next_offset: int = -1


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
