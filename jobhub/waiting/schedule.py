"""When to poll next: `Backoff` (jittered exponential pauses with a cap) and `Deadline` (one
time limit shared by everything a call does). Pure: the clock and the random source are given.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from jobhub.errors import ConfigError, InvalidArgument

__all__ = ["GROWTH", "SHARED_GROWTH", "Backoff", "Deadline"]

GROWTH = 2.0  # each quiet poll doubles the pause, up to the cap
SHARED_GROWTH = 1.25  # a poll that serves many jobs at once (batch refresh, listing) grows slower
JITTER = 0.5  # a pause is drawn from [(1 - JITTER) * step, step]


class Backoff:
    """Pauses between polls of something that may change.

    The n-th pause after the last change is drawn uniformly from `[step / 2, step]` where
    `step = min(cap, base * growth**n)`: the first poll after a change comes within `base`
    seconds, quiet things are asked less and less often, never less often than every `cap`
    seconds, and the jitter keeps many waiters from polling in lockstep. `reset()` on a change
    starts over. `growth` is 2 for a poll of one job; a poll that serves every job of a backend
    at once (`SHARED_GROWTH`) grows more slowly, since it notices ends sooner for few requests.

        backoff = Backoff(base=1.0, cap=30.0)
        backoff.next()   # 0.5 .. 1
        backoff.next()   # 1 .. 2
        backoff.reset()  # something changed: back to 0.5 .. 1
    """

    __slots__ = ("_rng", "base", "cap", "growth", "steps")

    def __init__(
        self,
        base: float,
        cap: float,
        *,
        growth: float = GROWTH,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0 or not math.isfinite(base):
            raise ConfigError(f"poll_interval must be a positive number of seconds, not {base!r}")
        self.base = base
        self.cap = max(base, cap)  # a cap below the base would make the base meaningless
        self.growth = growth
        self.steps = 0
        self._rng = rng or random.Random()

    def step(self) -> float:
        """The longest the next pause can be."""
        exponent = min(self.steps, 256)  # far past any cap already; keeps floats finite
        return min(self.cap, self.base * self.growth**exponent)

    def next(self) -> float:
        """The next pause in seconds; each call without a `reset()` lengthens the following."""
        step = self.step()
        self.steps += 1
        return step * (1.0 - JITTER * self._rng.random())

    def reset(self) -> float:
        """Start over after a change; returns the next pause (as `next()` would)."""
        self.steps = 0
        return self.next()


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
