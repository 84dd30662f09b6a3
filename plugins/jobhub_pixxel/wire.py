"""Pixxel's wire format as lenient pydantic models.

Every field is optional and may be null; unknown fields are ignored here because the whole
payload stays in `Job.raw`. The structure must be right (a job is an object, `tasks` a list of
objects, ids and status words strings); values whose format the vendor leaves open (times,
progress, durations, raw JSON) are typed `Any` and read by `jobhub_pixxel.values`.
Message texts (`err`, `err_msg`, ...) accept any scalar and are turned into text.
`normalize` reads a job whose fields already have JSON's own types straight from its dicts;
these models read the rest and name what cannot be read.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, InstanceOf

from jobhub.backend import excerpt

__all__ = ["JobList", "JobPayload", "TaskPayload", "ValError", "WorkflowPage"]


def _text(value: Any) -> Any:
    """Message fields: keep strings, render other values (a number, an object) as short text."""
    if value is None or isinstance(value, str):
        return value
    return excerpt(value, 300)


Text = Annotated[str | None, BeforeValidator(_text)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ValError(_Lenient):
    """One validation error of a job's spec (`dexter.ValError`)."""

    from_: Text = Field(default=None, alias="from")
    to: Text = None
    err: Text = None
    reason: Text = None
    component_name: Text = None


class TaskPayload(_Lenient):
    """One task of a job (`dexter.PostWorkflowTaskGet`)."""

    id: str | None = None
    name: str | None = None
    status: str | None = None
    progress: Any = None
    depends_on: list[str] | None = None
    created_at: Any = None
    finished_at: Any = None
    send_time: Any = None
    block_inf_start_time: Any = None
    block_inf_end_time: Any = None
    err_msg: Text = None
    failure_type: Text = None
    result: Any = None


class JobPayload(_Lenient):
    """A job: the full one (`dexter.GetJobByIdTransformerResponse`) or a list item
    (`dexter.ListJobsItem`, which has no tasks, spec or execution times)."""

    id: str | None = None
    workflow_id: str | None = None
    status: str | None = None
    progress: Any = None
    cost: Any = None
    created_by: str | None = None
    created_at: Any = None
    exec_created_at: Any = None
    finished_at: Any = None
    time_taken: Any = None
    tasks: list[TaskPayload] | None = None
    val_errors: list[ValError] | None = None
    spec: Any = None
    inputs: Any = None


class JobList(_Lenient):
    """`GET /v0/workflows/{workflow_id}/jobs` (`dexter.ListJobsTransformerResponse`). Each job
    must be an object and is kept as it is (not copied): it becomes the Job's raw."""

    jobs: list[InstanceOf[dict[str, Any]]] | None = None


class Pagination(_Lenient):
    limit: int | None = None
    offset: int | None = None
    total: int | None = None


class Workflow(_Lenient):
    id: str | None = None
    name: str | None = None


class WorkflowPage(_Lenient):
    """`GET /v0/workflows` (`dexter.ListWorkflowsTransformerResponse`)."""

    workflows: list[Workflow] | None = None
    pagination: Pagination | None = None
