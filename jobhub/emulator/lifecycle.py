"""One emulated job's plan, and how a submitter steers it.

A job is stored as a `Run`: a handful of numbers fixed when it is created (when it was created,
starts and ends, how it ends, a few random bits for details). Its state at any moment is computed
from the plan and the clock, so 10,000s of jobs cost little and a seed repeats a run exactly.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FINAL_STATES",
    "OUTCOMES",
    "Plan",
    "Planner",
    "Run",
    "SteeringError",
    "parse_steering",
]

Outcome = Literal["succeeded", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("succeeded", "failed")
FINAL_STATES = ("succeeded", "failed", "cancelled")


class SteeringError(ValueError):
    """A submitter's ``duration`` or ``outcome`` cannot be used (the message says why)."""


def parse_steering(duration: Any = None, outcome: Any = None) -> tuple[float | None, str | None]:
    """Read ``duration`` (seconds, a number or numeric string, >= 0) and ``outcome``
    (``succeeded`` or ``failed``, any case); None leaves the choice to the seeded random."""
    seconds: float | None = None
    if duration is not None and duration != "":
        if isinstance(duration, bool):
            raise SteeringError(f"duration must be a number of seconds, not {duration!r}")
        try:
            seconds = float(duration)
        except (TypeError, ValueError):
            raise SteeringError(f"duration must be a number of seconds, not {duration!r}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise SteeringError(f"duration must be a finite number >= 0, not {duration!r}")
    word: str | None = None
    if outcome is not None and outcome != "":
        word = str(outcome).strip().lower()
        if word not in OUTCOMES:
            raise SteeringError(f"outcome must be 'succeeded' or 'failed', not {outcome!r}")
    return seconds, word


@dataclass(frozen=True, slots=True)
class Plan:
    """The random draws for a new job, steering already applied."""

    queued_for: float
    duration: float
    outcome: str
    bits: int


class Planner:
    """Seeded choices for new jobs: ids, how long they queue and run, how they end.

    Every job draws the same number of values whatever the steering, so steering one job never
    shifts the random choices of the jobs after it.
    """

    def __init__(
        self,
        seed: str,
        *,
        queue: tuple[float, float] = (0.2, 1.5),
        duration: tuple[float, float] = (3.0, 15.0),
        failure_rate: float = 0.2,
    ) -> None:
        self.rng = random.Random(seed)
        self.queue = queue
        self.duration = duration
        self.failure_rate = failure_rate

    def new_id(self) -> str:
        """A random (version 4) UUID drawn from the seeded generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def plan(self, *, duration: float | None = None, outcome: str | None = None) -> Plan:
        queued_for = self.rng.uniform(*self.queue)
        drawn_duration = self.rng.uniform(*self.duration)
        drawn_outcome = "failed" if self.rng.random() < self.failure_rate else "succeeded"
        bits = self.rng.getrandbits(32)
        return Plan(
            queued_for=queued_for,
            duration=drawn_duration if duration is None else duration,
            outcome=drawn_outcome if outcome is None else outcome,
            bits=bits,
        )


@dataclass(slots=True)
class Run:
    """The plan of one emulated job; times are emulated seconds (see `Clock`).

    ``duration`` is its planned run time; ``finished`` is when it ends if nobody cancels it
    (earlier than ``started + duration`` when a failing task cuts it short); ``failing`` names
    the task that fails (for backends with tasks); ``bits`` are random bits the backend uses for
    details (which error text, how many outputs). ``cancelled_at`` is set by a cancel request.
    """

    id: str
    workflow: str
    created: float
    started: float
    duration: float
    finished: float
    outcome: str
    bits: int = 0
    user: str = ""
    inputs: Any = None
    failing: str | None = None
    cancelled_at: float | None = None

    @property
    def ends(self) -> float:
        """When the job ends (or ended), cancellation included."""
        if self.cancelled_at is not None and self.cancelled_at < self.finished:
            return self.cancelled_at
        return self.finished

    @property
    def cancelled_before_start(self) -> bool:
        return self.cancelled_at is not None and self.cancelled_at < self.started

    def phase(self, now: float) -> str:
        """``queued``, ``running``, or the final state, at emulated time ``now``."""
        if now >= self.ends:
            return self.final_state
        if now < self.started:
            return "queued"
        return "running"

    def ended(self, now: float) -> bool:
        return now >= self.ends

    @property
    def final_state(self) -> str:
        """The canonical word the job ends in: ``succeeded``, ``failed`` or ``cancelled``."""
        if self.cancelled_at is not None and self.cancelled_at < self.finished:
            return "cancelled"
        return self.outcome

    def cancel(self, now: float) -> bool:
        """Cancel at ``now``; False (and no change) when the job has already ended."""
        if self.ended(now):
            return False
        self.cancelled_at = now
        return True
