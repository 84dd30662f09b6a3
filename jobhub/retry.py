"""When to try again: the one retry policy of jobhub, used by the runners in `jobhub.http`
(a single call: `get`, `list`, `cancel`) and by the waiting engine (which sends each request
once and spaces its polls and its tries with the same `Backoff`).

- what is worth another try (`is_transient`): connection failures, timeouts, 408, 425, 429,
  500, 502, 503, 504 — never 401/403/404, other 4xx or an unreadable answer;
- how long to pause (`pause_before_retry`): the next `Backoff` step, never shorter than a
  `Retry-After` the backend asked for (itself at most `MAX_RETRY_AFTER_PAUSE`);
- inside one call, a `Retry-After` longer than `MAX_RETRY_AFTER` is not slept through: the
  `RateLimited` error is raised. A wait keeps trying until its deadline.
"""

from __future__ import annotations

import math
import random

from jobhub.errors import BackendUnavailable, ConfigError, RateLimited

__all__ = [
    "GROWTH",
    "MAX_RETRY_AFTER",
    "SHARED_GROWTH",
    "Backoff",
    "is_transient",
    "pause_before_retry",
]

GROWTH = 2.0  # each quiet poll doubles the pause, up to the cap
SHARED_GROWTH = 1.25  # a poll that serves many jobs at once (batch refresh, listing) grows slower
JITTER = 0.5  # a pause is drawn from [(1 - JITTER) * step, step]
# A Retry-After longer than this is not slept through inside one call: the error is raised.
MAX_RETRY_AFTER = 60.0
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """Faults worth retrying: rate limits, 5xx/408, timeouts and connection failures."""
    if isinstance(exc, RateLimited):
        return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER
    if isinstance(exc, BackendUnavailable):
        return exc.status_code is None or exc.status_code in TRANSIENT_STATUS
    return False


def pause_before_retry(exc: BaseException, backoff: Backoff) -> float:
    """Seconds to pause before trying again after `exc`: the next backoff step, or the
    `Retry-After` the backend asked for when that is longer."""
    asked = exc.retry_after if isinstance(exc, RateLimited) else None
    pause = backoff.next()
    return max(pause, asked) if asked is not None else pause


class Backoff:
    """Pauses between polls of something that may change, and between tries.

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

    __slots__ = ("_random", "base", "cap", "growth", "steps")

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
        # The process's own generator unless one is given: seeding a `Random` of its own costs
        # more than the rest of a Backoff, and a request makes one for its retries.
        self._random = rng.random if rng is not None else random.random

    def step(self) -> float:
        """The longest the next pause can be."""
        exponent = min(self.steps, 256)  # far past any cap already; keeps floats finite
        return min(self.cap, self.base * self.growth**exponent)

    def next(self) -> float:
        """The next pause in seconds; each call without a `reset()` lengthens the following."""
        step = self.step()
        self.steps += 1
        return step * (1.0 - JITTER * self._random())

    def reset(self) -> float:
        """Start over after a change; returns the next pause (as `next()` would)."""
        self.steps = 0
        return self.next()
