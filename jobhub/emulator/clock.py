"""Emulated time: a start instant plus real elapsed time times a speed factor.

Every job lifecycle in the emulator is computed from this clock, so speeding it up (or freezing
it with ``speed=0`` and moving it with ``advance``) moves every job on every emulated backend.
Times inside the emulator are plain floats: seconds since the clock's start.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


class Clock:
    """Emulated time. ``now()`` is seconds since ``start``: real elapsed seconds × ``speed``,
    plus whatever ``advance`` added. ``speed=0`` freezes time (tests move it with ``advance``).

    Thread-safe: the server reads it on its event loop while a test advances it from another
    thread. Listeners registered with ``on_change`` hear about every jump (advance, new speed),
    so a long-poll waiting for a job's end can re-check at once.
    """

    def __init__(self, speed: float = 1.0, *, start: datetime | None = None) -> None:
        _check_speed(speed)
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._real_base = time.monotonic()
        self._emulated_base = 0.0
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self._listeners: list[Callable[[], None]] = []
        self._resumes_at: float | None = None  # the speed to run at again, while held

    def __repr__(self) -> str:
        return f"Clock(speed={self._speed:g}, now={self.now():.3f}s)"

    @property
    def speed(self) -> float:
        """Emulated seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        _check_speed(value)
        with self._lock:
            self._rebase()
            self._speed = float(value)
        self._changed()

    @property
    def pace(self) -> float:
        """The speed emulated time runs at: while `held`, the one it will run at again. What
        plans in real time (a WES run's sleep) reads this, not `speed`."""
        resumes_at = self._resumes_at
        return self._speed if resumes_at is None else resumes_at

    @contextmanager
    def held(self) -> Iterator[None]:
        """Emulated time stands still inside (as `speed = 0`), then runs again at the speed it
        had. Nested holds end with the outermost."""
        if self._resumes_at is not None:
            yield
            return
        speed = self._speed
        self.speed = 0
        self._resumes_at = speed
        try:
            yield
        finally:
            self._resumes_at = None
            self.speed = speed

    def now(self) -> float:
        """Emulated seconds since the clock started."""
        with self._lock:
            return self._emulated_base + (time.monotonic() - self._real_base) * self._speed

    def advance(self, seconds: float) -> None:
        """Jump emulated time forward (for tests: no waiting, no sleeps)."""
        if not seconds >= 0:
            raise ValueError(f"a clock only moves forward; cannot advance by {seconds!r} seconds")
        with self._lock:
            self._emulated_base += seconds
        self._changed()

    def at(self, seconds: float) -> datetime:
        """The aware UTC instant of an emulated time."""
        return self.start + timedelta(seconds=seconds)

    def real_delay(self, emulated_seconds: float) -> float:
        """Real seconds until ``emulated_seconds`` more have passed (inf when frozen)."""
        if emulated_seconds <= 0:
            return 0.0
        speed = self._speed
        return emulated_seconds / speed if speed > 0 else math.inf

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (from whichever thread moved the clock) after every jump."""
        self._listeners.append(listener)

    def _rebase(self) -> None:
        now = time.monotonic()
        self._emulated_base += (now - self._real_base) * self._speed
        self._real_base = now

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


def _check_speed(speed: float) -> None:
    if not (isinstance(speed, int | float) and math.isfinite(speed) and speed >= 0):
        raise ValueError(
            f"clock speed must be a finite number >= 0 (0 freezes time), not {speed!r}"
        )
