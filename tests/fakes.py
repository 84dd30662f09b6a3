"""A minimal adapter for testing the core without any real backend.

`FakeAdapter` speaks a tiny JSON API (`GET /jobs/{id}`, `GET /jobs?page=N`,
`POST /jobs/{id}/cancel`) with `X-Token` auth; `FakeServer` answers it through
`httpx.MockTransport` and records every request it saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote

import httpx

from jobhub.backend import Adapter, Call, Capability, HeaderAuth, Page, StateTable
from jobhub.config import BackendSettings, FromEnv, HeaderSecret
from jobhub.model import Job, JobState


class FakeSettings(BackendSettings):
    url: str = "http://fake.test/api"
    api_key: Annotated[HeaderSecret, FromEnv("FAKE_TOKEN")] = None
    page_size: int = 2


STATES = StateTable(
    "fake",
    {
        "waiting": JobState.QUEUED,
        "busy": JobState.RUNNING,
        "ok": JobState.SUCCEEDED,
        "bad": JobState.FAILED,
    },
)


class FakeAdapter(Adapter):
    type = "fake"
    Settings = FakeSettings
    settings: FakeSettings
    capabilities = frozenset({Capability.CANCEL})

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
            state=STATES(payload.get("status")),
            status=payload.get("status"),
            raw=payload,
        )

    def get_job(self, job_id: str) -> Call[Job]:
        return Call(self.request("GET", "jobs", job_id), lambda r: self.normalize(self.json(r)))

    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        return self._page(0)

    def _page(self, number: int) -> Call[Page]:
        def parse(response: httpx.Response) -> Page:
            body = self.json(response)
            jobs = [self.normalize(item) for item in body["jobs"]]
            return Page(jobs, self._page(number + 1) if body.get("more") else None)

        return Call(self.request("GET", "jobs", params={"page": number}), parse)

    def cancel_job(self, job_id: str) -> Call[None]:
        return Call(self.request("POST", "jobs", job_id, "cancel"), lambda r: None)


Handler = Callable[[httpx.Request], httpx.Response]


class FakeServer:
    """Serves `FakeAdapter`'s API from a dict of jobs; `script` can override answers."""

    def __init__(self, jobs: dict[str, str] | None = None, page_size: int = 2) -> None:
        self.jobs = dict(jobs or {})
        self.page_size = page_size
        self.requests: list[httpx.Request] = []
        self.script: list[Handler] = []  # answers used first, one per request

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            return self.script.pop(0)(request)
        parts = [unquote(p) for p in request.url.raw_path.decode().split("?")[0].split("/")[2:]]
        if parts[:1] == ["jobs"] and len(parts) == 1:
            page = int(request.url.params.get("page", "0"))
            ids = sorted(self.jobs)
            chunk = ids[page * self.page_size : (page + 1) * self.page_size]
            more = (page + 1) * self.page_size < len(ids)
            body = {"jobs": [{"id": i, "status": self.jobs[i]} for i in chunk], "more": more}
            return httpx.Response(200, json=body)
        if parts[:1] == ["jobs"] and len(parts) >= 2:
            job_id = parts[1]
            if job_id not in self.jobs:
                return httpx.Response(404, json={"detail": "no such job"})
            if parts[2:] == ["cancel"]:
                self.jobs[job_id] = "bad"
                return httpx.Response(200, json=True)
            return httpx.Response(200, json={"id": job_id, "status": self.jobs[job_id]})
        return httpx.Response(404, json={"detail": "no route"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def async_transport(self) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            return self(request)

        return httpx.MockTransport(handler)


def respond(status: int, body: Any = None, **headers: str) -> Handler:
    """A scripted answer: JSON `body` (or raw bytes/str) with `status` and headers."""

    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes | str):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)

    return handler


class FakePlugin:
    """A plugin object registering `FakeAdapter` (registered directly, without entry points)."""

    from jobhub.hookspecs import hookimpl

    @staticmethod
    @hookimpl
    def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
        register(FakeAdapter)
