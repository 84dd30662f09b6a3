"""When to poll next: `Backoff` (jittered exponential pauses with a cap, from `jobhub.retry`,
the one policy for polls and tries) and `Deadline` (one time limit shared by everything a call
does). Pure: the clock and the random source are given.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from jobhub.errors import InvalidArgument
from jobhub.retry import GROWTH, SHARED_GROWTH, Backoff

__all__ = ["GROWTH", "SHARED_GROWTH", "Backoff", "Deadline"]


class Deadline:
    """One time limit for a whole call (`wait_all`, `as_completed`, `watch`): every request
    and pause inside it draws on the same budget. `timeout=None` never expires.

        deadline = Deadline(60)
        deadline.remaining()  # 60.0 .. 0.0, or None without a timeout
    """

    __slots__ = ("_clock", "at", "timeout")

    def __init__(
        self, timeout: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not timeout >= 0  # also rejects NaN
        ):
            raise InvalidArgument(f"timeout must be None or seconds, 0 or more, not {timeout!r}")
        self.timeout = None if timeout is None else float(timeout)
        self._clock = clock
        self.at = None if timeout is None else clock() + float(timeout)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None when there is no limit."""
        if self.at is None:
            return None
        return max(0.0, self.at - self._clock())

    @property
    def expired(self) -> bool:
        return self.at is not None and self._clock() >= self.at

    def cap(self, seconds: float) -> float:
        """`seconds`, shortened to what is left."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)
