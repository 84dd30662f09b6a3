"""wait, wait_all, as_completed and watch on `Hub` and `AsyncHub`: results, order, events,
clean stops (task cancellation, breaking out, Ctrl-C), and the two faces agreeing."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, Hub, JobEvent, JobState
from jobhub.errors import ConfigError, InvalidArgument, InvalidPayload, InvalidRef, WaitTimeout
from jobhub.waiting import blocking
from jobhub.waiting import engine as engine_module
from jobhub.waiting import waiter as waiter_module
from tests.test_waiting_support import (
    VIRTUAL_TIME,
    ScriptedServer,
    Step,
    config,
    life,
    scripted_registry,
)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return VIRTUAL_TIME  # the async tests run on virtual loop time; the sync face cannot


def sync_hub(server: ScriptedServer, adapter_type: str = "plain", **settings: Any) -> Hub:
    return Hub(
        config(adapter_type, **settings),
        registry=scripted_registry(),
        transport=server.transport(),
        env={},
    )


def async_hub(server: ScriptedServer, adapter_type: str = "plain", **settings: Any) -> AsyncHub:
    return AsyncHub(
        config(adapter_type, **settings),
        registry=scripted_registry(),
        transport=server.transport(),
        env={},
    )


def staggered() -> ScriptedServer:
    return ScriptedServer(
        {
            "slow": life((0, "running"), (0.45, "succeeded")),
            "fast": life((0, "running"), (0.05, "failed")),
            "mid": life((0, "queued"), (0.25, "cancelled")),
        }
    )


BUILD: list[Step] = [
    (0, {"state": "queued", "tasks": [{"name": "build", "state": "pending"}]}),
    (0.15, {"state": "running", "tasks": [{"name": "build", "state": "running"}]}),
    (0.3, {"progress": 0.5, "outputs": ["log"]}),
    (
        0.45,
        {
            "state": "succeeded",
            "progress": 1.0,
            "tasks": [{"name": "build", "state": "succeeded"}],
            "outputs": ["log", "artifact"],
        },
    ),
]

EXPECTED_BUILD = [
    ("state", None, "queued", None),
    ("state", "queued", "running", None),
    ("task", "pending", "running", "build"),
    ("progress", None, 0.5, None),
    ("output", None, ["log"], None),
    ("task", "running", "succeeded", "build"),
    ("progress", 0.5, 1.0, None),
    ("output", None, ["artifact"], None),
    ("state", "running", "succeeded", None),
]


def summary(events: list[JobEvent]) -> list[tuple[Any, ...]]:
    return [(e.kind, e.old, e.new, e.task) for e in events]


# -- results ------------------------------------------------------------------------------------


def test_wait_returns_the_ended_job_as_last_seen() -> None:
    with sync_hub(staggered()) as hub:
        job = hub.wait("b:fast", timeout=5)
    assert (job.ref, job.state) == ("b:fast", JobState.FAILED)


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
def test_wait_all_returns_jobs_in_the_order_asked(adapter_type: str) -> None:
    with sync_hub(staggered(), adapter_type) as hub:
        jobs = hub.wait_all(["b:slow", "b:fast", "b:mid", "b:fast"], timeout=5)
    assert [(job.id, job.state.value) for job in jobs] == [
        ("slow", "succeeded"),
        ("fast", "failed"),
        ("mid", "cancelled"),
        ("fast", "failed"),
    ]


def test_wait_all_of_nothing_is_nothing() -> None:
    with sync_hub(staggered()) as hub:
        assert hub.wait_all([], timeout=1) == []


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
def test_as_completed_yields_in_completion_order(adapter_type: str) -> None:
    with sync_hub(staggered(), adapter_type) as hub:
        order = [job.id for job in hub.as_completed(["b:slow", "b:mid", "b:fast"], timeout=5)]
    assert order == ["fast", "mid", "slow"]


@pytest.mark.anyio
async def test_async_as_completed_yields_in_completion_order() -> None:
    async with async_hub(staggered(), "longpoll") as hub:
        order = [job.id async for job in hub.as_completed(["b:slow", "b:mid", "b:fast"])]
    assert order == ["fast", "mid", "slow"]


# -- events -------------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
def test_watch_yields_each_transition_once_in_order(adapter_type: str) -> None:
    server = ScriptedServer({"a": BUILD}, hold=0.1)
    with sync_hub(server, adapter_type) as hub:
        events = list(hub.watch(["b:a"], timeout=5))
    assert summary(events) == EXPECTED_BUILD


@pytest.mark.anyio
async def test_sync_and_async_watch_agree() -> None:
    # "b" never ends: both faces report the same events, then the same timeout.
    sync_events: list[JobEvent] = []
    server = ScriptedServer({"a": BUILD, "b": BUILD[:2]})
    with sync_hub(server, "batch") as hub, pytest.raises(WaitTimeout) as sync_timeout:
        for event in hub.watch(["b:a", "b:b"], timeout=0.8):
            sync_events.append(event)
    async_events: list[JobEvent] = []
    async with async_hub(ScriptedServer({"a": BUILD, "b": BUILD[:2]}), "batch") as ahub:
        with pytest.raises(WaitTimeout) as async_timeout:
            async for event in ahub.watch(["b:a", "b:b"], timeout=0.8):
                async_events.append(event)

    def per_job(events: list[JobEvent]) -> dict[str, list[tuple[Any, ...]]]:
        return {ref: summary([e for e in events if e.ref == ref]) for ref in ("b:a", "b:b")}

    assert per_job(sync_events) == per_job(async_events)
    assert per_job(sync_events)["b:a"] == EXPECTED_BUILD
    assert sync_timeout.value.pending.keys() == async_timeout.value.pending.keys() == {"b:b"}


@pytest.mark.anyio
@pytest.mark.parametrize("adapter_type", ["plain", "batch", "longpoll"])
async def test_watching_a_backend_shows_new_jobs_as_they_appear(adapter_type: str) -> None:
    server = ScriptedServer(
        {"old": life((0, "succeeded")), "busy": life((0, "running"), (3, "succeeded"))}
    )
    new_job = life((0, "queued"), (2, "failed"))
    asyncio.get_running_loop().call_later(2, server.add, "new", new_job)
    async with async_hub(server, adapter_type, poll_interval=0.2, poll_max=1) as hub:
        # ends quietly at the timeout
        events = [event async for event in hub.watch(backend="b", timeout=10)]
    by_job = {ref: summary([e for e in events if e.ref == ref]) for ref in ("b:old", "b:busy")}
    assert by_job["b:old"] == [("state", None, "succeeded", None)]
    assert by_job["b:busy"] == [
        ("state", None, "running", None),
        ("state", "running", "succeeded", None),
    ]
    new = [e for e in events if e.ref == "b:new"]
    assert new[0].old is None and new[-1].new is JobState.FAILED
    assert new[0].at > events[0].at


@pytest.mark.anyio
@pytest.mark.parametrize("adapter_type", ["plain", "batch", "longpoll"])
async def test_a_backend_watch_forgets_each_discovered_job_once_it_has_ended(
    adapter_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engines: list[engine_module.Engine] = []

    class Recorded(engine_module.Engine):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            engines.append(self)

    monkeypatch.setattr(waiter_module, "Engine", Recorded)
    server = ScriptedServer(
        {
            "old": life((0, "succeeded")),
            "busy": life((0, "running"), (2, "succeeded")),
            "long": life((0, "running")),
        }
    )
    async with async_hub(server, adapter_type, poll_interval=0.2, poll_max=1) as hub:
        events = [event async for event in hub.watch(backend="b", timeout=10)]
    ends = [e.ref for e in events if e.kind == "state" and e.new is not None and e.new.terminal]
    assert sorted(ends) == ["b:busy", "b:old"]  # each end once, though listings still show it
    (engine,) = engines
    assert set(engine.followed) == {"b:long"}  # a long watch holds only what is open


# -- stopping -----------------------------------------------------------------------------------


def never_ends() -> ScriptedServer:
    return ScriptedServer({"a": [(0, {"state": "running"})]}, hold=30)


def waiting_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jobhub-wait" and t.is_alive()]


@pytest.mark.anyio
async def test_cancelling_the_awaiting_task_stops_every_request_and_task() -> None:
    server = never_ends()
    before = asyncio.all_tasks()
    async with async_hub(server, "longpoll") as hub:
        task = asyncio.create_task(hub.wait("b:a"))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if server.holding:
                break
        assert server.holding == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert server.holding == 0
    assert asyncio.all_tasks() == before


@pytest.mark.anyio
async def test_closing_an_async_watch_early_stops_its_requests() -> None:
    from contextlib import aclosing

    server = never_ends()
    before = asyncio.all_tasks()
    async with async_hub(server, "longpoll") as hub, aclosing(hub.watch(["b:a"])) as events:
        async for event in events:
            assert event.kind == "state"
            break
    assert server.holding == 0
    assert asyncio.all_tasks() == before


def test_breaking_out_of_a_sync_iterator_stops_the_worker() -> None:
    server = ScriptedServer(
        {"a": life((0, "succeeded")), "b": [(0, {"state": "running"})]}, hold=30
    )
    with sync_hub(server, "longpoll") as hub:
        for job in hub.as_completed(["b:a", "b:b"]):
            assert job.id == "a"
            break
    assert waiting_threads() == []
    assert server.holding == 0


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_ctrl_c_stops_a_sync_wait_promptly() -> None:
    server = never_ends()
    sent: list[float] = []

    def interrupt_once_held() -> None:
        # Ctrl-C once the wait holds its long-poll, not at a fixed time: on a loaded machine
        # a timer could fire before the wait began, outside `pytest.raises`.
        deadline = time.monotonic() + 10
        while not server.holding and time.monotonic() < deadline:
            time.sleep(0.01)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_held, daemon=True).start()
    with sync_hub(server, "longpoll") as hub, pytest.raises(KeyboardInterrupt):
        hub.wait("b:a")
    assert time.monotonic() - sent[0] < 1.5
    assert waiting_threads() == []
    assert server.holding == 0


def test_ctrl_c_while_the_worker_starts_still_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Under load the caller's thread can take the interrupt while `Thread.start()` still
    # waits for the worker to come up, after the worker already holds its long-poll.
    server = never_ends()
    start = blocking._Worker.start

    def start_then_interrupted(worker: blocking._Worker) -> None:
        start(worker)
        deadline = time.monotonic() + 10
        while not server.holding and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    monkeypatch.setattr(blocking._Worker, "start", start_then_interrupted)
    with sync_hub(server, "longpoll") as hub, pytest.raises(KeyboardInterrupt):
        hub.wait("b:a")
    assert waiting_threads() == []
    assert server.holding == 0


def test_a_sync_wait_works_inside_a_running_event_loop() -> None:
    async def handler() -> JobState:
        with sync_hub(staggered()) as hub:
            return hub.wait("b:fast", timeout=5).state

    assert asyncio.run(handler()) is JobState.FAILED


# -- arguments ----------------------------------------------------------------------------------


def test_wait_all_refuses_a_single_string() -> None:
    with sync_hub(staggered()) as hub, pytest.raises(InvalidRef, match=r"use wait\(\)"):
        hub.wait_all("b:fast")


def test_refs_are_checked_before_any_request() -> None:
    server = staggered()
    with sync_hub(server) as hub:
        with pytest.raises(ConfigError, match="no backend named 'nope'"):
            hub.as_completed(["b:fast", "nope:1"])
        with pytest.raises(InvalidRef):
            hub.watch(["fast"])
    assert server.requests == []


def test_watch_needs_refs_or_a_backend() -> None:
    with sync_hub(staggered()) as hub, pytest.raises(InvalidArgument, match="backend=NAME"):
        hub.watch()


class SyncOnlyTransport(httpx.BaseTransport):
    """A transport without asyncio support, like a custom `httpx.HTTPTransport`."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return asyncio.run(self.server.handle(request))


