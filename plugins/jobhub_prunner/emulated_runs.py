"""What the emulated prunner runs: pipelines (defined with prunner's own YAML keys) and, for
every job, when each task starts and ends — a pure function of the definitions, the jobs' plans
and their cancel times, so nothing runs in the background.

The rules are prunner's (b692da9), as read from its source and its server:

- each pipeline runs at most `concurrency` jobs at once (default 1); the others wait, first in
  first out, on its wait list (`start` null), which holds at most `queue_limit` jobs;
- a task starts once every task it `depends_on` has succeeded; an `allow_failure` task that
  fails counts as succeeded (`done`, keeping its exit code);
- the first failure cancels the tasks still running and starts no other (fail-fast), unless
  the pipeline sets `continue_running_tasks_after_failure`; the dependents of a failed task
  never start;
- the job's error is `context canceled` when a failure or its user cancelled running tasks,
  else the failing task's `exit status N`; when there is one, the `on_error` task runs after
  the job's tasks, before the job completes;
- a job with a variable named `__jobID` cannot start: it is marked cancelled when its turn comes.

Task scripts are read, not run: `sleep S` lines add up to the task's length, `exit N` ends it
with that code, anything else (`echo ...`) takes no time.
"""

from __future__ import annotations

import heapq
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from jobhub.emulator import Graph, Step

__all__ = [
    "CANCELED",
    "RESERVED_VARIABLE",
    "JobPlan",
    "PipelineDef",
    "TaskDef",
    "TaskRun",
    "Timeline",
    "WaitLists",
    "pipelines_from_yaml",
]

CANCELED = "context canceled"
RESERVED_VARIABLE = "__jobID"
ON_ERROR = "on_error"
Outcome = Literal["done", "error", "canceled"]


@dataclass(frozen=True, slots=True)
class TaskDef:
    """One task: how long it takes and the code it exits with."""

    name: str
    seconds: float = 0.0
    exit_code: int = 0
    depends_on: tuple[str, ...] = ()
    allow_failure: bool = False


@dataclass(frozen=True, slots=True)
class PipelineDef:
    """A pipeline; `tasks` in prunner's order (topological, ties by name). `steps` is set for
    the built-in pipelines whose task lengths and failure are steered per job instead."""

    name: str
    tasks: tuple[TaskDef, ...]
    concurrency: int = 1
    queue_limit: int | None = None
    start_delay: float = 0.0
    continue_after_failure: bool = False
    on_error: TaskDef | None = None
    steps: Graph | None = None

    @classmethod
    def of(cls, name: str, tasks: Iterable[TaskDef], **options: Any) -> PipelineDef:
        by_name = {task.name: task for task in tasks}
        order = Graph(name, (Step(t.name, t.depends_on) for t in by_name.values())).names
        return cls(name, tuple(by_name[n] for n in order), **options)


def pipelines_from_yaml(data: Mapping[str, Any]) -> dict[str, PipelineDef]:
    """prunner's pipelines file (`{"pipelines": {name: {...}}}`, already parsed) as definitions."""
    pipelines: dict[str, PipelineDef] = {}
    for name, body in (data.get("pipelines") or {}).items():
        tasks = [
            _task(task_name, spec, spec.get("depends_on") or (), spec.get("allow_failure"))
            for task_name, spec in (body.get("tasks") or {}).items()
        ]
        on_error = body.get("on_error")
        pipelines[name] = PipelineDef.of(
            name,
            tasks,
            concurrency=int(body.get("concurrency", 1)),
            queue_limit=body.get("queue_limit"),
            start_delay=_seconds(body.get("start_delay", 0)),
            continue_after_failure=bool(body.get("continue_running_tasks_after_failure")),
            on_error=None if on_error is None else _task(ON_ERROR, on_error, (), False),
        )
    return pipelines


def _task(name: str, spec: Mapping[str, Any], depends_on: Iterable[str], allow: Any) -> TaskDef:
    seconds, code = 0.0, 0
    for line in spec.get("script") or ():
        words = shlex.split(str(line))
        if words[:1] == ["sleep"] and len(words) == 2:
            seconds += float(words[1])
        elif words[:1] == ["exit"]:
            code = int(words[1]) if len(words) > 1 else 0
            break
    return TaskDef(name, seconds, code, tuple(depends_on), bool(allow))


def _seconds(value: Any) -> float:
    """A Go duration as YAML gives it (`3s`, `500ms`, `1m`) or a number of seconds."""
    text = str(value).strip()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text or 0)


@dataclass(slots=True)
class JobPlan:
    """One job as it was scheduled: its tasks (with this job's lengths and codes), when it was
    created and may start at the earliest, and when its user cancelled it."""

    id: str
    pipeline: PipelineDef
    tasks: tuple[TaskDef, ...]
    created: float
    eligible: float
    variables: dict[str, Any] = field(default_factory=dict)
    user: str = ""
    cancel_at: float | None = None

    @property
    def refusal(self) -> str | None:
        if RESERVED_VARIABLE in self.variables:
            return f"variable name {RESERVED_VARIABLE} is reserved for internal use"
        return None


