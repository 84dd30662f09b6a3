"""jobhub's benchmarks: each sets jobhub beside its floor, measured in the same run.

    python -m benchmarks                 every benchmark
    python -m benchmarks normalize bulk  the ones named
    python -m benchmarks --quick         fewer rounds, smaller bulk payloads (a smoke run)

A figure is the median over repeated rounds; jobhub and its floor are measured in alternating
rounds, so a machine that slows down mid-run slows both. This module holds the shared timing
and the table every benchmark prints.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Row", "compare", "format_seconds", "print_table", "quick"]


def quick(argv: Sequence[str]) -> bool:
    """Whether the run asked for a smoke run (`--quick`)."""
    return "--quick" in argv


@dataclass(frozen=True)
class Row:
    """One line of a table: what was measured, jobhub's figure and the floor's."""

    name: str
    jobhub: float
    floor: float
    unit: str = "s"  # "s" (shown scaled to µs/ms/s) or "MiB"
    target: float | None = None  # the ratio jobhub should stay within

    @property
    def ratio(self) -> float:
        return self.jobhub / self.floor if self.floor else float("inf")


def _per_call(function: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls


def _calls_for(function: Callable[[], object], budget: float) -> int:
    """How many calls fill about `budget` seconds (at least one)."""
    once = _per_call(function, 1)
    return max(1, int(budget / max(once, 1e-9)))


def compare(
    jobhub: Callable[[], object],
    floor: Callable[[], object],
    *,
    rounds: int = 15,
    budget: float = 0.05,
) -> tuple[float, float]:
    """Median seconds per call of `jobhub` and of `floor`, over alternating rounds of about
    `budget` seconds each. The garbage collector stays on (it is part of the real cost of
    building objects); each round starts from a collected heap."""
    jobhub()  # warm caches and lazy imports outside the measurement
    floor()
    calls_jobhub = _calls_for(jobhub, budget)
    calls_floor = _calls_for(floor, budget)
    mine, theirs = [], []
    for _ in range(rounds):
        gc.collect()
        theirs.append(_per_call(floor, calls_floor))
        gc.collect()
        mine.append(_per_call(jobhub, calls_jobhub))
    return statistics.median(mine), statistics.median(theirs)


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _figure(value: float, unit: str) -> str:
    return format_seconds(value) if unit == "s" else f"{value:.0f} {unit}"


def print_table(title: str, floor_name: str, rows: Sequence[Row]) -> None:
    """A Markdown table of jobhub, its floor and their ratio; a ratio past its target is
    marked."""
    print(f"\n### {title}\n")
    print(f"| | jobhub | {floor_name} | ratio | target |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        target = "" if row.target is None else f"≤ {row.target:g}×"
        if row.target is not None and row.ratio > row.target:
            target += " **missed**"
        print(
            f"| {row.name} | {_figure(row.jobhub, row.unit)} | {_figure(row.floor, row.unit)} "
            f"| {row.ratio:.2f}× | {target} |",
            flush=True,
        )
