"""The Sieve adapter: hosted ML function jobs at `https://mango.sievedata.com` (API v2).

Calls: get `GET /v2/jobs/{id}`; long-poll `GET /v2/jobs/{id}/await` (held up to ~10 minutes,
then 408); list `GET /v2/jobs`, or `GET /v2/functions/{owner}/{function}/jobs` for
`workflow="owner/function"`; cancel `DELETE /v2/jobs/{id}`. Auth is the `X-API-Key` header.

How a Sieve job becomes a `Job`:

- `workflow` is `owner_name/name` of `function`. Listed through the function path, where Sieve
  sends `function: null`, it is the function the listing asked for.
- `state` from `status` by `SIEVE_STATES`; `status` keeps Sieve's own word.
- times: `created_at`, `started_at`, `completed_at` (zone-less, UTC) → `created_at`,
  `started_at`, `finished_at`; `duration` is finish minus start in seconds.
- `progress` is 1.0 once succeeded, otherwise null (Sieve reports none).
- `error`: Sieve's message; its "" (no error) is null.
- `inputs` is `{name: data}`: the `data` of each InputOutput record, so a job reads as what it
  was called with (`{"video": {"url": ...}, "slow_factor": 2}`). Types, descriptions and schemas
  stay in `raw`.
- `outputs` is the list of each output's `data`, in order; an output that is itself a list (a
  generator's yield) stays a list of `data`.
- `children` is the child job ids from `children` (`{key: [id or {id}, ...]}`, or a plain list).
- `restarts` is the number of restart records.
- `labels`: `visibility`, `function_id` and `organization_id` when Sieve sends them.
- `user` and `cost` are null: a Sieve job names neither.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
from pydantic import Field

from jobhub.backend import (
    Adapter,
    Call,
    ErrorHints,
    HeaderAuth,
    Page,
    excerpt,
)
from jobhub.config import MAX_SECONDS, BackendSettings, FromEnv, HeaderSecret
from jobhub.errors import BackendUnavailable, InvalidArgument, JobAlreadyFinished, JobHubError
from jobhub.model import Job, JobState
from jobhub_sieve.normalize import SIEVE_STATES, to_job
from jobhub_sieve.wire import WireList, json_kind

__all__ = ["SIEVE_STATES", "SieveAdapter", "SieveSettings"]

# The server's own page size when a listing names no limit, and its maximum.
MAX_PAGE = 500
# The words `status=` filters a v2 listing by (its OpenAPI spec); older words are never sent.
STATUS_FILTERS = frozenset({"queued", "processing", "error", "finished", "cancelled"})
# The server holds /await for about ten minutes; give the answer a minute more to arrive.
AWAIT_TIMEOUT = 660.0


class SieveSettings(BackendSettings):
    """Settings of a Sieve backend; `api_key` defaults to `$SIEVE_API_KEY`."""

    type: str = "sieve"
    url: str = "https://mango.sievedata.com"
    api_key: Annotated[HeaderSecret, FromEnv("SIEVE_API_KEY")] = None
    await_timeout: float = Field(
        default=AWAIT_TIMEOUT,
        gt=0,
        le=MAX_SECONDS,
        description="seconds one long-poll (/await) may take; the server holds it ~10 minutes",
    )


class SieveAdapter(Adapter):
    """Sieve jobs: get, list (all, or one function's), cancel and long-poll await."""

    type = "sieve"
    Settings = SieveSettings
    settings: SieveSettings
    hints = ErrorHints(
        auth="check api_key (or the SIEVE_API_KEY environment variable)",
        not_found="check the job id (or the function's owner/name) and the backend name",
    )
    # The API's listings (`ListResponse_Job_`) hold the same `Job` schema `GET /v2/jobs/{id}`
    # answers with, read by the same `to_job`: a wait takes an end it sees listed as it is.
    lists_whole_jobs = True

    def auth(self) -> httpx.Auth:
        return HeaderAuth(self, "X-API-Key", self.settings.api_key, setting="api_key")

    # -- normalize ------------------------------------------------------------------------------

    def normalize(self, payload: Any) -> Job:
        return to_job(self, payload)

    # -- calls ----------------------------------------------------------------------------------

    def get_job(self, job_id: str, *, offset: int = 0) -> Call[Job]:
        """The job now; `offset` leaves out its first N outputs."""
        request = self.request(
            "GET", "v2", "jobs", self.check_id(job_id), params={"offset": self._offset(offset)}
        )
        return Call(request, self._parse_job)

    def await_job(self, job_id: str, *, offset: int = 0) -> Call[Job]:
        """The job once it ends (or Sieve's 408 after ~10 minutes); `offset` as for get."""
        request = self.request(
            "GET",
            "v2",
            "jobs",
            self.check_id(job_id),
            "await",
            params={"offset": self._offset(offset)},
        )
        return Call(
            request,
            self._parse_job,
            on_error=self._await_expired,
            retry=False,
            timeout=self._await_timeout(),
        )

    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        """Jobs of the organization, or of one function when `workflow` is `owner/function`,
        newest first. `state` is sent to the server when one v2 status word names it
        (`running` as `processing`, `cancelled` as `cancelled`)."""
        segments: tuple[str, ...] = ("v2", "jobs")
        if workflow is not None:
            segments = ("v2", "functions", *self._function(workflow), "jobs")
        words = [w for w in SIEVE_STATES.words(state) if w in STATUS_FILTERS] if state else []
        params = {
            "limit": min(limit, MAX_PAGE) if limit else None,
            "status": words[0] if len(words) == 1 else None,
        }
        return self._page_call(segments, params, 0, workflow)

    def cancel_job(self, job_id: str) -> Call[None]:
        """Cancel a queued or running job; `JobAlreadyFinished` once it has ended."""
        job_id = self.check_id(job_id)
        request = self.request("DELETE", "v2", "jobs", job_id)

        def on_error(response: httpx.Response) -> JobHubError | None:
            detail = self.error_detail(response) or ""
            if response.status_code != 400 or "processing" not in detail.lower():
                return None
            return JobAlreadyFinished(
                f"{self.type} backend {self.name!r}: 400 {detail} — job {job_id!r} has already "
                "ended (finished, failed or cancelled), so it cannot be cancelled",
                backend=self.name,
                status_code=response.status_code,
                raw=self.error(response).raw,
            )

        return Call(request, _ignore, on_error=on_error)

    # -- errors ---------------------------------------------------------------------------------

    def error_detail(self, response: httpx.Response) -> str | None:
        """FastAPI's bodies: `{"detail": "..."}`, and for 422 `{"detail": [{loc, msg, type}]}`
        read as `query.limit: Input should be a valid integer`."""
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("detail"), list) and body["detail"]:
            return excerpt("; ".join(_validation_line(item) for item in body["detail"]), 300)
        return super().error_detail(response)

    # -- pieces ---------------------------------------------------------------------------------

    def _await_expired(self, response: httpx.Response) -> JobHubError | None:
        """Sieve's 408 on /await: its hold ended before the job did. Still the transient
        `BackendUnavailable(status_code=408)` a waiter re-issues on, with a message that says so."""
        if response.status_code != 408:
            return None
        return BackendUnavailable(
            f"{self.type} backend {self.name!r}: 408 the job did not end within Sieve's "
            "~10-minute await hold — await it again",
            backend=self.name,
            status_code=408,
            raw=self.error(response).raw,
        )

    def _parse_job(self, response: httpx.Response) -> Job:
        return to_job(self, self.json(response))

    def _page_call(
        self,
        segments: tuple[str, ...],
        params: dict[str, Any],
        offset: int,
        workflow: str | None,
    ) -> Call[Page]:
        request = self.request("GET", *segments, params={**params, "offset": offset or None})

        def parse(response: httpx.Response) -> Page:
            return self._page(self.json(response), segments, params, offset, workflow)

        return Call(request, parse)

    def _page(
        self,
        body: Any,
        segments: tuple[str, ...],
        params: dict[str, Any],
        offset: int,
        workflow: str | None,
    ) -> Page:
        """One page. The `{"data", "next_offset"}` form says where the next page starts (-1: no
        next); the older bare array has a next page only when it came back full."""
        if isinstance(body, list):
            items = body
            full = len(items) >= (params["limit"] or MAX_PAGE)
            next_offset = offset + len(items) if items and full else -1
        elif isinstance(body, dict):
            page = self.validate(WireList, body, what="job list does not match Sieve's")
            items, next_offset = page.data, page.next_offset
            if next_offset != -1 and next_offset <= offset:
                raise self.invalid(
                    f"next_offset {next_offset} does not move past offset {offset}", body
                )
        else:
            raise self.invalid(
                f"a job list must be an object or an array, not {json_kind(body)}", body
            )
        jobs = [to_job(self, item, workflow) for item in items]
        following = (
            self._page_call(segments, params, next_offset, workflow) if next_offset != -1 else None
        )
        return Page(jobs, following)

    def _function(self, workflow: str) -> tuple[str, str]:
        owner, _, function = workflow.partition("/")
        if not owner or not function or "/" in function:
            raise InvalidArgument(
                f"{self.type} backend {self.name!r}: workflow {workflow!r} is not a Sieve "
                "function — give it as 'owner/function', e.g. 'sieve/retalker'",
                backend=self.name,
            )
        return owner, function

    def _offset(self, offset: int) -> int | None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidArgument(
                f"{self.type} backend {self.name!r}: offset must be a whole number, 0 or more, "
                f"not {offset!r}",
                backend=self.name,
            )
        return offset or None

    def _await_timeout(self) -> float:
        return self.settings.await_timeout


def _ignore(response: httpx.Response) -> None:
    """Cancel answers `{"message": ...}`; its 200 is the whole answer."""


def _validation_line(item: Any) -> str:
    """One FastAPI validation error (`{loc, msg, type}`) as `query.limit: message`."""
    if not isinstance(item, dict):
        return excerpt(item, 120)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
    message = item.get("msg")
    text = message if isinstance(message, str) and message else excerpt(item, 120)
    return f"{where}: {text}" if where else text
