"""The GA4GH WES adapter: workflow runs on any Workflow Execution Service (API 1.0 and 1.1).

`url` is the service base as WES servers publish it, `/ga4gh/wes/v1` included
(`https://wes.example.org/ga4gh/wes/v1`); there is no default. Calls:

    GET  {url}/runs/{run_id}          RunLog: state, run_log, request, task_logs, outputs
    GET  {url}/runs/{run_id}/tasks    WES 1.1: the run's task logs, paged (`page_token`)
    GET  {url}/runs                   {runs: [{run_id, state}], next_page_token}, paged
    POST {url}/runs/{run_id}/cancel   {run_id}

Auth is optional: a `token` (default `$WES_TOKEN`) is sent as `Authorization: Bearer <token>`.
Error bodies are WES's `ErrorResponse` `{msg, status_code}`, or RFC 7807 problem documents
(`{title, detail, status}`) from servers built on connexion.

How a run becomes a `Job`:

- `id` is `run_id`; `workflow` is `request.workflow_url`; `inputs` is `request.workflow_params`;
  `outputs` is `outputs`; `labels` are `request.tags` (or the 1.1 summary's `tags`), values that
  are not strings written as JSON.
- `state` from `state` by `WES_STATES` (below); `status` keeps the WES word.
- `started_at` / `finished_at` from `run_log.start_time` / `end_time` (or the 1.1 summary's);
  "" is unset. WES has no submission time, so `created_at` is null.
- `error`, for a failed run: the WES word, the run's exit code and the first failing task.
- `tasks` from `task_logs`. A WES 1.1 server may leave `task_logs` null and point to
  `task_logs_url` instead: then the adapter follows up with `GET {url}/runs/{id}/tasks`, page
  after page (the path is built from `url`, never taken from the answer, so a token is only
  ever sent to the configured service). A task log carries no state: it is read from the
  exit code and times (see `task_state`).
- `progress`: 1.0 once complete, else the share of tasks that have ended, else null.
- A listing item is a `RunStatus` (`run_id`, `state`; 1.1 adds times and tags): such jobs have
  no workflow, inputs or tasks until fetched with `get`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import httpx
from pydantic import Field, ValidationError

from jobhub.backend import (
    Adapter,
    Call,
    ErrorHints,
    HeaderAuth,
    Page,
    StateTable,
    excerpt,
    parse_time,
)
from jobhub.config import BackendSettings, FromEnv, HeaderSecret
from jobhub.errors import NotSupported
from jobhub.model import Job, JobState, Task
from jobhub.problems import describe
from jobhub_wes.wire import WireLog, WireRun, WireRunList, WireTaskList

__all__ = ["WES_STATES", "WesAdapter", "WesSettings", "task_state"]

WES_STATES = StateTable(
    "wes",
    {
        "UNKNOWN": JobState.UNKNOWN,
        "QUEUED": JobState.QUEUED,
        # Assigned to a worker that is still preparing (staging inputs): no step runs yet.
        "INITIALIZING": JobState.QUEUED,
        "RUNNING": JobState.RUNNING,
        # Started and not ended; it may resume. The word stays in `status`.
        "PAUSED": JobState.RUNNING,
        "COMPLETE": JobState.SUCCEEDED,
        "EXECUTOR_ERROR": JobState.FAILED,
        "SYSTEM_ERROR": JobState.FAILED,
        "CANCELED": JobState.CANCELLED,
        # Cancel asked for, still stopping: not ended until the server says CANCELED.
        "CANCELING": JobState.RUNNING,
        # WES 1.1: the system reclaimed the run's compute; the run has ended unfinished.
        "PREEMPTED": JobState.FAILED,
    },
)

_FAILURES = {
    "EXECUTOR_ERROR": "a step of the workflow failed",
    "SYSTEM_ERROR": "the workflow system failed (not a step of the workflow)",
    "PREEMPTED": "the system preempted the run (reclaimed its compute)",
}


class WesSettings(BackendSettings):
    """Settings of a WES backend. `url` is required: the service base including
    `/ga4gh/wes/v1` (`$WES_URL`); `token` is an optional bearer token (`$WES_TOKEN`)."""

    type: str = "wes"
    url: Annotated[str, FromEnv("WES_URL")] = Field(
        description="the service base, including /ga4gh/wes/v1"
    )
    token: Annotated[HeaderSecret, FromEnv("WES_TOKEN")] = None
    page_size: int | None = Field(
        default=None, gt=0, description="runs (or tasks) asked for per page; unset: server's"
    )


class WesAdapter(Adapter):
    """Workflow runs on a GA4GH WES service: get, list (paged) and cancel."""

    type = "wes"
    Settings = WesSettings
    settings: WesSettings
    hints = ErrorHints(
        auth="check token (or the WES_TOKEN environment variable)",
        not_found=(
            "check the run id and the backend name, and that url is the service base "
            "including /ga4gh/wes/v1"
        ),
    )

    @classmethod
    def configured_from_env(cls, env: Mapping[str, str]) -> bool:
        """`WES_URL` alone configures a WES backend: many services need no token."""
        return bool(env.get("WES_URL"))

    def auth(self) -> httpx.Auth | None:
        token = self.settings.token
        if token is None or not token.get_secret_value():
            return None
        return HeaderAuth(self, "Authorization", token, setting="token", prefix="Bearer ")

    # -- normalize ------------------------------------------------------------------------------

    def normalize(self, payload: Any) -> Job:
        return self._job(payload)

    def _job(self, payload: Any, task_logs: list[Any] | None = None) -> Job:
        """`normalize`, with the task logs fetched from `/tasks` when the RunLog had none."""
        if not isinstance(payload, dict):
            raise self.invalid(f"a run must be a JSON object, not {_kind(payload)}", payload)
        try:
            wire = _read_run(payload)
        except ValidationError as exc:
            raise self.invalid(
                f"run does not match WES's RunLog: {describe(exc)}", payload
            ) from None
        if not wire.run_id:
            raise self.invalid("run has an empty run_id", payload)
        state = WES_STATES(wire.state)
        run_log = wire.run_log or _NO_LOG
        try:
            started_at = parse_time(run_log.start_time) or parse_time(wire.start_time)
            finished_at = parse_time(run_log.end_time) or parse_time(wire.end_time)
            tasks = self._tasks(payload.get("task_logs") if task_logs is None else task_logs, state)
        except ValidationError as exc:
            raise self.invalid(
                f"run {wire.run_id!r}: a task log does not match WES's: {describe(exc)}", payload
            ) from None
        except (ValueError, OverflowError) as exc:
            raise self.invalid(f"run {wire.run_id!r}: {exc}", payload) from None
        request = wire.request
        try:
            return Job(
                ref=self.ref(wire.run_id),
                backend=self.name,
                type=self.type,
                id=wire.run_id,
                workflow=request.workflow_url if request else None,
                state=state,
                status=wire.state,
                started_at=started_at,
                finished_at=finished_at,
                duration=_duration(started_at, finished_at),
                progress=_progress(state, tasks),
                error=_error(wire.state, state, run_log, tasks),
                tasks=tasks,
                inputs=request.workflow_params if request else None,
                outputs=wire.outputs,
                labels=_labels(request.tags if request and request.tags else wire.tags),
                raw=payload,
            )
        except ValidationError as exc:  # a safety net: the fields above are already checked
            raise self.invalid(f"run {wire.run_id!r}: {describe(exc)}", payload) from None

    def _tasks(self, logs: Any, run_state: JobState) -> list[Task]:
        if logs is None:
            return []
        if not isinstance(logs, list):
            raise ValueError(f"task_logs must be a list, not {_kind(logs)}")
        tasks = []
        for number, item in enumerate(logs, start=1):
            if not isinstance(item, dict):
                raise ValueError(f"task log {number} must be an object, not {_kind(item)}")
            log = _read_log(item)
            state = task_state(log, run_state)
            fields = {
                "name": log.name or log.id or f"task {number}",
                "id": log.id,
                "state": state,
                "status": log.state,
                "started_at": parse_time(log.start_time),
                "finished_at": parse_time(log.end_time),
                "exit_code": log.exit_code,
                "error": _task_error(log) if state is JobState.FAILED else None,
                "raw": item,
            }
            tasks.append(_new_task(fields))
        return tasks

    # -- calls ----------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Call[Job]:
        """The RunLog; when it points to `task_logs_url` instead of holding `task_logs`, the
        task pages are fetched as follow-ups."""
        run_id = self.check_id(job_id)

        def parse(response: httpx.Response) -> Job:
            return self.normalize(self.json(response))

        def then(job: Job) -> Call[Job] | None:
            raw = job.raw
            if raw.get("task_logs") is None and raw.get("task_logs_url"):
                return self._task_page(raw, run_id, [], None, frozenset())
            return None

        return Call(self.request("GET", "runs", run_id), parse, then=then)

    def _task_page(
        self,
        payload: dict[str, Any],
        run_id: str,
        collected: list[Any],
        token: str | None,
        seen: frozenset[str],
    ) -> Call[Job]:
        """One page of `GET /runs/{id}/tasks`; its result is the run with every task so far.
        `seen` holds the tokens already followed."""
        request = self.request(
            "GET",
            "runs",
            run_id,
            "tasks",
            params={"page_size": self._page_size(), "page_token": token},
        )
        following: list[str] = []

        def parse(response: httpx.Response) -> Job:
            body = self.json(response)
            if not isinstance(body, dict):
                raise self.invalid(f"a task list must be an object, not {_kind(body)}", body)
            page = self.validate(WireTaskList, body, what="task list does not match WES's")
            collected.extend(page.task_logs or [])
            if page.next_page_token:
                following.append(self._next_token(page.next_page_token, seen, token, body))
            return self._job(payload, task_logs=list(collected))

        def then(job: Job) -> Call[Job] | None:
            if not following:
                return None
            next_token = following[-1]
            return self._task_page(payload, run_id, collected, next_token, seen | {next_token})

        return Call(request, parse, then=then)

    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        """Runs of the service, a page at a time. WES cannot filter a listing by workflow."""
        if workflow is not None:
            raise NotSupported(
                f"{self.type} backend {self.name!r}: WES lists runs without their workflow, "
                "so it cannot list one workflow's runs — list all and `get` the ones you need",
                backend=self.name,
            )
        size = self._page_size()
        if limit:
            size = min(size, limit) if size else limit
        return self._run_page(size, None, frozenset())

    def _run_page(self, size: int | None, token: str | None, seen: frozenset[str]) -> Call[Page]:
        request = self.request("GET", "runs", params={"page_size": size, "page_token": token})

        def parse(response: httpx.Response) -> Page:
            body = self.json(response)
            if not isinstance(body, dict):
                raise self.invalid(f"a run list must be an object, not {_kind(body)}", body)
            listing = self.validate(WireRunList, body, what="run list does not match WES's")
            items = listing.runs if listing.runs is not None else listing.workflows
            jobs = [self.normalize(item) for item in items or ()]
            next_token = listing.next_page_token
            if not next_token:
                return Page(jobs)
            self._next_token(next_token, seen, token, body)
            return Page(jobs, self._run_page(size, next_token, seen | {next_token}))

        return Call(request, parse)

    def _next_token(self, token: str, seen: frozenset[str], current: str | None, body: Any) -> str:
        """The page token to follow, or `InvalidPayload` when it was followed before: paging
        that comes back to an earlier page (a → b → a) would never end."""
        if token in seen or token == current:
            raise self.invalid(
                f"next_page_token {excerpt(token, 60)!r} repeats an earlier one, so the paging "
                "would never end",
                body,
            )
        return token

    def cancel_job(self, job_id: str) -> Call[None]:
        """Ask the service to cancel the run; it answers `{run_id}` and moves the run through
        CANCELING to CANCELED (some servers accept the request and keep running)."""
        request = self.request("POST", "runs", self.check_id(job_id), "cancel")
        return Call(request, self._cancelled)

    def _cancelled(self, response: httpx.Response) -> None:
        if response.content.strip():
            self.json(response)  # `{run_id}`: anything that is not JSON means a wrong url

    # -- errors ---------------------------------------------------------------------------------

    def error_detail(self, response: httpx.Response) -> str | None:
        """WES's `ErrorResponse` names its message `msg`; connexion-based servers answer RFC 7807
        problem documents, whose `detail` the default reader finds."""
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("msg"), str) and body["msg"]:
            return excerpt(body["msg"], 160)
        return super().error_detail(response)

    # -- pieces ---------------------------------------------------------------------------------

    def _page_size(self) -> int | None:
        return self.settings.page_size


_NO_LOG = WireLog()
# The validators themselves: a run and each of its task logs are read on every poll, so the
# models' Python wrappers are skipped on this hot path.
_read_run = WireRun.__pydantic_validator__.validate_python
_read_log = WireLog.__pydantic_validator__.validate_python
_new_task = Task.__pydantic_validator__.validate_python


def task_state(log: WireLog, run_state: JobState) -> JobState:
    """A task's state. WES task logs carry none, so: a `state` word where a server adds one;
    else exit code 0 → succeeded, another exit code → failed (-1 means "none yet"). Started
    without an exit code: running while the run goes on, else the run's ending. Never started:
    pending while the run goes on, cancelled once it has ended (a finished run never shows
    pending work)."""
    if log.state:
        return WES_STATES(log.state)
    code = None if log.exit_code == -1 else log.exit_code
    if code is not None:
        return JobState.SUCCEEDED if code == 0 else JobState.FAILED
    if log.start_time or log.end_time:
        if run_state.terminal:
            return run_state
        return JobState.UNKNOWN if log.end_time else JobState.RUNNING
    return JobState.CANCELLED if run_state.terminal else JobState.PENDING


def _task_error(log: WireLog) -> str | None:
    if log.system_logs:
        return excerpt(log.system_logs[0], 300)
    if log.exit_code is not None and log.exit_code != 0:
        return f"exited with code {log.exit_code}"
    return None


def _error(word: str | None, state: JobState, run_log: WireLog, tasks: list[Task]) -> str | None:
    if state is not JobState.FAILED:
        return None
    parts = [f"{word}: {_FAILURES.get((word or '').upper(), 'the run failed')}"]
    if run_log.exit_code is not None and run_log.exit_code not in (0, -1):
        parts.append(f"exit code {run_log.exit_code}")
    if run_log.system_logs:
        parts.append(excerpt(run_log.system_logs[0], 200))
    failed = next((task for task in tasks if task.state is JobState.FAILED), None)
    if failed is not None:
        parts.append(f"task {failed.name!r} {failed.error or 'failed'}")
    return "; ".join(parts)


def _progress(state: JobState, tasks: list[Task]) -> float | None:
    if state is JobState.SUCCEEDED:
        return 1.0
    if not tasks:
        return None
    return sum(task.state.terminal for task in tasks) / len(tasks)


def _duration(started_at: datetime | None, finished_at: datetime | None) -> float | None:
    if started_at is None or finished_at is None or finished_at < started_at:
        return None
    return (finished_at - started_at).total_seconds()


def _labels(tags: dict[str, Any] | None) -> dict[str, str]:
    if not tags:
        return {}
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in tags.items()
    }


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
