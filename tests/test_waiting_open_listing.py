"""Jobs beyond a backend's held long-polls: followed through the listing of its open jobs, each
still fetched on its own at least every `poll_max`, ends reported promptly, and a listing that
lags or fails only a hint. On virtual loop time: a minute and a half of waiting in no real time."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, JobState
from tests.test_waiting_support import (
    VIRTUAL_TIME,
    ScriptedServer,
    clock,
    config,
    life,
    scripted_registry,
    status,
)

pytestmark = pytest.mark.anyio

JOBS = 24
HOLDS = 2
POLL_MAX = 30.0
# An end every two seconds, the jobs asked for first ending last: those holding the long-polls
# are the last to end, and every other job ends while it waits for a hold.
ENDS = {f"j{i}": 10.0 + 2 * (JOBS - 1 - i) for i in range(JOBS)}


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return VIRTUAL_TIME


def server(latency: float = 0.0) -> ScriptedServer:
    timelines = {job: life((0, "running"), (end, "succeeded")) for job, end in ENDS.items()}
    return ScriptedServer(timelines, hold=600, latency=latency)


async def wait_for_all(server: ScriptedServer) -> dict[str, float]:
    """Wait for every job; the loop time each end was reported at, by job id."""
    seen: dict[str, float] = {}
    async with AsyncHub(
        config("longpoll", long_polls=HOLDS, poll_interval=1, poll_max=POLL_MAX, timeout=60),
        registry=scripted_registry(),
        transport=server.transport(),
        env={},
    ) as hub:
        server.restart()
        started = clock()
        async for job in hub.as_completed([f"b:{job}" for job in ENDS], timeout=600):
            assert job.state is JobState.SUCCEEDED
            seen[job.id] = clock() - started
    return seen


def gets_per_job(server: ScriptedServer) -> dict[str | None, list[float]]:
    times: dict[str | None, list[float]] = {}
    for seen in server.routes("get"):
        times.setdefault(seen.job, []).append(seen.at)
    return times


@pytest.mark.parametrize("latency", [0.0, 0.7])  # slow answers: views change while listing
async def test_jobs_beyond_the_holds_are_followed_through_the_open_jobs_listing(
    latency: float,
) -> None:
    listed = server(latency)
    ended = await wait_for_all(listed)
    assert ended.keys() == ENDS.keys()
    assert {seen.params.get("state") for seen in listed.routes("list")} >= {"running"}
    # Ends are reported within a few listing cycles, far sooner than poll_max.
    assert max(ended[job] - end for job, end in ENDS.items()) < 5
    # Without the listing (it fails for good at once) the same jobs cost more requests.
    unlisted = server(latency)
    unlisted.faults["list"] = [status(400, {"detail": "no listing here"})] * 10_000
    await wait_for_all(unlisted)
    assert len(unlisted.routes("list")) <= 2  # the first look and the open jobs: not again
    assert len(listed.requests) < len(unlisted.requests) * 0.6


async def test_each_job_beyond_the_holds_is_still_fetched_at_least_every_poll_max() -> None:
    listed = server()
    await wait_for_all(listed)
    for job, times in gets_per_job(listed).items():
        assert job is not None
        open_times = [at for at in times if at <= ENDS[job]]
        gaps = [b - a for a, b in itertools.pairwise(open_times)]
        assert all(gap <= POLL_MAX + 1 for gap in gaps), (job, gaps)
    # ... and not much more often: the listing spares the GETs in between.
    assert len(listed.routes("get")) < JOBS * (max(ENDS.values()) / POLL_MAX + 3)


async def test_a_listing_that_lags_is_only_a_hint() -> None:
    lagging = server()
    stale = [{"id": job, "state": "running", "tasks": []} for job in ENDS]
    lagging.faults["list"] = [
        httpx.Response(200, content=json.dumps({"jobs": stale}).encode()) for _ in range(10_000)
    ]
    ended = await wait_for_all(lagging)
    assert ended.keys() == ENDS.keys()
    # The listing still shows every job running: each end is found by its own GET, which
    # comes at the latest poll_max after the job's last full view.
    assert max(ended[job] - end for job, end in ENDS.items()) <= POLL_MAX + 1
