"""A backend's request slots: never more requests at once than the slots, listings served
first, then woken jobs' GETs, then routine polls, then backstop polls (never more than half
the slots), a routine or backstop one moved up when its job's wake is set, and a waiter
cancelled in the queue never costing a slot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobhub.waiting.slots import BACKSTOP, LISTING, ROUTINE, WOKEN, Slots, Wake
from tests.test_waiting_support import VIRTUAL_TIME

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return VIRTUAL_TIME


async def served_in_order(slots: Slots, requests: list[tuple[str, int, Wake | None]]) -> list[str]:
    """Queue each request (name, rank, wake) behind a slot held by a first one; the order
    the slots serve them in."""
    order: list[str] = []

    async def one(name: str, rank: int, wake: Wake | None) -> None:
        async with slots.held(rank, wake=wake):
            order.append(name)
            await asyncio.sleep(0.01)

    await slots.acquire(LISTING)  # every slot taken
    tasks = [asyncio.create_task(one(*request)) for request in requests]
    await asyncio.sleep(0)  # each is queued
    slots.release()
    await asyncio.gather(*tasks)
    return order


async def test_listings_go_first_then_woken_jobs_then_routine_polls_each_in_turn() -> None:
    order = await served_in_order(
        Slots(1),
        [
            ("b1", BACKSTOP, None),
            ("r1", ROUTINE, None),
            ("w1", WOKEN, None),
            ("l1", LISTING, None),
            ("r2", ROUTINE, None),
            ("w2", WOKEN, None),
            ("l2", LISTING, None),
        ],
    )
    assert order == ["l1", "l2", "w1", "w2", "r1", "r2", "b1"]


async def test_backstop_polls_hold_at_most_half_the_slots() -> None:
    slots = Slots(4)
    done = asyncio.Event()
    busy = most = 0

    async def backstop() -> None:
        nonlocal busy, most
        async with slots.held(BACKSTOP):
            busy += 1
            most = max(most, busy)
            await done.wait()
            busy -= 1

    backstops = [asyncio.create_task(backstop()) for _ in range(10)]
    await asyncio.sleep(0)
    assert busy == 2  # two slots are left free ...
    # ... so a woken job's GET and a routine poll are served at once, not after a backstop.
    await asyncio.wait_for(slots.acquire(WOKEN), timeout=0.01)
    await asyncio.wait_for(slots.acquire(ROUTINE), timeout=0.01)
    slots.release()
    slots.release()
    done.set()
    await asyncio.gather(*backstops)
    assert most == 2
    await asyncio.wait_for(slots.acquire(LISTING), timeout=0.01)  # every slot was given back
    for _ in range(3):
        await asyncio.wait_for(slots.acquire(WOKEN), timeout=0.01)


async def test_a_backstop_poll_whose_job_is_woken_takes_a_slot_backstops_may_not() -> None:
    slots = Slots(2)
    await slots.acquire(BACKSTOP)  # the one slot backstop polls may hold
    woken = Wake()
    waiting = asyncio.create_task(slots.acquire(BACKSTOP, wake=woken))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # a slot is free, but not for a backstop
    woken.set()  # a listing saw its job end
    assert await asyncio.wait_for(waiting, timeout=0.01) is False  # served as a woken GET


async def test_a_routine_request_whose_job_is_woken_while_it_waits_moves_up() -> None:
    slots = Slots(1)
    woken = Wake()
    order: list[str] = []

    async def one(name: str, rank: int, wake: Wake | None) -> None:
        async with slots.held(rank, wake=wake):
            order.append(name)

    await slots.acquire(LISTING)
    tasks = [
        asyncio.create_task(one("routine", ROUTINE, None)),
        asyncio.create_task(one("woken", ROUTINE, woken)),
        asyncio.create_task(one("listing", LISTING, None)),
    ]
    await asyncio.sleep(0)
    woken.set()  # a listing saw its job end while its routine GET waited
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["listing", "woken", "routine"]
    assert woken.is_set()  # still set: its follower looks again at once


async def test_a_routine_request_of_a_job_already_woken_is_ranked_woken_from_the_start() -> None:
    woken = Wake()
    woken.set()
    order = await served_in_order(Slots(1), [("routine", ROUTINE, None), ("woken", ROUTINE, woken)])
    assert order == ["woken", "routine"]


async def test_never_more_requests_at_once_than_slots() -> None:
    slots = Slots(3)
    busy = 0
    most = 0

    async def one(rank: int) -> None:
        nonlocal busy, most
        async with slots.held(rank):
            busy += 1
            most = max(most, busy)
            await asyncio.sleep(0.01)
            busy -= 1

    await asyncio.gather(*(one(i % 3) for i in range(40)))
    assert most == 3


async def test_waiters_cancelled_in_the_queue_cost_no_slot() -> None:
    slots = Slots(2)
    await slots.acquire(LISTING)
    await slots.acquire(LISTING)
    queued = [asyncio.create_task(slots.acquire(i % 3)) for i in range(6)]
    await asyncio.sleep(0)
    for task in queued[:5]:
        task.cancel()  # cancelled while waiting (their jobs ended meanwhile)
    await asyncio.gather(*queued[:5], return_exceptions=True)
    slots.release()  # skips the cancelled ones: to the one left
    await asyncio.wait_for(queued[5], timeout=1)
    slots.release()  # now one slot is free, no one waiting
    await asyncio.wait_for(slots.acquire(ROUTINE), timeout=1)  # taken at once
    third = asyncio.create_task(slots.acquire(WOKEN))
    await asyncio.sleep(1)
    assert not third.done()  # both slots are in use again
    third.cancel()


async def test_a_waiter_cancelled_after_it_was_served_hands_its_slot_on() -> None:
    slots = Slots(1)
    await slots.acquire(LISTING)
    first = asyncio.create_task(slots.acquire(WOKEN))
    second = asyncio.create_task(slots.acquire(ROUTINE))
    await asyncio.sleep(0)
    slots.release()  # given to first ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, timeout=1)  # the slot went on to the next
