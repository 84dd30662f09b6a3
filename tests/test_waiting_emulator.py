"""Waiting on the emulated backends (Sieve long-poll, prunner batch refresh, Pixxel GETs and
workflow listings): true final states, completion order, each transition once, faults."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, Hub, JobEvent, JobState
from jobhub.emulator import FAULT_KINDS, Emulator, Faults
from jobhub.errors import WaitTimeout

pytestmark = pytest.mark.slow

TYPES = ("sieve", "pixxel", "prunner")
SPEED = 20.0  # emulated seconds per real second
FAST = {"poll_interval": 0.05, "poll_max": 0.3, "timeout": 5.0}


def hub_config(emu: Emulator, **settings: Any) -> dict[str, dict[str, Any]]:
    return {name: {**entry, **FAST, **settings} for name, entry in emu.hub_config().items()}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=4, speed=SPEED, await_hold=0.5) as emulator:
        yield emulator


def ends(emu: Emulator, ref: str) -> float:
    backend, job_id = ref.split(":", 1)
    run = emu.backends[backend].find(job_id)
    assert run is not None
    return run.ends


def truth(emu: Emulator, ref: str) -> str:
    backend, job_id = ref.split(":", 1)
    return emu.backends[backend].final_state(job_id)


@pytest.mark.parametrize("backend", TYPES)
def test_succeeded_and_failed_jobs_are_reported_in_their_true_state(
    emu: Emulator, backend: str
) -> None:
    refs = [
        f"{backend}:{emu.submit(backend, duration=d, outcome=o)}"
        for d, o in ((2, "succeeded"), (4, "failed"), (6, "succeeded"))
    ]
    with Hub(hub_config(emu)) as hub:
        jobs = hub.wait_all(refs, timeout=20)
    assert [job.state.value for job in jobs] == ["succeeded", "failed", "succeeded"]
    assert [job.state.value for job in jobs] == [truth(emu, ref) for ref in refs]


@pytest.mark.parametrize("backend", ["sieve", "prunner"])
def test_a_cancelled_job_is_reported_cancelled(emu: Emulator, backend: str) -> None:
    ref = f"{backend}:{emu.submit(backend, duration=600)}"
    with Hub(hub_config(emu)) as hub:
        hub.cancel(ref)
        job = hub.wait(ref, timeout=20)
    assert job.state is JobState.CANCELLED
    assert truth(emu, ref) == "cancelled"


def test_cancel_on_timeout_cancels_on_each_backend_that_can(emu: Emulator) -> None:
    refs = [f"{t}:{emu.submit(t, duration=600)}" for t in TYPES]
    with Hub(hub_config(emu)) as hub, pytest.raises(WaitTimeout) as caught:
        hub.wait_all(refs, timeout=0.5, cancel_on_timeout=True)
    assert set(caught.value.pending) == set(refs)
    assert all(job is not None and not job.terminal for job in caught.value.pending.values())
    sieve, pixxel, prunner = (truth(emu, ref) for ref in refs)
    assert (sieve, prunner) == ("cancelled", "cancelled")
    assert pixxel != "cancelled"  # Pixxel has no cancel: skipped, and the message says so
    assert f"could not cancel {refs[1]}" in str(caught.value)


def test_as_completed_yields_across_backends_in_completion_order(emu: Emulator) -> None:
    # The emulated clock stands still and is moved past one job's end at a time: each job has
    # ended, and the next has not, when it is asked for, however loaded the machine.
    emu.clock.speed = 0
    plan = [("prunner", 20), ("sieve", 5), ("pixxel", 35), ("sieve", 50), ("pixxel", 65)]
    refs = [f"{t}:{emu.submit(t, duration=d, outcome='succeeded')}" for t, d in plan]
    by_end = sorted(refs, key=lambda ref: ends(emu, ref))
    assert by_end != refs  # submitted in another order than they end
    order = []
    with Hub(hub_config(emu)) as hub:
        completed = hub.as_completed(refs, timeout=20)
        for ref in by_end:
            emu.clock.advance(ends(emu, ref) - emu.clock.now() + 0.1)
            order.append(next(completed).ref)
        assert next(completed, None) is None
    assert order == by_end


@pytest.mark.parametrize("backend", TYPES)
def test_watch_yields_each_transition_once(emu: Emulator, backend: str) -> None:
    ref = f"{backend}:{emu.submit(backend, duration=6, outcome='succeeded')}"
    with Hub(hub_config(emu)) as hub:
        events = list(hub.watch([ref], timeout=20))
    states = [(e.old, e.new) for e in events if e.kind == "state"]
    assert states[0][0] is None
    assert states[-1][1] is JobState.SUCCEEDED
    assert [new for _, new in states] == list(dict.fromkeys(new for _, new in states))
    for earlier, later in itertools.pairwise(states):
        assert later[0] is earlier[1]  # each step starts where the previous one ended
    tasks: dict[str, list[Any]] = {}
    for event in events:
        if event.kind == "task":
            tasks.setdefault(event.task or "", []).append(event.new)
    for seen in tasks.values():
        assert len(seen) == len(set(seen))  # no task state reported twice
    assert events[-1].kind == "state"


def test_sync_and_async_agree_on_the_same_jobs(emu: Emulator) -> None:
    refs = [f"{t}:{emu.submit(t, duration=3 + 2 * i)}" for i, t in enumerate(TYPES * 2)]
    config = hub_config(emu)
    sync_states: list[str] = []

    def sync_wait() -> None:
        with Hub(config) as hub:
            sync_states.extend(job.state.value for job in hub.wait_all(refs, timeout=20))

    async def async_wait() -> list[str]:
        async with AsyncHub(config) as hub:
            return [job.state.value for job in await hub.wait_all(refs, timeout=20)]

    thread = threading.Thread(target=sync_wait)
    thread.start()
    async_states = asyncio.run(async_wait())
    thread.join()
    assert sync_states == async_states == [truth(emu, ref) for ref in refs]


def test_every_job_ends_in_its_true_state_with_a_third_of_answers_faulty() -> None:
    faults = {
        t: Faults(rate=0.33, kinds=FAULT_KINDS, seed=i, retry_after=1, delay=0.3)
        for i, t in enumerate(TYPES)
    }
    with Emulator(seed=9, speed=SPEED, await_hold=0.5, faults=faults) as emu:
        refs = [f"{t}:{emu.submit(t, duration=2 + i % 7)}" for i in range(8) for t in TYPES]
        config = hub_config(emu, timeout=2.0)
        with Hub(config) as hub:
            ended = {job.ref: job.state.value for job in hub.as_completed(refs, timeout=40)}
        assert ended == {ref: truth(emu, ref) for ref in refs}


def test_watching_through_faults_still_ends_each_job_once_in_its_true_state() -> None:
    faults = {t: Faults(rate=0.33, seed=20 + i, delay=0.3) for i, t in enumerate(TYPES)}
    with Emulator(seed=5, speed=SPEED, await_hold=0.5, faults=faults) as emu:
        refs = [f"{t}:{emu.submit(t, duration=3 + i)}" for i in range(3) for t in TYPES]

        async def watch() -> list[JobEvent]:
            async with AsyncHub(hub_config(emu, timeout=2.0)) as hub:
                return [event async for event in hub.watch(refs, timeout=40)]

        events = asyncio.run(watch())
        endings = [(e.ref, e.new.value) for e in events if e.kind == "state" and e.new.terminal]
        assert sorted(endings) == sorted((ref, truth(emu, ref)) for ref in refs)


class CountingTransport(httpx.AsyncBaseTransport):
    """The default transport, noting each request's path and query."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_sieve_jobs_beyond_the_held_long_polls_are_followed_through_its_status_listings(
    emu: Emulator,
) -> None:
    # 1 to 1.5 s each: still running once the wait has looked at each (on a loaded machine
    # jobs of a fraction of a second had all ended before any listing was needed).
    refs = [f"sieve:{emu.submit('sieve', duration=20 + 2 * (i % 6))}" for i in range(12)]
    counting = CountingTransport()

    async def wait() -> list[str]:
        config = hub_config(emu, long_polls=2, poll_max=5.0)
        async with AsyncHub(config, transport=counting) as hub:
            return [job.state.value for job in await hub.wait_all(refs, timeout=30)]

    assert asyncio.run(wait()) == [truth(emu, ref) for ref in refs]
    paths = [url.path.removeprefix("/sieve") for url in counting.sent]
    statuses = {url.params.get("status") for url in counting.sent if url.path.endswith("/v2/jobs")}
    assert {"queued", "processing"} & statuses  # listed by Sieve's status words
    # Polled on its own, each job would be fetched every few hundredths of a second at first;
    # the listing tells which ended, so each is fetched about once.
    gets = [path for path in paths if path.startswith("/v2/jobs/") and "/await" not in path]
    assert len(gets) <= 2 * len(refs)
