"""`Flag`, the engine's per-job `asyncio.Event`: set before or after a wait, cleared and set
again, waited on by several at once, one waiter cancelled without the others noticing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobhub.waiting.flag import Flag
from jobhub.waiting.polling import sleep_or_wake
from tests.test_waiting_support import VIRTUAL_TIME, clock

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return VIRTUAL_TIME


async def test_a_flag_set_before_the_wait_returns_at_once_and_stays_set() -> None:
    flag = Flag()
    flag.set()
    started = clock()
    assert await flag.wait() is True
    assert await flag.wait() is True
    assert flag.is_set() and clock() == started


async def test_every_waiter_wakes_when_the_flag_is_set_and_a_cancelled_one_does_not_matter() -> (
    None
):
    flag = Flag()
    woke: list[float] = []

    async def waiter() -> None:
        await flag.wait()
        woke.append(clock())

    started = clock()
    waiters = [asyncio.create_task(waiter()) for _ in range(3)]
    cancelled = asyncio.create_task(waiter())
    await asyncio.sleep(1)
    cancelled.cancel()
    await asyncio.sleep(1)
    assert not woke  # nothing set yet
    flag.set()
    await asyncio.gather(*waiters)
    assert woke == pytest.approx([started + 2] * 3)
    assert cancelled.cancelled()


async def test_a_cleared_flag_is_waited_for_again() -> None:
    flag = Flag()
    flag.set()
    flag.clear()
    assert not flag.is_set()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(5):
            await flag.wait()
    asyncio.get_running_loop().call_later(3, flag.set)
    started = clock()
    await flag.wait()
    assert clock() - started == pytest.approx(3)


async def test_sleep_or_wake_returns_early_on_a_set_flag_and_clears_it() -> None:
    flag = Flag()
    asyncio.get_running_loop().call_later(2, flag.set)
    started = clock()
    assert await sleep_or_wake(10, flag) is True
    assert clock() - started == pytest.approx(2) and not flag.is_set()
    assert await sleep_or_wake(10, flag) is False  # not woken: the whole sleep
    assert clock() - started == pytest.approx(12)
