"""The Pixxel workflows adapter (`type = "pixxel"`).

A Pixxel job is addressed by two ids, so jobhub's id for it is `"<workflow_id>/<job_id>"`
(a ref reads `pixxel:<workflow_id>/<job_id>`). The workflow id is everything before the first
`/`; the job id is the rest. Each part travels as its own escaped URL segment.

- get: `GET /v0/workflows/{workflow_id}/jobs/{job_id}`.
- list with `workflow=`: `GET /v0/workflows/{workflow_id}/jobs` (one page, no pagination).
- list without a workflow: every job the key can see — the workflows are walked page by page
  (`GET /v0/workflows?limit=&offset=`) and each one's jobs listed in turn, so a listing costs
  one request per workflow; pass `workflow=` (or a `limit`, which stops the walk early) when
  that matters.
- `state=` is sent as the server's `status` filter only for the job status words the vendor
  documents (`running`, `completed`, `failed`); the hub checks every job's state anyway.
- cancel: Pixxel's API has none, so `cancel_job` raises `NotSupported`.
- auth: the bare API key in `Authorization` (no `Bearer`), default from `PIXXEL_API_KEY`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import httpx

from jobhub.backend import Adapter, Call, ErrorHints, HeaderAuth, Page, excerpt
from jobhub.config import BackendSettings, FromEnv, HeaderSecret
from jobhub.errors import InvalidRef
from jobhub.model import Job, JobState
from jobhub_pixxel.normalize import to_job, to_jobs
from jobhub_pixxel.wire import JobList, WorkflowPage

__all__ = ["PixxelAdapter", "PixxelSettings"]

# `status` filter words the vendor documents for jobs; other states are filtered by the hub.
SERVER_STATUS = {
    JobState.RUNNING: "running",
    JobState.SUCCEEDED: "completed",
    JobState.FAILED: "failed",
}


class PixxelSettings(BackendSettings):
    """Settings of a Pixxel backend; `api_key` defaults to `$PIXXEL_API_KEY`."""

    url: str = "https://api.pixxel.space"
    api_key: Annotated[HeaderSecret, FromEnv("PIXXEL_API_KEY")] = None


class PixxelAdapter(Adapter):
    """Pixxel workflow jobs: get and list; no cancel."""

    type = "pixxel"
    Settings = PixxelSettings
    settings: PixxelSettings
    hints = ErrorHints(
        auth="check api_key (or PIXXEL_API_KEY): it is sent as the bare key in the "
        "Authorization header, without 'Bearer', and must be allowed to read this workflow",
        not_found="check the ids: a Pixxel job id is '<workflow_id>/<job_id>', and the "
        "workflow must exist and be visible to this key",
    )
    # Workflows asked for per page when listing without a workflow (the server's default).
    workflows_page_size: ClassVar[int] = 50

    def auth(self) -> httpx.Auth:
        return HeaderAuth(self, "Authorization", self.settings.api_key, setting="api_key")

    # -- ids ------------------------------------------------------------------------------------

    def check_id(self, job_id: str) -> str:
        self.split_id(job_id)
        return job_id

    def split_id(self, job_id: str) -> tuple[str, str]:
        """`"<workflow_id>/<job_id>"` → its two parts, or `InvalidRef` saying what is expected."""
        if isinstance(job_id, str):
            workflow_id, sep, own_id = job_id.partition("/")
            if sep and workflow_id.strip() and own_id.strip():
                return workflow_id, own_id
        raise InvalidRef(
            f"{self.type} backend {self.name!r}: job id {excerpt(job_id, 80)!r} is not of the "
            "form '<workflow_id>/<job_id>' — a Pixxel job is addressed by its workflow's id "
            f"and its own, e.g. '{self.name}:3f6c1e2a-workflow/9b1d7c44-job'",
            backend=self.name,
        )

    # -- jobs -----------------------------------------------------------------------------------

    def normalize(self, payload: Any, *, workflow_id: str | None = None) -> Job:
        """A Pixxel job, full or list item; `workflow_id` fills in a payload that lacks one."""
        return to_job(self, payload, workflow_id=workflow_id)

    def get_job(self, job_id: str) -> Call[Job]:
        workflow_id, own_id = self.split_id(job_id)
        request = self.request("GET", "v0", "workflows", workflow_id, "jobs", own_id)
        return Call(
            request, lambda response: self.normalize(self.json(response), workflow_id=workflow_id)
        )

    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        status = SERVER_STATUS.get(state) if state is not None else None
        if workflow:
            return self._workflow_jobs(workflow, status, then=None)
        return self._workflows(status, offset=0, seen=frozenset())

    # -- listing --------------------------------------------------------------------------------

    def _workflow_jobs(
        self,
        workflow_id: str,
        status: str | None,
        *,
        then: Callable[[], Call[Page] | None] | None,
        name: str | None = None,
    ) -> Call[Page]:
        """One workflow's jobs; `then` gives the call for whatever comes after them. `name`, the
        workflow's own name where the workflow list gave it, is kept as the `workflow_name`
        label (job answers carry only the workflow's id)."""
        request = self.request(
            "GET", "v0", "workflows", workflow_id, "jobs", params={"status": status}
        )

        def parse(response: httpx.Response) -> Page:
            body = self.json(response)
            if isinstance(body, list):  # tolerate a bare array
                items: list[Any] = body
            else:
                if not isinstance(body, dict):
                    raise self.invalid("a job list must be a JSON object with 'jobs'", body)
                what = "'jobs' must be a list of job objects"
                items = self.validate(JobList, body, what=what).jobs or []
            jobs = to_jobs(self, items, workflow_id=workflow_id, workflow_name=name)
            return Page(jobs, then() if then is not None else None)

        return Call(request, parse)

    def _workflows(self, status: str | None, *, offset: int, seen: frozenset[str]) -> Call[Page]:
        """A page of workflows; its Page holds no jobs and chains every workflow's job list,
        then the next page of workflows."""
        request = self.request(
            "GET",
            "v0",
            "workflows",
            params={"limit": self.workflows_page_size, "offset": offset},
        )

        def parse(response: httpx.Response) -> Page:
            body = self.json(response)
            if not isinstance(body, dict):
                raise self.invalid("a workflow list must be a JSON object", body)
            what = "'workflows' must be a list of workflow objects"
            page = self.validate(WorkflowPage, body, what=what)
            listed = page.workflows or []
            ids = [w.id for w in listed if w.id and w.id not in seen]
            names = {w.id: w.name for w in listed if w.id and w.name}
            following = offset + len(listed)
            total = page.pagination.total if page.pagination else None
            more = bool(ids) and (
                following < total if total is not None else len(listed) >= self.workflows_page_size
            )
            now_seen = seen | set(ids)

            def after() -> Call[Page] | None:
                return self._workflows(status, offset=following, seen=now_seen) if more else None

            return Page([], self._chain(ids, status, after, names))

        return Call(request, parse)

    def _chain(
        self,
        ids: list[str],
        status: str | None,
        after: Callable[[], Call[Page] | None],
        names: dict[str, str],
    ) -> Call[Page] | None:
        if not ids:
            return after()
        first, rest = ids[0], ids[1:]
        return self._workflow_jobs(
            first,
            status,
            then=lambda: self._chain(rest, status, after, names),
            name=names.get(first),
        )

    # -- errors ---------------------------------------------------------------------------------

    def error_detail(self, response: httpx.Response) -> str | None:
        """Pixxel's error body: `{"error": {"code", "message", "details"}}`."""
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return super().error_detail(response)
        code, message, details = error.get("code"), error.get("message"), error.get("details")
        words = [str(part) for part in (code, message) if part not in (None, "")]
        said = ": ".join(words)
        if details not in (None, "", [], {}):
            said = f"{said} ({excerpt(details, 100)})" if said else excerpt(details, 100)
        return excerpt(said, 200) if said else super().error_detail(response)
