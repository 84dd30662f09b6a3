"""The prunner adapter: a self-hosted pipeline runner (https://github.com/Flowpack/prunner).

    GET  /job/detail?id=<uuid>    one job
    GET  /pipelines/jobs          every job the server holds, newest first, no paging
    POST /job/cancel?id=<uuid>    200 `true`; 500 "Error canceling job" once the job completed
                                  without being cancelled; 200 `true` for a cancelled one

Job ids travel in the query string (httpx encodes them), never in the path. Requests carry a
freshly signed JWT (`jobhub_prunner.auth`). prunner's own error bodies are `{"error": "..."}`;
its JWT middleware answers 401 in plain text (`no token found`, `token is unauthorized`,
`token is expired`). The state table is in `jobhub_prunner.normalize`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import NoneType
from typing import Annotated, Any

import httpx
from pydantic import Field, SecretStr, ValidationError

from jobhub.backend import Adapter, Call, ErrorHints, Page, Wanted, excerpt
from jobhub.config import BackendSettings, FromEnv, HeaderSecret
from jobhub.errors import InvalidRef, JobAlreadyFinished, JobHubError
from jobhub.model import Job, JobState
from jobhub.problems import describe
from jobhub_prunner.auth import JwtAuth
from jobhub_prunner.normalize import to_job
from jobhub_prunner.wire import WireJobList

__all__ = ["PrunnerAdapter", "PrunnerSettings"]

CANCEL_REFUSED = "error canceling job"  # prunner's 500 body when the job has already ended


class PrunnerSettings(BackendSettings):
    """Settings of a prunner backend. Authenticate with `jwt_secret` (the server's secret;
    default `$PRUNNER_JWT_SECRET`), from which a token is signed per request, or with a ready
    `token`."""

    url: str = "http://localhost:9009"
    jwt_secret: Annotated[SecretStr | None, FromEnv("PRUNNER_JWT_SECRET")] = None
    token: HeaderSecret = None
    # `/pipelines/jobs` answers with every job the server holds in one body: 10,000 jobs of
    # 50 tasks are about 80 MiB, past the 64 MiB every other backend is capped at.
    max_response_bytes: int = Field(default=128 * 1024 * 1024, gt=0)
    user: str = Field(
        default="jobhub",
        min_length=1,
        description="the JWT `sub`: prunner records it as the user of jobs this client starts",
    )


class PrunnerAdapter(Adapter):
    """get, list (filtered by pipeline on the client), cancel and batch refresh on prunner."""

    type = "prunner"
    Settings = PrunnerSettings
    hints = ErrorHints(
        auth="check jwt_secret / token and the clock",
        not_found=(
            "check the job id and the backend name; prunner also deletes finished jobs "
            "once its retention period or count is reached"
        ),
    )

    def __init__(self, name: str, settings: BackendSettings) -> None:
        if not isinstance(settings, PrunnerSettings):
            settings = PrunnerSettings.model_validate(settings.model_dump())
        super().__init__(name, settings)
        self._auth = JwtAuth(
            label=f"{self.type} backend {name!r}",
            user=settings.user,
            jwt_secret=settings.jwt_secret,
            token=settings.token,
        )

    def auth(self) -> httpx.Auth:
        return self._auth

    # -- reading jobs ---------------------------------------------------------------------------

    def normalize(self, payload: Any) -> Job:
        try:
            return to_job(payload, backend=self.name)
        except ValidationError as exc:
            raise self.invalid(f"unreadable job ({describe(exc)})", payload) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise self.invalid(f"unreadable job ({exc})", payload) from None

    def canonical_id(self, job_id: str) -> str:
        """prunner reads ids as UUIDs (upper-case, `{braced}`, ...) and answers with the
        lower-case hyphenated form."""
        try:
            return str(uuid.UUID(job_id))
        except ValueError:
            return job_id

    def get_job(self, job_id: str) -> Call[Job]:
        return Call(
            self.request("GET", "job", "detail", params={"id": job_id}),
            parse=lambda response: self.normalize(self.json(response)),
            on_error=lambda response: self._bad_id(response, job_id),
        )

    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        def parse(response: httpx.Response) -> Page:
            body = self.json(response)
            return Page(self._jobs(body, workflow=workflow, state=state, limit=limit))

        return Call(self.request("GET", "pipelines", "jobs"), parse=parse)

    def refresh_jobs(self, *, wanted: Callable[[str], bool] | None = None) -> Call[list[Job]]:
        return Call(
            self.request("GET", "pipelines", "jobs"),
            parse=lambda response: self._jobs(self.json(response), wanted=wanted),
        )

    def _jobs(
        self,
        body: Any,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
        wanted: Callable[[str], bool] | None = None,
    ) -> list[Job]:
        """The jobs of a `/pipelines/jobs` answer, in its order, filtered; stops at `limit`.
        With `wanted`, a job whose id it refuses is passed over before it is read, and, when
        it is a `Wanted`, one that has not changed is its last view, not read again."""
        items = body.get("jobs") if isinstance(body, dict) else None
        if type(items) is not list or type(body.get("pipelines", [])) not in (list, NoneType):
            items = self.validate(WireJobList, body, what="not a job listing").jobs
        unchanged = wanted.unchanged if isinstance(wanted, Wanted) else None
        jobs: list[Job] = []
        for item in items or ():
            # The pipeline is compared before normalizing: other pipelines' jobs cost nothing.
            if workflow is not None and isinstance(item, dict) and item.get("pipeline") != workflow:
                continue
            job = None
            if wanted is not None and type(item) is dict:  # so is the id: a refresh holds
                job_id = item.get("id")  # every job the server remembers, few of them followed
                if type(job_id) is str:
                    if not wanted(job_id):
                        continue
                    if unchanged is not None:  # a job that did not move: its view as it was
                        job = unchanged(job_id, item)
            if job is None:
                job = self.normalize(item)
            if state is not None and job.state is not state:
                continue
            jobs.append(job)
            if limit is not None and len(jobs) >= limit:
                break
        return jobs

    # -- cancelling -----------------------------------------------------------------------------

    def cancel_job(self, job_id: str) -> Call[None]:
        """prunner answers 200 for a job that has already been cancelled, fail-fast's failed
        jobs included, and 500 for one that failed without cancelling anything: the job is
        read once the cancel is accepted, and a failed one is `JobAlreadyFinished` either way.
        (A cancel only ever makes a job `canceled`, never `errored`, so that read is safe.)"""

        def parse(response: httpx.Response) -> None:
            self.json(response)  # `true`; anything that is not JSON means a wrong url

        def check(response: httpx.Response) -> None:
            job = self.normalize(self.json(response))
            if job.state is JobState.FAILED:
                raise self._already_finished(response, "the job has already failed")

        def read_back(_: None) -> Call[None]:
            return Call(
                self.request("GET", "job", "detail", params={"id": job_id}),
                parse=check,
                on_error=lambda response: self._bad_id(response, job_id),
            )

        return Call(
            self.request("POST", "job", "cancel", params={"id": job_id}),
            parse=parse,
            on_error=lambda response: self._cancel_refused(response, job_id),
            then=read_back,
        )

    def _cancel_refused(self, response: httpx.Response, job_id: str) -> JobHubError | None:
        if response.status_code == 500:
            detail = self.error_detail(response)
            if detail is not None and detail.strip().lower() == CANCEL_REFUSED:
                return self._already_finished(response, f"500 {detail} — job has already finished")
        return self._bad_id(response, job_id)

    def _already_finished(self, response: httpx.Response, what: str) -> JobAlreadyFinished:
        return JobAlreadyFinished(
            f"{self.type} backend {self.name!r}: {what}, so there is nothing to cancel",
            backend=self.name,
            status_code=response.status_code,
            raw=self.error(response).raw if response.is_error else self.json(response),
        )

    # -- errors ---------------------------------------------------------------------------------

    def _bad_id(self, response: httpx.Response, job_id: str) -> JobHubError | None:
        """prunner answers 400 only when the id is not a UUID: no job can have it."""
        if response.status_code != 400:
            return None
        detail = self.error_detail(response) or "Bad Request"
        return InvalidRef(
            f"{self.type} backend {self.name!r}: 400 {detail} — prunner job ids are UUIDs "
            f"like 52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8, not {excerpt(job_id, 80)!r}",
            backend=self.name,
            status_code=400,
            raw=self.error(response).raw,
        )

    def error_detail(self, response: httpx.Response) -> str | None:
        """prunner's `{"error": "..."}`; the JWT middleware's 401s are plain text, read by the
        shared fallback (which also ignores a proxy's HTML page)."""
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, str) and error.strip():
                return excerpt(error.strip(), 160)
        return super().error_detail(response)
