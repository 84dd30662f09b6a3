"""A scripted backend for the waiting tests (this module holds no tests).

`ScriptedServer` serves jobs whose views change over time, through `httpx.MockTransport`:
`GET /jobs/{id}`, `GET /jobs/{id}/await?offset=N` (held until the job ends, 408 after `hold`
seconds), `GET /jobs?workflow=&state=`, `GET /refresh` and `DELETE /jobs/{id}`. It records every
request and how many were in flight at once. Four adapters speak it: `PlainAdapter` (no
capability), `LongPollAdapter` (long-poll, cancel), `WholeListingAdapter` (the same, its listings
showing jobs whole) and `BatchAdapter` (batch refresh, cancel).

The server keeps the time of the event loop it answers on, so a test run on `virtual_time`
(looptime: the loop's clock jumps to the next timer whenever nothing else is ready) sees its
timelines, the engine's pauses and its deadline all move together, in no real time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

import httpx
import looptime

from jobhub.backend import Adapter, Call, Capability, HeaderAuth, Page, Wanted
from jobhub.config import BackendSettings, HeaderSecret
from jobhub.hookspecs import hookimpl
from jobhub.model import Job, JobState, Task
from jobhub.plugins import Registry
from tests.conftest import SECRET

FAST = {"poll_interval": 0.02, "poll_max": 0.08, "timeout": 5.0}
Step = tuple[float, dict[str, Any]]

# A test on virtual time fails (LoopTimeoutError) once its loop has lived this many seconds.
VIRTUAL_TIME_LIMIT = 3600.0


def _virtual_time_loop() -> asyncio.AbstractEventLoop:
    return looptime.new_event_loop(start=0.0, end=VIRTUAL_TIME_LIMIT)


# The `anyio_backend` of a module whose tests run on virtual time: pauses, timeouts and
# deadlines take loop seconds, which pass as soon as nothing else is ready.
VIRTUAL_TIME = ("asyncio", {"loop_factory": _virtual_time_loop})


def clock() -> float:
    """The running loop's time (virtual under looptime); `time.monotonic` outside a loop."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


class ScriptedSettings(BackendSettings):
    url: str = "http://scripted.test/api"
    api_key: HeaderSecret = None


class PlainAdapter(Adapter):
    """Get and list only: waits GET each job (helped by workflow listings)."""

    type = "plain"
    Settings = ScriptedSettings
    settings: ScriptedSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def auth(self) -> httpx.Auth:
        return HeaderAuth(self, "X-Token", self.settings.api_key, setting="api_key")

    def normalize(self, payload: Any) -> Job:
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            raise self.invalid("a job must be an object with a string id", payload)
        return Job(
            ref=self.ref(payload["id"]),
            backend=self.name,
            type=self.type,
            id=payload["id"],
            workflow=payload.get("workflow"),
            state=JobState(payload["state"]),
            progress=payload.get("progress"),
            outputs=payload.get("outputs"),
            tasks=[Task(name=t["name"], state=JobState(t["state"])) for t in payload["tasks"]],
            raw=payload,
        )

    def _job(self, response: httpx.Response) -> Job:
        return self.normalize(self.json(response))

    def get_job(self, job_id: str) -> Call[Job]:
        return Call(self.request("GET", "jobs", job_id), self._job)

    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        def parse(response: httpx.Response) -> Page:
            return Page([self.normalize(item) for item in self.json(response)["jobs"]])

        params = {"workflow": workflow, "state": state.value if state is not None else None}
        return Call(self.request("GET", "jobs", params=params), parse)


class LongPollAdapter(PlainAdapter):
    type = "longpoll"
    capabilities = frozenset({Capability.LONG_POLL, Capability.CANCEL})

    def await_job(self, job_id: str, *, offset: int = 0) -> Call[Job]:
        request = self.request("GET", "jobs", job_id, "await", params={"offset": offset})
        return Call(request, self._job, retry=False, timeout=60.0)

    def cancel_job(self, job_id: str) -> Call[None]:
        return Call(self.request("DELETE", "jobs", job_id), lambda response: None)


class WholeListingAdapter(LongPollAdapter):
    """A long-poll backend whose listings show each job whole, as Sieve's do."""

    type = "whole"
    lists_whole_jobs = True


class BatchAdapter(PlainAdapter):
    type = "batch"
    capabilities = frozenset({Capability.BATCH_REFRESH, Capability.CANCEL})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: list[str] = []  # the id of each job a refresh read (not kept as it was)

    def refresh_jobs(self, *, wanted: Callable[[str], bool] | None = None) -> Call[list[Job]]:
        def parse(response: httpx.Response) -> list[Job]:
            jobs = []
            for item in self.json(response)["jobs"]:
                if wanted is not None and not wanted(item["id"]):
                    continue
                kept = wanted.unchanged(item["id"], item) if isinstance(wanted, Wanted) else None
                if kept is None:
                    self.read.append(item["id"])
                jobs.append(kept if kept is not None else self.normalize(item))
            return jobs

        return Call(self.request("GET", "refresh"), parse)

    def cancel_job(self, job_id: str) -> Call[None]:
        return Call(self.request("DELETE", "jobs", job_id), lambda response: None)


class ScriptedPlugin:
    @staticmethod
    @hookimpl
    def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
        for adapter in (PlainAdapter, LongPollAdapter, WholeListingAdapter, BatchAdapter):
            register(adapter)


