"""A backend's request slots: at most `concurrency` requests in flight, the most urgent first.

Thousands of followed jobs come due for their routine fetch (the one every `poll_max`, or a
quiet job's backoff poll) in bursts, and a first-come queue puts everything else behind them.
At 10,000 jobs that queue, not the backend, set the detection lag. So requests wait in three
queues, each first come, first served, each served before the next:

- `LISTING`: a listing's or refresh's pages (and cancels). They come first because a listing
  read page after page while jobs end shifts the later pages (an offset skips the jobs that
  left), and each job a shifted page skips is woken to be fetched for nothing;
- `WOKEN`: the GET of a job a listing saw move, or a job's first look;
- `ROUTINE`: a poll nothing asked for but the clock. One whose job is woken while it waits
  (`Wake`) moves up to `WOKEN`: a job that ended is not left behind the routine backlog.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from jobhub.waiting.flag import Flag

__all__ = ["LISTING", "ROUTINE", "WOKEN", "Slots", "Wake"]

LISTING, WOKEN, ROUTINE = 0, 1, 2


class Wake(Flag):
    """A followed job's wake-up (a listing saw it move): a `Flag` (an `asyncio.Event`) that
    also moves the job's routine request, if one is waiting for a slot, up to `WOKEN`."""

    __slots__ = ("hurry",)

    def __init__(self) -> None:
        super().__init__()
        self.hurry: Callable[[], None] | None = None  # set while a routine request waits

    def set(self) -> None:
        super().set()
        if self.hurry is not None:
            self.hurry()


class Slots:
    """At most `size` requests at once; a waiting request goes before every one of a later
    rank (`LISTING`, `WOKEN`, `ROUTINE`).

    async with slots.held(ROUTINE, wake=followed.wake):   # a routine poll of one job
        ...
    """

    def __init__(self, size: int) -> None:
        self._free = size
        # Waiters by rank. A waiter cancelled in place stays here, skipped when reached:
        # removing it would cost a scan of thousands at every job's end.
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque(), deque())

    def held(self, rank: int, *, wake: Wake | None = None) -> _Held:
        """A slot for one request (`wake`: its job's, which moves a routine request up)."""
        return _Held(self, rank, wake)

    async def acquire(self, rank: int, *, wake: Wake | None = None) -> None:
        if self._free > 0:  # then no live waiter is left (`release` serves them first)
            self._free -= 1
            for queue in self._waiting:
                queue.clear()
            return
        turn = asyncio.get_running_loop().create_future()
        if rank == ROUTINE and wake is not None and wake.is_set():
            rank = WOKEN
        self._waiting[rank].append(turn)
        if rank == ROUTINE and wake is not None:

            def hurry() -> None:  # queued twice then: whichever place comes first serves it
                if not turn.done():
                    self._waiting[WOKEN].append(turn)

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
    __slots__ = ("_rank", "_slots", "_wake")

    def __init__(self, slots: Slots, rank: int, wake: Wake | None) -> None:
        self._slots = slots
        self._rank = rank
        self._wake = wake

    async def __aenter__(self) -> None:
        await self._slots.acquire(self._rank, wake=self._wake)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()
