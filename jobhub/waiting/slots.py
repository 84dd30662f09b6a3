"""A backend's request slots: at most `concurrency` requests in flight, the most urgent first.

Thousands of followed jobs come due for their routine fetch (the one every `poll_max`, or a
quiet job's backoff poll) in bursts, and a first-come queue puts everything else behind them.
At 10,000 jobs that queue, not the backend, set the detection lag. So requests wait in four
queues, each first come, first served, each served before the next:

- `LISTING`: a listing's or refresh's pages (and cancels). They come first because a listing
  read page after page while jobs end shifts the later pages (an offset skips the jobs that
  left), and each job a shifted page skips is woken to be fetched for nothing;
- `WOKEN`: the GET of a job a listing saw move, or a job's first look;
- `ROUTINE`: a poll nothing asked for but the clock;
- `BACKSTOP`: the `poll_max` fetch of a job a listing shows unchanged. These hold at most
  `BACKSTOP_SHARE` of the slots: where listings watch thousands of jobs, their backstops come
  due faster than the slots can serve them, and would otherwise keep every slot busy, each
  job that moves waiting for one to free and the event loop busy with their answers.

A routine or backstop request whose job is woken while it waits (`Wake`) moves up to `WOKEN`:
a job that ended is not left behind the backlog.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from jobhub.waiting.flag import Flag

__all__ = ["BACKSTOP", "BACKSTOP_SHARE", "LISTING", "ROUTINE", "WOKEN", "Slots", "Wake"]

LISTING, WOKEN, ROUTINE, BACKSTOP = 0, 1, 2, 3
# Of a backend's slots, the most backstop polls may hold at once (at least one).
BACKSTOP_SHARE = 0.5


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
    rank (`LISTING`, `WOKEN`, `ROUTINE`, `BACKSTOP`). Backstop polls hold at most
    `BACKSTOP_SHARE` of the slots, so a listing or a job that moved never waits behind a full
    backlog of them.

    async with slots.held(ROUTINE, wake=followed.wake):   # a routine poll of one job
        ...
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._backstop_free = max(1, int(size * BACKSTOP_SHARE))
        # Waiters by rank. A waiter cancelled in place stays here, skipped when reached:
        # removing it would cost a scan of thousands at every job's end.
        self._waiting: tuple[deque[asyncio.Future[bool]], ...] = tuple(
            deque() for _ in range(BACKSTOP + 1)
        )

    def held(self, rank: int, *, wake: Wake | None = None) -> _Held:
        """A slot for one request (`wake`: its job's, which moves a routine request up)."""
        return _Held(self, rank, wake)

    async def acquire(self, rank: int, *, wake: Wake | None = None) -> bool:
        """Wait for a slot; True when it is a backstop's (give that back to `release`)."""
        if rank >= ROUTINE and wake is not None and wake.is_set():
            rank = WOKEN
        backstop = rank == BACKSTOP
        if self._free > 0 and (not backstop or self._backstop_free > 0):
            # No live waiter is left that this one would pass (`_serve` serves them first).
            self._take(backstop)
            for queue in self._waiting[:BACKSTOP]:
                queue.clear()
            return backstop
        turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[rank].append(turn)
        if rank >= ROUTINE and wake is not None:

            def hurry() -> None:  # queued twice then: whichever place comes first serves it
                if not turn.done():
                    self._waiting[WOKEN].append(turn)
                    self._serve()  # a slot may be free that backstop polls may not take

            wake.hurry = hurry
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(turn.result())  # given a slot, then cancelled: hand it on
            raise
        finally:
            if wake is not None:
                wake.hurry = None

    def release(self, backstop: bool = False) -> None:
        self._free += 1
        self._backstop_free += backstop
        self._serve()

    def _take(self, backstop: bool) -> None:
        self._free -= 1
        self._backstop_free -= backstop

    def _serve(self) -> None:
        """Hand the free slots to the waiters, most urgent first."""
        while self._free > 0 and (served := self._next_waiter()) is not None:
            turn, backstop = served
            self._take(backstop)
            turn.set_result(backstop)

    def _next_waiter(self) -> tuple[asyncio.Future[bool], bool] | None:
        """The first live waiter a free slot may go to, and whether it waits as a backstop."""
        for rank, queue in enumerate(self._waiting):
            if rank == BACKSTOP and self._backstop_free <= 0:
                return None
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    return turn, rank == BACKSTOP
        return None


class _Held:
    __slots__ = ("_backstop", "_rank", "_slots", "_wake")

    def __init__(self, slots: Slots, rank: int, wake: Wake | None) -> None:
        self._slots = slots
        self._rank = rank
        self._wake = wake
        self._backstop = False

    async def __aenter__(self) -> None:
        self._backstop = await self._slots.acquire(self._rank, wake=self._wake)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release(self._backstop)
