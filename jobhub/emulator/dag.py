"""Workflows as task graphs, and when each task of one job runs: a pure function of the plan.

A `Graph` is fixed per workflow: its steps in topological order and, for each, where it starts
and ends as a share of the job's run time (the longest path through the graph is 1.0). From a
job's start, run time, failing step and cancel time, `schedule` gives every task's span and the
moment the job ends — no threads, no timers: the same plan always gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Graph", "Step", "TaskSpan", "schedule"]

TaskOutcome = Literal["done", "failed", "cancelled", "skipped"]


@dataclass(frozen=True, slots=True)
class Step:
    """One task of a workflow: its name, the steps it waits for, and its relative length."""

    name: str
    depends_on: tuple[str, ...] = ()
    weight: float = 1.0


class Graph:
    """A workflow's steps as a DAG, with a normalized schedule.

    ``steps`` come in topological order, ties broken by name (prunner's order); ``step[name]``
    finds one. ``window[name]`` is ``(start, end)`` as shares of the job's run time; every step
    starts as soon as all its dependencies end; ``downstream[name]`` are the steps that
    (transitively) wait for it.
    """

    def __init__(self, name: str, steps: Iterable[Step]) -> None:
        steps = list(steps)
        by_name = {step.name: step for step in steps}
        if len(by_name) != len(steps):
            raise ValueError(f"workflow {name!r}: step names must be unique")
        for step in steps:
            if step.weight <= 0:
                raise ValueError(f"workflow {name!r}: step {step.name!r} needs a weight > 0")
            for dep in step.depends_on:
                if dep not in by_name:
                    raise ValueError(
                        f"workflow {name!r}: step {step.name!r} depends on unknown {dep!r}"
                    )
        self.name = name
        self.steps = tuple(by_name[n] for n in _topological(name, by_name))
        ends: dict[str, float] = {}
        starts: dict[str, float] = {}
        for step in self.steps:
            starts[step.name] = max((ends[d] for d in step.depends_on), default=0.0)
            ends[step.name] = starts[step.name] + step.weight
        makespan = max(ends.values(), default=1.0)
        self.window = {n: (starts[n] / makespan, ends[n] / makespan) for n in starts}
        self.downstream = {step.name: _downstream(step.name, self.steps) for step in self.steps}
        self.step = {step.name: step for step in self.steps}

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {[s.name for s in self.steps]})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)


def _topological(workflow: str, by_name: dict[str, Step]) -> list[str]:
    # Kahn's algorithm, always taking the alphabetically first ready step.
    waiting = {name: set(step.depends_on) for name, step in by_name.items()}
    order: list[str] = []
    ready = sorted(name for name, deps in waiting.items() if not deps)
    while ready:
        name = ready.pop(0)
        order.append(name)
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    ready.append(other)
        ready.sort()
    if len(order) != len(by_name):
        raise ValueError(f"workflow {workflow!r}: its steps depend on each other in a cycle")
    return order


def _downstream(name: str, steps: tuple[Step, ...]) -> frozenset[str]:
    found: set[str] = set()
    for step in steps:  # topological order: a step's dependencies were all seen before it
        if name in step.depends_on or found.intersection(step.depends_on):
            found.add(step.name)
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class TaskSpan:
    """When one task of one job runs. ``start`` None: it never starts. ``outcome`` is what it
    ends as (at ``end``); a skipped task starts and ends at the same instant."""

    name: str
    start: float | None
    end: float | None
    outcome: TaskOutcome | None

    def phase(self, now: float) -> str:
        """``waiting``, ``running`` or the outcome, at emulated time ``now``."""
        if self.start is None or now < self.start:
            return "waiting"
        assert self.end is not None and self.outcome is not None
        if now < self.end and self.outcome != "skipped":
            return "running"
        return self.outcome


def schedule(
    graph: Graph,
    *,
    started: float,
    duration: float,
    failing: str | None = None,
    fail_fast: bool = True,
    skipped: frozenset[str] = frozenset(),
    cancelled_at: float | None = None,
) -> tuple[list[TaskSpan], float]:
    """Every task's span for one job, in graph order, and the time the job ends.

    The ``failing`` step fails at its planned end. With ``fail_fast`` that cancels every running
    task at that instant and no further task starts (prunner); without it, only the failing
    step's dependents never start and the rest run to their end (Pixxel). A cancel at
    ``cancelled_at`` stops running tasks there and starts no more.
    """
    planned: list[TaskSpan] = []
    for step in graph.steps:
        lo, hi = graph.window[step.name]
        start = started + lo * duration
        if step.name in skipped:
            planned.append(TaskSpan(step.name, start, start, "skipped"))
        else:
            planned.append(TaskSpan(step.name, start, started + hi * duration, "done"))
    ends = started + duration
    if failing is not None:
        planned, ends = _fail(graph, planned, failing, fail_fast)
    if cancelled_at is not None and cancelled_at < ends:
        planned = [_cut(span, cancelled_at) for span in planned]
        ends = cancelled_at
    return planned, ends


def _fail(
    graph: Graph, spans: list[TaskSpan], failing: str, fail_fast: bool
) -> tuple[list[TaskSpan], float]:
    failed_at = next(span.end for span in spans if span.name == failing)
    assert failed_at is not None
    out: list[TaskSpan] = []
    if fail_fast:
        for span in spans:
            if span.name == failing:
                out.append(TaskSpan(span.name, span.start, failed_at, "failed"))
            else:
                out.append(_cut(span, failed_at))
        return out, failed_at
    blocked = graph.downstream[failing]
    for span in spans:
        if span.name == failing:
            out.append(TaskSpan(span.name, span.start, failed_at, "failed"))
        elif span.name in blocked:
            out.append(TaskSpan(span.name, None, None, None))
        else:
            out.append(span)
    return out, max(span.end for span in out if span.end is not None)


def _cut(span: TaskSpan, at: float) -> TaskSpan:
    """The span as it is when everything stops at ``at``: ended ones keep their outcome,
    running ones are cancelled there, later ones never start."""
    if span.start is None or span.end is None:
        return span
    if span.end <= at and span.start < at:
        return span
    if span.start < at:
        return TaskSpan(span.name, span.start, at, "cancelled")
    return TaskSpan(span.name, None, None, None)