def scripted_registry() -> Registry:
    registry = Registry()
    registry.register(ScriptedPlugin(), name="scripted")
    return registry


def config(adapter_type: str, name: str = "b", **settings: Any) -> dict[str, dict[str, Any]]:
    return {name: {"type": adapter_type, "api_key": SECRET, **FAST, **settings}}


@dataclass
class Seen:
    at: float
    method: str
    route: str  # "get", "await", "list", "refresh", "cancel"
    job: str | None
    params: dict[str, str]


@dataclass
class ScriptedJob:
    steps: list[Step]
    cancelled_at: float | None = None


@dataclass
class ScriptedServer:
    """Jobs as timelines: `{"a": [(0, {"state": "running"}), (0.3, {"state": "succeeded"})]}`;
    a view is the merge of every step reached. `faults[route]` answers are used first."""

    timelines: dict[str, list[Step]] = field(default_factory=dict)
    hold: float = 5.0
    latency: float = 0.0
    workflow: str | None = None
    faults: dict[str, list[httpx.Response]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    holding: int = 0

    def __post_init__(self) -> None:
        self.start: float | None = None  # the timelines start with the first request
        self.jobs = {job_id: ScriptedJob(list(steps)) for job_id, steps in self.timelines.items()}

    def restart(self) -> None:
        """The timelines start now."""
        self.start = clock()

    def now(self) -> float:
        if self.start is None:
            self.restart()
        assert self.start is not None
        return clock() - self.start

    def add(self, job_id: str, steps: list[Step]) -> None:
        """A job appearing from now on (its steps are relative to now)."""
        now = self.now()
        self.jobs[job_id] = ScriptedJob([(now + at, fields) for at, fields in steps])

    def view(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        now = self.now()
        if job is None or job.steps[0][0] > now:
            return None
        payload: dict[str, Any] = {
            "id": job_id,
            "workflow": self.workflow,
            "state": "queued",
            "tasks": [],
            "outputs": [],
        }
        for at, fields in job.steps:
            if at <= now:
                payload.update(fields)
        cancelled = job.cancelled_at is not None and job.cancelled_at <= now
        if cancelled and not JobState(payload["state"]).terminal:
            payload["state"] = "cancelled"
        return payload

    def ended(self, job_id: str) -> bool:
        view = self.view(job_id)
        return view is not None and JobState(view["state"]).terminal

    def routes(self, route: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.route == route]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().split("?")[0]
        parts = [unquote(part) for part in path.split("/")[2:]]  # after /api
        job_id = parts[1] if len(parts) > 1 else None
        if parts == ["refresh"]:
            route = "refresh"
        elif parts == ["jobs"]:
            route = "list"
        elif len(parts) == 3 and parts[2] == "await":
            route = "await"
        elif request.method == "DELETE":
            route = "cancel"
        else:
            route = "get"
        params = dict(request.url.params)
        self.requests.append(Seen(self.now(), request.method, route, job_id, params))
        if request.headers.get("X-Token") != SECRET:
            return httpx.Response(401, json={"detail": "bad token"})
        queued = self.faults.get(route)
        if queued:
            return queued.pop(0)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return await self._answer(route, job_id, params)
        finally:
            self.in_flight -= 1

    async def _answer(
        self, route: str, job_id: str | None, params: dict[str, str]
    ) -> httpx.Response:
        if route == "refresh":
            return _json({"jobs": self._all()})
        if route == "list":
            workflow, state = params.get("workflow"), params.get("state")
            jobs = [
                job
                for job in self._all()
                if (workflow is None or job["workflow"] == workflow)
                and (state is None or job["state"] == state)
            ]
            return _json({"jobs": jobs})
        assert job_id is not None
        if self.view(job_id) is None:
            return httpx.Response(404, json={"detail": "no such job"})
        if route == "cancel":
            self.jobs[job_id].cancelled_at = self.now()
            return _json({"message": "cancelled"})
        if route == "await":
            return await self._hold(job_id, int(params.get("offset", "0")))
        return _json(self.view(job_id))

    async def _hold(self, job_id: str, offset: int) -> httpx.Response:
        asked = self.now()
        self.holding += 1
        try:
            while not self.ended(job_id):
                now = self.now()
                if now - asked >= self.hold:
                    return httpx.Response(408, json={"detail": "Request timeout."})
                # Until the job's next step, the end of the hold, or 0.5 s (for a cancel): a
                # few wake-ups per hold rather than one every few milliseconds.
                later = [at for at, _ in self.jobs[job_id].steps if at > now]
                await asyncio.sleep(max(0.001, min(asked + self.hold, now + 0.5, *later) - now))
        finally:
            self.holding -= 1
        view = self.view(job_id)
        assert view is not None
        return _json({**view, "outputs": view["outputs"][offset:]})

    def _all(self) -> list[dict[str, Any]]:
        views = [self.view(job_id) for job_id in self.jobs]
        return [view for view in views if view is not None]


def _json(body: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode())


def status(code: int, body: Any = None, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body or {"detail": "x"}).encode()
    return httpx.Response(code, content=content, headers=headers)


def life(*states: tuple[float, str]) -> list[Step]:
    """A timeline of states only: `life((0, "queued"), (0.1, "running"), (0.3, "succeeded"))`."""
    return [(at, {"state": state}) for at, state in states]
