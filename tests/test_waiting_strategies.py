"""Each backend is asked the cheapest way it offers: long-poll, one batch refresh per cycle, or
GETs under the concurrency limit (helped by workflow listings)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import weakref
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


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return VIRTUAL_TIME


def hub(server: ScriptedServer, adapter_type: str, **settings: Any) -> AsyncHub:
    return AsyncHub(
        config(adapter_type, **settings),
        registry=scripted_registry(),
        transport=server.transport(),
        env={},
    )


async def test_long_poll_is_reissued_after_408_until_the_job_ends() -> None:
    server = ScriptedServer({"a": life((0, "running"), (0.5, "succeeded"))}, hold=0.15)
    async with hub(server, "longpoll") as h:
        job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED
    assert len(server.routes("await")) >= 3  # held, expired (408), asked again...
    assert len(server.routes("get")) == 1  # only the first look


async def test_long_poll_while_watching_asks_past_the_outputs_already_seen() -> None:
    server = ScriptedServer(
        {
            "a": [
                (0, {"state": "running", "outputs": ["first"]}),
                (0.4, {"state": "succeeded", "outputs": ["first", "second"]}),
            ]
        },
        hold=0.1,
    )
    async with hub(server, "longpoll") as h:
        events = [event async for event in h.watch(["b:a"], timeout=5)]
    offsets = {seen.params["offset"] for seen in server.routes("await")[1:]}
    assert offsets == {"1"}  # every re-issue after the first look skips the output seen
    outputs = [event.new for event in events if event.kind == "output"]
    assert outputs == [["second"]]
    assert events[-1].job.outputs == ["first", "second"]  # the view is completed


@pytest.mark.parametrize("adapter_type", ["longpoll", "whole"])
async def test_ends_a_listing_shows_whole_are_taken_as_listed(adapter_type: str) -> None:
    """Of twelve jobs, eight ended before the wait began. A listing that shows jobs whole
    (Sieve's) gives their ends at the first look, with no request of their own; one that may
    show a summary is followed by a GET of each. Either way each ends in its own state."""
    ended = {f"e{i}": life((0, ("succeeded", "failed")[i % 2])) for i in range(8)}
    running = {f"r{i}": life((0, "running"), (3, "succeeded")) for i in range(4)}
    server = ScriptedServer({**ended, **running}, hold=600)
    async with hub(server, adapter_type) as h:
        jobs = await h.wait_all([f"b:{job}" for job in [*ended, *running]], timeout=30)
    assert [job.state.value for job in jobs] == [*("succeeded", "failed") * 4, *["succeeded"] * 4]
    asked = {seen.job for seen in server.requests if seen.route in ("get", "await")}
    assert asked.isdisjoint(ended) if adapter_type == "whole" else asked >= ended.keys()
    assert len(server.routes("list")) == 1  # the first look


async def _ends_seen_through_one_hold(server: ScriptedServer) -> dict[str, float]:
    """When each of jobs "a" and "b" was seen ending, from the start: one long-poll hold
    between them, the listing of open jobs failing for good and poll_max long, so only a hold
    shows an end promptly."""
    server.faults["list"] = [status(400, {"detail": "no listing here"})] * 100
    seen: dict[str, float] = {}
    async with hub(server, "longpoll", long_polls=1, poll_interval=1, poll_max=120) as h:
        server.restart()
        started = clock()
        async for job in h.as_completed(["b:a", "b:b"], timeout=300):
            seen[job.id] = clock() - started
    return seen


async def test_a_hold_freed_by_a_job_that_ended_is_handed_to_the_job_waiting_for_one() -> None:
    # One hold: "a" takes it and ends at 5 s; "b" waits for it and ends at 40 s. The listing
    # of open jobs fails for good and poll_max is long, so "b" is seen ending promptly only
    # if the hold "a" freed is handed on to it.
    server = ScriptedServer(
        {"a": life((0, "running"), (5, "succeeded")), "b": life((0, "running"), (40, "succeeded"))},
        hold=600,
    )
    seen = await _ends_seen_through_one_hold(server)
    held = [seen_.at for seen_ in server.routes("await") if seen_.job == "b"]
    assert held and min(held) >= 5  # "b" was given the hold once "a" ended ...
    assert seen["b"] - 40 < 1  # ... and its end came through it, not a GET poll_max later
    assert seen["a"] - 5 < 1


async def test_an_expired_hold_goes_to_the_job_waiting_for_one_and_back_in_turn() -> None:
    # One hold, two jobs ending at 42 s and 44 s, holds expiring after 5 s. The listing of
    # open jobs fails for good and poll_max is long, so a job is seen ending promptly only
    # through a hold: each expired hold goes to the job waiting for one, and back.
    timelines = {
        "a": life((0, "running"), (42, "succeeded")),
        "b": life((0, "running"), (44, "succeeded")),
    }
    server = ScriptedServer(timelines, hold=5)
    seen = await _ends_seen_through_one_hold(server)
    holders = [seen_.job for seen_ in server.routes("await") if seen_.at < 40]
    assert holders.count("a") >= 3 and holders.count("b") >= 3  # in turn, not "a" alone
    assert all(one != other for one, other in itertools.pairwise(holders))
    # Each end is seen within a hold's turn (5 s) and a GET, far sooner than poll_max.
    assert seen["a"] - 42 < 7 and seen["b"] - 44 < 7


async def test_batch_refresh_makes_one_request_per_cycle_for_all_jobs() -> None:
    timelines = {f"j{i}": life((0, "running"), (0.1 + 0.03 * i, "succeeded")) for i in range(12)}
    server = ScriptedServer(timelines, latency=0.01)
    async with hub(server, "batch") as h:
        jobs = await h.wait_all([f"b:j{i}" for i in range(12)], timeout=5)
    assert all(job.state is JobState.SUCCEEDED for job in jobs)
    assert {seen.route for seen in server.requests} == {"refresh"}
    assert server.max_in_flight == 1  # one request per cycle, never one per job
    assert len(server.requests) < 12 * 3


async def test_a_job_missing_from_the_batch_refresh_is_fetched_on_its_own() -> None:
    server = ScriptedServer({"a": life((0, "running"), (0.1, "succeeded"))})
    # The refresh lists nothing (as if the server listed only recent jobs).
    server._all = lambda: []  # type: ignore[method-assign]
    async with hub(server, "batch") as h:
        job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED
    assert server.routes("get")


async def test_a_batch_refresh_reads_only_the_jobs_followed() -> None:
    server = ScriptedServer({"a": life((0, "running"), (0.1, "succeeded"))})
    views = server._all
    # The server also holds a job nobody waits for, which cannot be read as a Job.
    server._all = lambda: [*views(), {"id": "unreadable", "state": "no such state"}]  # type: ignore[method-assign]
    async with hub(server, "batch") as h:
        job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED
    assert {seen.route for seen in server.requests} == {"refresh"}


async def test_a_batch_refresh_reads_a_job_again_only_once_it_has_moved() -> None:
    # "a" runs for 1 s and "b" for 2 s, refreshed every 0.02-0.08 s: each answer shows both,
    # and each is read when first seen and when it has moved, its view kept in between.
    server = ScriptedServer(
        {"a": life((0, "running"), (1.0, "succeeded")), "b": life((0, "running"), (2.0, "failed"))}
    )
    async with hub(server, "batch") as h:
        jobs = await h.wait_all(["b:a", "b:b"], timeout=5)
        adapter = h.adapter("b")
    assert [job.state for job in jobs] == [JobState.SUCCEEDED, JobState.FAILED]
    assert len(server.routes("refresh")) >= 15
    assert sorted(adapter.read) == ["a", "a", "b", "b"]


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
async def test_a_job_yielded_by_as_completed_is_not_held_by_the_wait(adapter_type: str) -> None:
    # "a" and "b" end at once, "c" at 30 s: while the wait goes on for "c", nothing in jobhub
    # keeps the view of "a" it handed over (a wait over 100,000 jobs holds the open ones, and
    # the one it yielded last).
    server = ScriptedServer(
        {
            "a": life((0, "running"), (0.1, "succeeded")),
            "b": life((0, "running"), (0.2, "succeeded")),
            "c": life((0, "running"), (30, "failed")),
        }
    )
    async with hub(server, adapter_type) as h:
        ended = h.as_completed(["b:a", "b:b", "b:c"], timeout=60)
        first = await anext(ended)
        handed = weakref.ref(first)
        del first
        assert (await anext(ended)).state is JobState.SUCCEEDED
        gc.collect()
        assert handed() is None  # only the caller held it
        last = await anext(ended)
        assert (last.id, last.state) == ("c", JobState.FAILED)
        await ended.aclose()


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
async def test_a_job_seen_ended_is_asked_for_no_more(adapter_type: str) -> None:
    # "a" has ended before the wait begins; "c" ends at 20 s. Once "a" is seen ended, no
    # request names it again for the rest of the wait.
    server = ScriptedServer(
        {"a": life((0, "succeeded")), "c": life((0, "running"), (20, "succeeded"))}
    )
    async with hub(server, adapter_type) as h:
        jobs = [job async for job in h.as_completed(["b:a", "b:c"], timeout=60)]
    assert [job.id for job in jobs] == ["a", "c"]
    asked = [seen.at for seen in server.requests if seen.job == "a"]
    assert all(at < 1 for at in asked), asked


async def test_per_job_gets_never_exceed_the_concurrency_limit() -> None:
    timelines = {f"j{i}": life((0, "running"), (0.3, "succeeded")) for i in range(20)}
    server = ScriptedServer(timelines, latency=0.02)
    async with hub(server, "plain", concurrency=3) as h:
        await h.wait_all([f"b:j{i}" for i in range(20)], timeout=10)
    assert server.max_in_flight == 3  # reached, never passed


class SlowGets(ScriptedServer):
    """Answers a job's GET after 0.2 s, everything else at once."""

    async def _answer(self, route: str, job_id: str | None, params: dict[str, str]) -> Any:
        if route == "get":
            await asyncio.sleep(0.2)
        return await super()._answer(route, job_id, params)


async def test_backstop_gets_of_listed_jobs_leave_half_the_slots_free() -> None:
    # 40 jobs of one workflow, its listing (at least once a second) showing them unchanged:
    # each is due for its poll_max backstop every 1.2 s, more than 4 slots can serve. The
    # other half of the slots stays free for the GETs of jobs that move.
    timelines = {f"j{i}": life((0, "running"), (8 + 0.1 * i, "succeeded")) for i in range(40)}
    server = SlowGets(timelines, workflow="nightly")
    async with hub(server, "plain", concurrency=4, poll_max=1) as h:
        jobs = await h.wait_all([f"b:j{i}" for i in range(40)], timeout=30)
    assert all(job.state is JobState.SUCCEEDED for job in jobs)
    gets = [seen for seen in server.routes("get") if 2 < seen.at < 7.5]
    # Between the first looks and the first ends (5.5 s), backstops keep two slots busy:
    # 5.5 s / 0.2 s * 2 = 55 GETs, a few routine ones besides; with all four slots, 110.
    assert 40 < len(gets) < 70


async def test_jobs_sharing_a_workflow_are_watched_through_its_listing() -> None:
    timelines = {f"j{i}": life((0, "running"), (0.3 + 0.05 * i, "succeeded")) for i in range(8)}
    server = ScriptedServer(timelines, workflow="nightly")
    async with hub(server, "plain", poll_max=0.04) as h:
        jobs = await h.wait_all([f"b:j{i}" for i in range(8)], timeout=10)
    assert all(job.state is JobState.SUCCEEDED for job in jobs)
    first, *cycles = server.routes("list")
    assert "workflow" not in first.params  # the first look lists the whole backend
    assert cycles and {seen.params.get("workflow") for seen in cycles} == {"nightly"}
    # A job the listing shows unchanged is fetched on its own once per poll_max, not per cycle.
    gets: dict[str | None, int] = {}
    for seen in server.routes("get"):
        gets[seen.job] = gets.get(seen.job, 0) + 1
    assert max(gets.values()) <= 0.65 / 0.04 + 3
    assert len(server.routes("get")) < len(cycles) * 8


async def test_waiting_for_many_jobs_lists_the_backend_once_instead_of_a_get_each() -> None:
    from jobhub.errors import WaitTimeout

    server = ScriptedServer({f"j{i}": [(0, {"state": "running"})] for i in range(8)})
    async with hub(server, "plain", poll_interval=1.0) as h:
        with pytest.raises(WaitTimeout) as caught:
            await h.wait_all([f"b:j{i}" for i in range(8)], timeout=0.3)
    assert len(server.routes("list")) == 1
    assert server.routes("get") == []
    assert all(job is not None for job in caught.value.pending.values())


async def test_a_listing_that_fails_for_good_falls_back_to_gets() -> None:
    from tests.test_waiting_support import status

    timelines = {f"j{i}": life((0, "running"), (0.3, "succeeded")) for i in range(3)}
    server = ScriptedServer(timelines, workflow="nightly")
    server.faults["list"] = [status(400, {"detail": "no listing here"})] * 50
    async with hub(server, "plain") as h:
        jobs = await h.wait_all(["b:j0", "b:j1", "b:j2"], timeout=5)
    assert [job.state for job in jobs] == [JobState.SUCCEEDED] * 3
    assert len(server.routes("list")) == 1  # not asked again


async def test_backoff_spaces_polls_of_a_quiet_job_up_to_poll_max() -> None:
    server = ScriptedServer({"a": life((0, "running"), (1.0, "succeeded"))})
    async with hub(server, "plain", poll_interval=0.02, poll_max=0.16) as h:
        await h.wait("b:a", timeout=5)
    times = [seen.at for seen in server.routes("get")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) <= 0.16 + 1e-6  # the cap
    assert max(gaps) > 0.06  # it did grow past the first pauses
    assert len(times) < 1.0 / 0.02  # fewer than a fixed-interval loop would make


async def test_the_last_open_job_of_a_listed_workflow_is_still_seen_ending_promptly() -> None:
    ends = {"j0": 0.1, "j1": 0.15, "j2": 0.2, "j3": 0.25, "last": 1.0}
    timelines = {job: life((0, "running"), (end, "succeeded")) for job, end in ends.items()}
    server = ScriptedServer(timelines, workflow="nightly")
    async with hub(server, "plain", poll_max=0.1) as h:
        await h.wait_all([f"b:{job}" for job in ends], timeout=5)
        seen_at = server.now()
    assert seen_at - ends["last"] <= 0.1 + 1e-6  # within poll_max


async def test_a_listing_that_lags_is_only_a_hint_every_job_is_fetched_within_poll_max() -> None:
    timelines = {f"j{i}": life((0, "running"), (0.8, "succeeded")) for i in range(3)}
    server = ScriptedServer(timelines, workflow="nightly")
    stale = [
        {"id": f"j{i}", "workflow": "nightly", "state": "running", "tasks": []} for i in range(3)
    ]
    server.faults["list"] = [
        httpx.Response(200, content=json.dumps({"jobs": stale}).encode()) for _ in range(10_000)
    ]
    async with hub(server, "plain", poll_max=0.1) as h:
        server.restart()  # the timelines start now
        jobs = await h.wait_all(["b:j0", "b:j1", "b:j2"], timeout=5)
    assert [job.state for job in jobs] == [JobState.SUCCEEDED] * 3
    assert server.routes("list")  # the listing was used, and did not hold the jobs back


@pytest.mark.parametrize("adapter_type", ["plain", "batch"])
async def test_a_flapping_backend_never_makes_a_watch_go_back_or_repeat_itself(
    adapter_type: str,
) -> None:
    server = ScriptedServer(
        {
            "a": [
                (0, {"state": "running", "outputs": ["a"]}),
                (0.2, {"state": "queued", "outputs": []}),
                (0.4, {"state": "running", "outputs": ["a", "b"]}),
                (0.6, {"state": "succeeded"}),
            ]
        }
    )
    async with hub(server, adapter_type, poll_interval=0.02, poll_max=0.04) as h:
        server.restart()
        events = [event async for event in h.watch(["b:a"], timeout=5)]
    states = [(event.old, event.new) for event in events if event.kind == "state"]
    assert states == [(None, JobState.RUNNING), (JobState.RUNNING, JobState.SUCCEEDED)]
    assert [event.new for event in events if event.kind == "output"] == [["b"]]
    assert any(seen.at > 0.2 for seen in server.requests[:-2])  # the flap was seen
