"""prunner's JSON as it arrives: lenient models of a job and its tasks.

Fields carry prunner's names (as aliases where prunner uses camelCase). Unknown fields are kept
(`extra="allow"`), and every field prunner may leave out or send as `null` is optional: Go
sends `null` for unset times, errors, an empty variables map and a job without tasks, and the
swagger marks some of those as omitted. Times stay strings here; `normalize` reads them.

`normalize` reads a payload of JSON's own types straight from its dicts; these models read the
rest (coercing what lax validation coerces) and name what cannot be read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WireJob", "WireJobList", "WireTask"]

_LENIENT = ConfigDict(extra="allow", frozen=True)


class WireTask(BaseModel):
    """One entry of a job's `tasks` (Go `taskResult`): the fields jobhub reads (`skipped` and
    `errored` say nothing `status` does not, so they are only kept)."""

    model_config = _LENIENT

    name: str
    status: str | None = None
    start: str | None = None
    end: str | None = None
    depends_on: list[str] | None = Field(default=None, alias="dependsOn")
    exit_code: int | None = Field(default=None, alias="exitCode")
    error: str | None = None


class WireJob(BaseModel):
    """`GET /job/detail` and each entry of `GET /pipelines/jobs` (Go `pipelineJobResult`)."""

    model_config = _LENIENT

    id: str
    pipeline: str | None = None
    tasks: list[WireTask] | None = None
    completed: bool | None = None
    canceled: bool | None = None
    errored: bool | None = None
    created: str | None = None
    start: str | None = None
    end: str | None = None
    last_error: str | None = Field(default=None, alias="lastError")
    variables: dict[str, Any] | None = None
    user: str | None = None


class WireJobList(BaseModel):
    """`GET /pipelines/jobs`: every job the server holds, newest first, and its pipelines.
    Jobs stay raw here so that each is validated once, by `PrunnerAdapter.normalize`."""

    model_config = _LENIENT

    jobs: list[Any] | None = None
    pipelines: list[Any] | None = None
