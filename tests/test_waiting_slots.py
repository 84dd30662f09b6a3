"""A backend's request slots: never more requests at once than the slots, urgent requests
served before routine ones, a routine one made urgent when its job's wake is set, and a
waiter cancelled in the queue never costing a slot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobhub.waiting.slots import Slots, Wake
from tests.test_waiting_support import VIRTUAL_TIME

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return VIRTUAL_TIME


async def served_in_order(slots: Slots, requests: list[tuple[str, bool, Wake | None]]) -> list[str]:
    """Queue each request (name, urgent, wake) behind a slot held by a first one; the order
    the slots serve them in."""
    order: list[str] = []

    async def one(name: str, urgent: bool, wake: Wake | None) -> None:
        async with slots.held(urgent=urgent, wake=wake):
            order.append(name)
            await asyncio.sleep(0.01)

    await slots.acquire(urgent=True)  # every slot taken
    tasks = [asyncio.create_task(one(*request)) for request in requests]
    await asyncio.sleep(0)  # each is queued
    slots.release()
    await asyncio.gather(*tasks)
    return order


async def test_urgent_requests_go_before_routine_ones_each_first_come_first_served() -> None:
    order = await served_in_order(
        Slots(1),
        [("r1", False, None), ("u1", True, None), ("r2", False, None), ("u2", True, None)],
    )
    assert order == ["u1", "u2", "r1", "r2"]


async def test_a_routine_request_whose_job_is_woken_while_it_waits_turns_urgent() -> None:
    slots = Slots(1)
    woken = Wake()
    order: list[str] = []

    async def one(name: str, urgent: bool, wake: Wake | None) -> None:
        async with slots.held(urgent=urgent, wake=wake):
            order.append(name)

    await slots.acquire(urgent=True)
    tasks = [
        asyncio.create_task(one("routine", False, None)),
        asyncio.create_task(one("woken", False, woken)),
        asyncio.create_task(one("urgent", True, None)),
    ]
    await asyncio.sleep(0)
    woken.set()  # a listing saw its job end while its routine GET waited
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["urgent", "woken", "routine"]
    assert woken.is_set()  # still set: its follower looks again at once


async def test_a_routine_request_of_a_job_already_woken_is_urgent_from_the_start() -> None:
    woken = Wake()
    woken.set()
    order = await served_in_order(Slots(1), [("routine", False, None), ("woken", False, woken)])
    assert order == ["woken", "routine"]


async def test_never_more_requests_at_once_than_slots() -> None:
    slots = Slots(3)
    busy = 0
    most = 0

    async def one(urgent: bool) -> None:
        nonlocal busy, most
        async with slots.held(urgent=urgent):
            busy += 1
            most = max(most, busy)
            await asyncio.sleep(0.01)
            busy -= 1

    await asyncio.gather(*(one(i % 3 == 0) for i in range(40)))
    assert most == 3


async def test_waiters_cancelled_in_the_queue_cost_no_slot() -> None:
    slots = Slots(2)
    await slots.acquire(urgent=True)
    await slots.acquire(urgent=True)
    queued = [asyncio.create_task(slots.acquire(urgent=i % 2 == 0)) for i in range(6)]
    await asyncio.sleep(0)
    for task in queued[:5]:
        task.cancel()  # cancelled while waiting (their jobs ended meanwhile)
    await asyncio.gather(*queued[:5], return_exceptions=True)
    slots.release()  # skips the cancelled ones: to the one left
    await asyncio.wait_for(queued[5], timeout=1)
    slots.release()  # now one slot is free, no one waiting
    await asyncio.wait_for(slots.acquire(urgent=False), timeout=1)  # taken at once
    third = asyncio.create_task(slots.acquire(urgent=True))
    await asyncio.sleep(1)
    assert not third.done()  # both slots are in use again
    third.cancel()


async def test_a_waiter_cancelled_after_it_was_served_hands_its_slot_on() -> None:
    slots = Slots(1)
    await slots.acquire(urgent=True)
    first = asyncio.create_task(slots.acquire(urgent=True))
    second = asyncio.create_task(slots.acquire(urgent=False))
    await asyncio.sleep(0)
    slots.release()  # given to first ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, timeout=1)  # the slot went on to the next
