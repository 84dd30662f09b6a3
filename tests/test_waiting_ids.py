"""A job is one job however its id is spelled: waits return one Job per ref the caller gave,
keyed by that ref, and an answer about a different job is refused as `InvalidPayload`.

prunner accepts upper-case and `{braced}` UUIDs and answers with the canonical lower-case id
(see the real server's README); `FakePrunner` below does the same.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import InvalidPayload, WaitTimeout
from jobhub.plugins import Registry
from tests.conftest import SECRET
from tests.fakes import FakePlugin, FakeServer

DONE = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"
BUSY = "7f3e6b1c-2d4a-4e8f-9a0b-1c2d3e4f5a6b"
SPELLINGS = [DONE.upper(), "{" + DONE + "}", "{" + DONE.upper() + "}", DONE]


def prunner_job(job_id: str, *, ended: bool) -> dict[str, Any]:
    return {
        "id": job_id,
        "pipeline": "release",
        "tasks": [],
        "completed": ended,
        "canceled": False,
        "errored": False,
        "created": "2025-08-15T12:01:30Z",
        "start": "2025-08-15T12:01:31Z",
        "end": "2025-08-15T12:02:31Z" if ended else None,
        "variables": {},
        "user": "ci-bot",
    }


class FakePrunner:
    """prunner's `/job/detail` and `/pipelines/jobs`, reading ids as prunner does."""

    def __init__(self) -> None:
        self.jobs = {DONE: prunner_job(DONE, ended=True), BUSY: prunner_job(BUSY, ended=False)}
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/pipelines/jobs":
            return httpx.Response(200, json={"jobs": list(self.jobs.values()), "pipelines": []})
        asked = request.url.params.get("id", "")
        self.asked.append(asked)
        try:
            job_id = str(uuid.UUID(asked))
        except ValueError:
            return httpx.Response(400, json={"error": "Invalid job id"})
        if job_id not in self.jobs:
            return httpx.Response(404, json={"error": "Job not found"})
        return httpx.Response(200, content=json.dumps(self.jobs[job_id]).encode())


CONFIG = {
    "ci": {
        "type": "prunner",
        "url": "http://127.0.0.1:9009",
        "jwt_secret": SECRET,
        "poll_interval": 0.02,
        "poll_max": 0.05,
    }
}


def test_a_prunner_job_spelled_otherwise_is_waited_for_under_the_callers_ref() -> None:
    server = FakePrunner()
    with Hub(CONFIG, env={}, transport=httpx.MockTransport(server)) as hub:
        refs = [f"ci:{spelling}" for spelling in SPELLINGS]
        assert hub.get(refs[0]).id == DONE
        job = hub.wait(refs[0], timeout=5)
        assert (job.id, job.state) == (DONE, JobState.SUCCEEDED)
        jobs = hub.wait_all(refs, timeout=5)
        assert [job.id for job in jobs] == [DONE] * len(refs)  # one Job per ref given
        completed = list(hub.as_completed(refs, timeout=5))
        assert [job.ref for job in completed] == [f"ci:{DONE}"]  # the one job, once
        with pytest.raises(WaitTimeout) as caught:
            hub.wait_all([refs[0], f"ci:{BUSY.upper()}"], timeout=0.3)
    assert list(caught.value.pending) == [f"ci:{BUSY.upper()}"]  # keyed by the ref given


def test_watching_a_job_spelled_otherwise_ends_with_its_end() -> None:
    server = FakePrunner()
    with Hub(CONFIG, env={}, transport=httpx.MockTransport(server)) as hub:
        events = list(hub.watch([f"ci:{{{DONE.upper()}}}"], timeout=5))
    assert [(event.ref, event.new) for event in events] == [(f"ci:{DONE}", JobState.SUCCEEDED)]


@pytest.fixture
def fake_registry() -> Registry:
    registry = Registry()
    registry.register(FakePlugin(), name="fake")
    return registry


def answering_for_b(server: FakeServer) -> httpx.MockTransport:
    """A server (or a connection shared by mistake) that answers every GET with job b."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/jobs/"):
            request = httpx.Request(request.method, request.url.copy_with(path="/api/jobs/b"))
        return server(request)

    return httpx.MockTransport(handler)


FAKE = {"f": {"type": "fake", "api_key": SECRET, "poll_interval": 0.01, "poll_max": 0.02}}


def test_an_answer_about_another_job_is_invalid_payload(fake_registry: Registry) -> None:
    server = FakeServer({"a": "busy", "b": "ok"})
    transport = answering_for_b(server)
    with Hub(FAKE, registry=fake_registry, env={}, transport=transport) as hub:
        with pytest.raises(InvalidPayload, match=r"asked for job 'a'.*answered about job 'b'"):
            hub.get("f:a")
        with pytest.raises(InvalidPayload, match="answered about job 'b'"):
            hub.wait("f:a", timeout=5)

    async def asynchronously() -> None:
        async with AsyncHub(FAKE, registry=fake_registry, env={}, transport=transport) as hub:
            with pytest.raises(InvalidPayload, match="answered about job 'b'"):
                await hub.get("f:a")

    asyncio.run(asynchronously())
