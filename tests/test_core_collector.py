"""The cyclic garbage collector stays out of reading an answer, and comes back as it was."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from jobhub_prunner.adapter import PrunnerAdapter

from jobhub import collector
from jobhub.backend import Call
from jobhub.errors import InvalidPayload
from jobhub.http import interpret


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.enable() if was else gc.disable()


def prunner() -> PrunnerAdapter:
    return PrunnerAdapter("ci", PrunnerAdapter.settings_from("ci", {}, env={}))


def listing(jobs: int, tasks: int) -> bytes:
    held = [
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "pipeline": "release",
            "created": "2025-08-15T12:00:00Z",
            "start": "2025-08-15T12:00:01Z",
            "completed": True,
            "tasks": [
                {"name": f"step-{step}", "status": "done", "start": "2025-08-15T12:00:02Z"}
                for step in range(tasks)
            ],
        }
        for index in range(jobs)
    ]
    return json.dumps({"pipelines": [{"pipeline": "release"}], "jobs": held}).encode()


@contextmanager
def _collections() -> Iterator[list[int]]:
    """After a full collection, the generations of the collections that start in the block."""
    collections: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.enable()
    gc.collect()
    gc.callbacks.append(count)
    try:
        yield collections
    finally:
        gc.callbacks.remove(count)


def test_no_collection_runs_while_a_large_answer_is_read() -> None:
    adapter = prunner()
    refresh = adapter.refresh_jobs()
    during: list[int] = []

    def parse(response: httpx.Response) -> Any:
        before = len(collections)  # the young generations were collected just before it
        jobs = refresh.parse(response)  # the whole read: JSON, wire checks, 500 Jobs
        during.extend(collections[before:])
        return jobs

    call = Call(refresh.request, parse)
    response = httpx.Response(200, content=listing(500, 20), request=call.request)
    with _collections() as collections:
        jobs = interpret(adapter, call, response)
        read = len(collections)
        [[] for _ in range(gc.get_threshold()[0] + 100)]  # more than the youngest generation takes
    assert len(jobs) == 500 and all(len(job.tasks) == 20 for job in jobs)
    assert during == []  # read with the collector on, this answer starts dozens of collections
    assert collections[read:]  # the collector runs again once the read is over
    assert gc.isenabled()


def _call(parse: Any) -> tuple[PrunnerAdapter, Call[Any], httpx.Response]:
    adapter = prunner()
    request = adapter.get_job("x").request
    return adapter, Call(request, parse), httpx.Response(200, content=b"{}", request=request)


def test_the_collector_is_on_again_after_an_answer_that_cannot_be_read() -> None:
    seen: list[bool] = []

    def parse(response: httpx.Response) -> None:
        seen.append(gc.isenabled())
        raise KeyError("id")

    gc.enable()
    with pytest.raises(InvalidPayload):
        interpret(*_call(parse))
    assert seen == [False]
    assert gc.isenabled()


def test_a_program_that_runs_without_the_collector_keeps_it_off() -> None:
    gc.disable()
    adapter, call, response = _call(lambda response: gc.isenabled())
    assert interpret(adapter, call, response) is False
    assert not gc.isenabled()


def test_nested_pauses_turn_the_collector_on_when_the_outermost_ends() -> None:
    gc.enable()
    with collector.paused():
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_keep_it_off_until_both_end() -> None:
    gc.enable()
    entered, release = threading.Event(), threading.Event()
    states: list[bool] = []

    def other() -> None:
        with collector.paused():
            entered.set()
            release.wait(timeout=10)
        states.append(gc.isenabled())

    thread = threading.Thread(target=other)
    with collector.paused():
        thread.start()
        assert entered.wait(timeout=10)
    states.append(gc.isenabled())  # this thread's pause ended; the other's is still open
    release.set()
    thread.join(timeout=10)
    assert states == [False, True]
    assert gc.isenabled()


class _Node:
    """An object that can sit in a reference cycle and be watched with a weak reference."""

    other: object = None


def _answer(jobs: int) -> Any:
    """Reads a refresh of `jobs` jobs of 20 tasks (500: past `PROMOTE_FROM`) as the runners do."""
    adapter = prunner()
    call = adapter.refresh_jobs()
    response = httpx.Response(200, content=listing(jobs, 20), request=call.request)
    assert (len(response.content) >= collector.PROMOTE_FROM) is (jobs >= 500)
    return lambda: interpret(adapter, call, response)


def test_a_large_answer_goes_to_the_oldest_generation_unwalked() -> None:
    read = _answer(500)
    with _collections() as collections:
        jobs = read()
        young_after = gc.get_count()[0]
    assert len(jobs) == 500
    assert collections == [1]  # the young generations emptied before it, and only that
    assert young_after < 100  # what it built is no longer young: no young collection walks it
    assert gc.isenabled()


def test_a_small_answer_stays_young() -> None:
    read = _answer(5)
    with _collections() as collections:
        jobs = read()
        young_after = gc.get_count()[0]
    assert len(jobs) == 5
    assert collections == []  # no collection before it either
    assert young_after > 100  # what it built is young, collected as the program's own objects


def test_a_large_answer_read_inside_another_pause_stays_young() -> None:
    """Only the outermost pause collects the young generations first, so only it may move
    them: nested in a small one, a large answer's objects are left to the young collections."""
    read = _answer(500)
    with _collections() as collections:
        with collector.paused():
            jobs = read()
        assert collections == []  # none before it
        [[] for _ in range(10)]  # the first allocations of tracked objects after the pause
    assert len(jobs) == 500
    assert collections[:1] == [0]  # a young collection, walking what the answer built


def test_young_cyclic_garbage_is_collected_before_a_large_answer_not_moved_with_it() -> None:
    import weakref

    read = _answer(500)
    gc.enable()
    gc.collect()
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    watched = weakref.ref(first)
    del first, second  # a cycle: only the collector frees it
    read()
    assert watched() is None


def test_objects_a_program_froze_stay_frozen() -> None:
    read = _answer(500)
    gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        read()
        # Not thawed (`gc.unfreeze()` empties the permanent generation) nor frozen again (which
        # would add every young object); frozen objects another thread frees (pytest-xdist's
        # own) do leave it.
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
