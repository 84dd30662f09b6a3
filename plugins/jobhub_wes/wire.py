"""WES payloads as servers send them, read leniently.

The models check the types the WES 1.0/1.1 OpenAPI description declares for the fields jobhub
reads, strictly (a number where a string belongs is an error, never coerced). Every field but
`run_id` may be missing or null; unknown fields are ignored here and kept in `Job.raw`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["WireLog", "WireRequest", "WireRun", "WireRunList", "WireTaskList"]

_LENIENT = ConfigDict(extra="ignore", strict=True, frozen=True)


class WireLog(BaseModel):
    """`Log` (the run's own log) or `TaskLog` (one task; WES 1.1 adds `id`, `system_logs`).
    `state` is not in the standard; some servers add it to task logs."""

    model_config = _LENIENT

    name: str | None = None
    id: str | None = None
    state: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    exit_code: int | None = None
    stderr: str | None = None
    system_logs: list[str] | None = None


class WireRequest(BaseModel):
    """`RunRequest`: what the run was started with."""

    model_config = _LENIENT

    workflow_url: str | None = None
    workflow_type: str | None = None
    workflow_type_version: str | None = None
    workflow_params: Any = None
    tags: dict[str, Any] | None = None


class WireRun(BaseModel):
    """`RunLog` (GET /runs/{id}), or `RunStatus` / WES 1.1 `RunSummary` (an item of GET /runs:
    `run_id`, `state`, and in 1.1 `start_time`, `end_time`, `tags`). `task_logs` is read item
    by item (`WireLog`), as it may also come from the paged `/tasks` endpoint."""

    model_config = _LENIENT

    run_id: str
    state: str | None = None
    request: WireRequest | None = None
    run_log: WireLog | None = None
    task_logs_url: str | None = None
    outputs: Any = None
    start_time: str | None = None
    end_time: str | None = None
    tags: dict[str, Any] | None = None


class WireRunList(BaseModel):
    """`RunListResponse`. The standard names the items `runs`; wes-service's reference server
    (and WES drafts before 1.0) call them `workflows`."""

    model_config = _LENIENT

    runs: list[Any] | None = None
    workflows: list[Any] | None = None
    next_page_token: str | None = None


class WireTaskList(BaseModel):
    """`TaskListResponse` of WES 1.1 (GET /runs/{id}/tasks)."""

    model_config = _LENIENT

    task_logs: list[Any] | None = None
    next_page_token: str | None = None