@dataclass(frozen=True, slots=True)
class TaskRun:
    """When one task ran: `start` None if it never did; `end` is when it stopped."""

    task: TaskDef
    start: float | None = None
    end: float | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    """A job's whole life. `start` None: it never started, and `halted` says when it was marked
    cancelled (by its user while waiting, or as unable to start, then `last_error` says why).
    Otherwise it ran from `start` to `end`; `on_error` is the handler's run, from the end of
    the job's tasks (`tasks_end`)."""

    start: float | None
    end: float | None
    tasks: tuple[TaskRun, ...]
    halted: float | None = None
    tasks_end: float | None = None
    on_error: TaskRun | None = None
    canceled: bool = False
    last_error: str | None = None

    def ended(self, now: float) -> bool:
        if self.start is None:
            return self.halted is not None and now >= self.halted
        return self.end is not None and now >= self.end

    def moments(self) -> tuple[float, ...]:
        """When anything of the job changes, in order: its state and its tasks' are read
        against the time (`now >= moment`), so they read alike between two of these."""
        runs = (*self.tasks, *((self.on_error,) if self.on_error is not None else ()))
        times = (self.start, self.end, self.halted, self.tasks_end)
        times += tuple(t for run in runs for t in (run.start, run.end))
        return tuple(sorted({t for t in times if t is not None}))


def run_tasks(plan: JobPlan, start: float) -> Timeline:
    """The job's tasks run from `start`, fail-fast or not, until done, failed or cancelled."""
    pipeline, cancel_at = plan.pipeline, plan.cancel_at
    runs: dict[str, TaskRun] = {}
    passed: set[str] = set()
    waiting = list(plan.tasks)
    running: dict[str, tuple[TaskDef, float, float]] = {}
    now, first_failure, stopped, cancelled_running = start, None, False, False
    user_cancel = False
    while True:
        if not stopped:
            for task in [t for t in waiting if passed.issuperset(t.depends_on)]:
                waiting.remove(task)
                running[task.name] = (task, now, now + task.seconds)
        if not running:
            break
        next_end = min(end for _, _, end in running.values())
        if cancel_at is not None and cancel_at < next_end:
            for task, began, _ in running.values():
                runs[task.name] = TaskRun(task, began, cancel_at, "canceled")
            now, user_cancel = cancel_at, True
            break
        now = next_end
        for name, (task, began, end) in list(running.items()):
            if end != now:
                continue
            del running[name]
            if task.exit_code == 0 or task.allow_failure:
                runs[name] = TaskRun(task, began, end, "done")
                passed.add(name)
            else:
                runs[name] = TaskRun(task, began, end, "error")
                first_failure = first_failure or task
                stopped = stopped or not pipeline.continue_after_failure
        if stopped and running:
            for task, began, _ in running.values():
                runs[task.name] = TaskRun(task, began, now, "canceled")
            cancelled_running = True
            break
    tasks = tuple(runs.get(task.name) or TaskRun(task) for task in plan.tasks)
    if user_cancel or cancelled_running:
        last_error: str | None = CANCELED
    elif first_failure is not None:
        last_error = f"exit status {first_failure.exit_code}"
    else:
        last_error = None
    handler = pipeline.on_error
    if last_error is None or handler is None:
        return Timeline(
            start, now, tasks, tasks_end=now, canceled=last_error == CANCELED, last_error=last_error
        )
    ends = now + handler.seconds
    if cancel_at is not None and now <= cancel_at < ends:
        handled = TaskRun(handler, now, cancel_at, "canceled")
    else:
        handled = TaskRun(handler, now, ends, "done" if handler.exit_code == 0 else "error")
    assert handled.end is not None
    return Timeline(
        start,
        handled.end,
        tasks,
        tasks_end=now,
        on_error=handled,
        canceled=last_error == CANCELED,
        last_error=last_error,
    )


class WaitLists:
    """Every job of one pipeline and its timeline, worked out in the order prunner starts them.
    Appending a job extends the work done so far; a cancel makes it start over (the jobs after
    the cancelled one may start earlier)."""

    def __init__(self) -> None:
        self.plans: list[JobPlan] = []
        self.timelines: dict[str, Timeline] = {}
        self._done = 0
        self._active: list[float] = []  # ends of the jobs holding a slot
        self._last_start = float("-inf")

    def add(self, plan: JobPlan) -> None:
        self.plans.append(plan)

    def changed(self) -> None:
        self.timelines.clear()
        self._done, self._active, self._last_start = 0, [], float("-inf")

    def timeline(self, plan: JobPlan) -> Timeline:
        while plan.id not in self.timelines:
            self._next()
        return self.timelines[plan.id]

    def waiting(self, now: float) -> int:
        """How many jobs are on the wait list at `now`."""
        count = 0
        for plan in self.plans:
            line = self.timeline(plan)
            if (
                plan.created <= now
                and not line.ended(now)
                and (line.start is None or now < line.start)
            ):
                count += 1
        return count

    def _next(self) -> None:
        plan = self.plans[self._done]
        self._done += 1
        pipeline = plan.pipeline
        # First in, first out: a job never starts before the one scheduled ahead of it.
        turn = max(plan.eligible, self._last_start)
        active = self._active
        while active and active[0] <= turn:
            heapq.heappop(active)
        while len(active) >= pipeline.concurrency:
            turn = max(turn, heapq.heappop(active))
        if plan.cancel_at is not None and plan.cancel_at <= turn:
            tasks = tuple(TaskRun(task) for task in plan.tasks)
            self.timelines[plan.id] = Timeline(
                None, None, tasks, halted=plan.cancel_at, canceled=True
            )
            return
        self._last_start = turn
        refusal = plan.refusal
        if refusal is not None:
            tasks = tuple(TaskRun(task) for task in plan.tasks)
            self.timelines[plan.id] = Timeline(
                None, None, tasks, halted=turn, canceled=True, last_error=refusal
            )
            return
        line = run_tasks(plan, turn)
        assert line.end is not None
        heapq.heappush(active, line.end)
        self.timelines[plan.id] = line
