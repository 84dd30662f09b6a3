"""`Flag`: an `asyncio.Event` cheap enough to hold thousands of.

Every followed job holds two (`FollowedJob.wake`, `first_request_done`). An `asyncio.Event`
makes its waiters' deque when it is made, about 0.8 KiB each: 16 MiB at 10,000 jobs, for
events that are mostly never waited on. A `Flag` makes its list of waiters only while
something waits.
"""

from __future__ import annotations

import asyncio

__all__ = ["Flag"]


class Flag:
    """`set`, `clear`, `is_set` and `wait` as `asyncio.Event` has them.

    flag = Flag()
    await flag.wait()    # returns once flag.set() was called (at once if it already was)
    """

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None  # made by the first wait

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True