def test_a_sync_hub_with_a_sync_only_transport_can_wait() -> None:
    server = staggered()
    with Hub(
        config("longpoll"),
        registry=scripted_registry(),
        transport=SyncOnlyTransport(server),
        env={},
    ) as hub:
        jobs = hub.wait_all(["b:slow", "b:fast", "b:mid"], timeout=5)
    assert [job.state.value for job in jobs] == ["succeeded", "failed", "cancelled"]
    assert server.routes("await")


class EndlessBodyTransport(httpx.BaseTransport):
    """A sync-only transport whose answers are an endless JSON body; counts what was read."""

    def __init__(self) -> None:
        self.read = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport = self

        class Endless(httpx.SyncByteStream):
            def __iter__(self) -> Any:
                yield b'{"id": "a", "state": "running", "tasks": [], "pad": "'
                while True:
                    transport.read += 65536
                    yield b"x" * 65536

        return httpx.Response(200, stream=Endless())


def test_waits_over_a_sync_only_transport_stop_reading_at_the_size_cap() -> None:
    transport = EndlessBodyTransport()
    settings = {"max_response_bytes": 1_000_000, "poll_interval": 0.01, "poll_max": 0.01}
    with (
        Hub(
            config("plain", **settings), registry=scripted_registry(), transport=transport, env={}
        ) as hub,
        pytest.raises((WaitTimeout, InvalidPayload), match="exceeds the 1000000-byte cap"),
    ):
        hub.wait("b:a", timeout=1)
    answers = 6  # the first and the unreadable ones tolerated after it
    assert transport.read <= answers * (1_000_000 + 65536)


class SlowTransport(SyncOnlyTransport):
    """Answers the first request at once, every later one after 0.6 s."""

    def __init__(self, server: ScriptedServer) -> None:
        super().__init__(server)
        self.answered = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.answered:
            time.sleep(0.6)  # past the wait's 0.3 s: a sync transport blocks a real thread
        self.answered += 1
        return super().handle_request(request)


def test_waits_over_a_sync_only_transport_leave_no_thread_behind_and_use_the_hubs_client() -> None:
    server = ScriptedServer({"a": [(0, {"state": "running"})]})
    before = {thread.ident for thread in threading.enumerate()}
    with Hub(
        config("plain"), registry=scripted_registry(), transport=SlowTransport(server), env={}
    ) as hub:
        for _ in range(2):
            with pytest.raises(WaitTimeout):
                hub.wait("b:a", timeout=0.3)  # ends while its second request is in flight
        left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        assert left == []
        assert list(hub._runner._clients) == ["b"]  # the hub's own pooled client sent them
