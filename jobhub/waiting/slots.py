"""A backend's request slots: at most `concurrency` requests in flight, urgent ones first.

Thousands of followed jobs come due for their routine fetch (the one every `poll_max`, or a
quiet job's backoff poll) in bursts, and a first-come queue puts every urgent request behind
them: the GET of a job a listing saw end, the listing itself, a refresh, a job's first look.
At 10,000 jobs that queue, not the backend, set the detection lag. So urgent requests wait in
a queue of their own, served before any routine one; each queue is first come, first served.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["Slots", "Wake"]


class Wake(asyncio.Event):
    """A followed job's wake-up (a listing saw it move): an `asyncio.Event` that also turns
    the job's routine request, if one is waiting for a slot, into an urgent one: a job that
    ended is not left behind the backlog of routine fetches it happened to be waiting in."""

    def __init__(self) -> None:
        super().__init__()
        self.hurry: Callable[[], None] | None = None  # set while a routine request waits

    def set(self) -> None:
        super().set()
        if self.hurry is not None:
            self.hurry()


class Slots:
    """At most `size` requests at once; a waiting urgent request goes before every routine one.

    async with slots.held(urgent=False):   # a routine poll
        ...
    """

    def __init__(self, size: int) -> None:
        self._free = size
        # Waiters, urgent first. A waiter cancelled in place stays here, skipped when reached:
        # removing it would cost a scan of thousands at every job's end.
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(),
            deque(),
        )

    def held(self, *, urgent: bool, wake: Wake | None = None) -> _Held:
        """A slot for one request (`wake`: its job's, which makes a routine request urgent)."""
        return _Held(self, urgent, wake)

    async def acquire(self, *, urgent: bool, wake: Wake | None = None) -> None:
        if self._free > 0:  # then no live waiter is left (`release` serves them first)
            self._free -= 1
            for queue in self._waiting:
                queue.clear()
            return
        turn = asyncio.get_running_loop().create_future()
        urgent = urgent or (wake is not None and wake.is_set())
        self._waiting[0 if urgent else 1].append(turn)
        if not urgent and wake is not None:

            def hurry() -> None:  # queued twice then: whichever place comes first serves it
                if not turn.done():
                    self._waiting[0].append(turn)

            wake.hurry = hurry
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # given a slot, then cancelled: hand it on
            raise
        finally:
            if wake is not None:
                wake.hurry = None

    def release(self) -> None:
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._free += 1


class _Held:
    __slots__ = ("_slots", "_urgent", "_wake")

    def __init__(self, slots: Slots, urgent: bool, wake: Wake | None) -> None:
        self._slots = slots
        self._urgent = urgent
        self._wake = wake

    async def __aenter__(self) -> None:
        await self._slots.acquire(urgent=self._urgent, wake=self._wake)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()
