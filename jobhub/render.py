"""How jobs look in a terminal: a compact table, a job's detail with its tasks as a dependency
tree, one line per event, and a board that keeps the latest state of a set of jobs.

The formatting helpers are pure functions of their arguments (`now` is passed in), so tables
of emulated jobs and tests are rendered against the clock they choose.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from jobhub.commands._text import printable
from jobhub.model import Job, JobEvent, JobState, Task

__all__ = [
    "JobBoard",
    "TaskNode",
    "elapsed",
    "event_line",
    "format_age",
    "format_clock",
    "format_progress",
    "format_seconds",
    "format_time",
    "job_detail",
    "jobs_table",
    "make_console",
    "plain",
    "shorten",
    "state_text",
    "summary_line",
    "summary_table",
    "task_forest",
    "worth_a_line",
]

STATE_STYLES: dict[JobState, str] = {
    JobState.PENDING: "dim",
    JobState.QUEUED: "cyan",
    JobState.RUNNING: "bold blue",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "bold red",
    JobState.CANCELLED: "yellow",
    JobState.SKIPPED: "dim",
    JobState.UNKNOWN: "magenta",
}

SHORT_WORKFLOW = 24

STATE_MARKS: dict[JobState, str] = {
    JobState.PENDING: "○",
    JobState.QUEUED: "◌",
    JobState.RUNNING: "●",
    JobState.SUCCEEDED: "✓",
    JobState.FAILED: "✗",
    JobState.CANCELLED: "⊘",
    JobState.SKIPPED: "↷",
    JobState.UNKNOWN: "?",
}


PIPE_WIDTH = 1000


def make_console() -> Console:
    """A console on stdout: colour and live updates on a terminal, plain text when piped.

    Piped output is not wrapped at 80 columns (unless $COLUMNS says so): a table row stays
    one line, so `grep` and `awk` see each job whole."""
    out = Console(highlight=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(highlight=False, width=PIPE_WIDTH)
    return out


# -- figures ------------------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    """A duration, compact: `0.4s`, `42s`, `3m05s`, `2h03m`, `3d04h`; "" for None."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_age(when: datetime | None, now: datetime) -> str:
    """How long ago `when` was, coarse like `kubectl get`: `45s`, `12m`, `5h`, `3d`."""
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_progress(progress: float | None) -> str:
    return "" if progress is None else f"{progress * 100:.0f}%"


def elapsed(job: Job | Task, now: datetime) -> float | None:
    """Seconds the job ran: its duration once known, else the time since it started while it
    runs (a live figure for tables that update)."""
    duration = getattr(job, "duration", None)
    if duration is not None:
        return float(duration)
    if job.started_at is None:
        return None
    if job.finished_at is not None:
        return (job.finished_at - job.started_at).total_seconds()
    if job.state.terminal:
        return None
    return max(0.0, (now - job.started_at).total_seconds())


def state_text(state: JobState, *, mark: bool = False) -> Text:
    label = f"{STATE_MARKS[state]} {state.value}" if mark else state.value
    return Text(label, style=STATE_STYLES[state])


def plain(text: object, style: str = "") -> Text:
    """Backend text as a rich `Text`, control characters escaped (see `printable`) and never
    read as rich markup: what a server sends is shown, not obeyed."""
    return Text(printable(text), style=style)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# -- tables -------------------------------------------------------------------------------------


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, keeping its start and its end around an ellipsis
    (`prunner:52a5c…6dd6aaf1bc4c8`): a ref keeps its backend and the end of its id."""
    if len(text) <= width:
        return text
    if width < 2:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def format_time(when: datetime | None, tz: tzinfo | None = None) -> str:
    """`2026-11-22 10:57:28 UTC`: in `tz`, else the local zone, always naming its zone."""
    if when is None:
        return ""
    shown = when.astimezone(tz)
    return f"{shown:%Y-%m-%d %H:%M:%S} {shown.tzname() or shown.strftime('%z')}"


def format_clock(when: datetime, tz: tzinfo | None = None) -> str:
    """`10:57:28 UTC`: the time of day of an event line, naming its zone."""
    shown = when.astimezone(tz)
    return f"{shown:%H:%M:%S} {shown.tzname() or shown.strftime('%z')}"


def _tasks_done(job: Job) -> str:
    if not job.tasks:
        return ""
    return f"{sum(task.state.terminal for task in job.tasks)}/{len(job.tasks)}"


GAP = 2  # columns between cells
MIN_REF = 16


def jobs_table(
    jobs: Iterable[Job],
    *,
    now: datetime | None = None,
    age: bool = True,
    wide: bool = False,
    fit: int | None = None,
    tz: tzinfo | None = None,
    title: str | None = None,
) -> Table:
    """One row per job: its ref (what every command takes: copy it), workflow, state, progress,
    age, duration; `wide` adds tasks ended/total, user, created and finished times (in `tz`,
    else local, zone named) and the error. With `fit` (a live board's width) refs and
    workflows are cut, keeping their ends, only as much as the table needs to fit."""
    now = _now(now)
    headers = ["ref", "workflow", "state", "progress"]
    if wide:
        headers += ["tasks", "user", "created", "finished"]
    elif age:
        headers.append("age")
    headers.append("duration")
    if wide:
        headers.append("error")
    rows: list[list[str]] = []
    states: list[JobState] = []
    for job in jobs:
        row = [
            printable(job.ref),
            printable(workflow_shown(job)),
            job.state.value,
            format_progress(job.progress),
        ]
        if wide:
            row += [
                _tasks_done(job),
                printable(job.user or ""),
                format_time(job.created_at, tz),
                format_time(job.finished_at, tz),
            ]
        elif age:
            row.append(format_age(job.created_at, now))
        row.append(format_seconds(elapsed(job, now)))
        if wide:
            row.append(printable(job.error or ""))
        rows.append(row)
        states.append(job.state)
    if fit is not None and rows:
        _fit(rows, headers, fit)
    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    right = {"progress", "age", "duration", "tasks"}
    for header in headers:
        table.add_column(
            header,
            justify="right" if header in right else "left",
            no_wrap=header != "error",
            overflow="fold",
        )
    for row, state in zip(rows, states, strict=True):
        cells: list[RenderableType] = [Text(cell) for cell in row]
        cells[2] = state_text(state)
        table.add_row(*cells)
    return table


def _fit(rows: list[list[str]], headers: list[str], width: int) -> None:
    """Cut the ref and workflow cells (columns 0 and 1) so that every row fits in `width`."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    room = width - sum(widths[2:]) - GAP * (len(headers) - 1)
    ref, workflow = widths[0], widths[1]
    if ref + workflow <= room:
        return
    cut_workflow = min(workflow, max(len("workflow"), SHORT_WORKFLOW))
    ref = min(ref, max(MIN_REF, room - cut_workflow))
    workflow = min(workflow, max(cut_workflow, room - ref))
    for row in rows:
        row[0], row[1] = shorten(row[0], ref), shorten(row[1], workflow)


# -- one job, its tasks as a tree -----------------------------------------------------------------


@dataclass
class TaskNode:
    """A task placed in the dependency tree: under the dependency that comes last in
    dependency order; its other dependencies are listed in `after`."""

    task: Task
    children: list[TaskNode] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def _dependency_order(tasks: Sequence[Task]) -> list[int]:
    """Indexes of `tasks` so that each comes after the tasks it depends on (stable: ties keep
    the backend's order). Unknown dependencies are ignored; a cycle keeps the backend's order."""
    first: dict[str, int] = {}
    for index, task in enumerate(tasks):
        first.setdefault(task.name, index)
    deps = [
        {first[name] for name in task.depends_on if name in first and first[name] != index}
        for index, task in enumerate(tasks)
    ]
    placed: list[int] = []
    done: set[int] = set()
    remaining = list(range(len(tasks)))
    while remaining:
        ready = [i for i in remaining if deps[i] <= done]
        if not ready:  # a cycle: keep the rest as the backend listed them
            ready = remaining
        placed.extend(ready)
        done.update(ready)
        remaining = [i for i in remaining if i not in done]
    return placed


def task_forest(tasks: Sequence[Task]) -> list[TaskNode]:
    """The tasks as a forest in dependency order; every task appears exactly once."""
    order = _dependency_order(tasks)
    position = {index: rank for rank, index in enumerate(order)}
    first: dict[str, int] = {}
    for index, task in enumerate(tasks):
        first.setdefault(task.name, index)
    nodes: dict[int, TaskNode] = {}
    roots: list[TaskNode] = []
    for index in order:
        task = tasks[index]
        node = TaskNode(task)
        nodes[index] = node
        earlier = [
            first[name]
            for name in dict.fromkeys(task.depends_on)
            if name in first and first[name] in nodes and first[name] != index
        ]
        if not earlier:
            roots.append(node)
            continue
        parent = max(earlier, key=position.__getitem__)
        node.after = [tasks[i].name for i in earlier if i != parent]
        nodes[parent].children.append(node)
    return roots


def _task_label(task: Task, now: datetime) -> Text:
    label = Text.assemble(
        (f"{STATE_MARKS[task.state]} ", STATE_STYLES[task.state]),
        (printable(task.name), "bold"),
        "  ",
        state_text(task.state),
    )
    if task.status and task.status.lower() != task.state.value:
        label.append(f" ({printable(task.status)})", style="dim")
    duration = format_seconds(elapsed(task, now))
    if duration:
        label.append(f"  {duration}")
    if task.progress is not None and not task.state.terminal:
        label.append(f"  {format_progress(task.progress)}")
    if task.exit_code is not None and task.state is JobState.FAILED and not task.error:
        label.append(f"  exit {task.exit_code}", style="red")
    if task.error:
        label.append(f"  {printable(task.error)}", style="red")
    return label


def _add_nodes(tree: Tree, nodes: list[TaskNode], now: datetime) -> None:
    for node in nodes:
        label = _task_label(node.task, now)
        if node.after:
            label.append(f"  (also after {printable(', '.join(node.after))})", style="dim")
        _add_nodes(tree.add(label), node.children, now)


def _fields(job: Job, now: datetime, tz: tzinfo | None) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def when(value: datetime | None) -> str:
        if value is None:
            return ""
        return f"{format_time(value, tz)} ({format_age(value, now)} ago)"

    state = state_text(job.state)
    if job.status and job.status.lower() != job.state.value:
        state.append(f" ({printable(job.status)})", style="dim")
    rows: list[tuple[str, RenderableType]] = [
        ("ref", plain(job.ref)),
        ("workflow", plain(workflow_shown(job, with_id=True)) if job.workflow else ""),
        ("state", state),
        ("progress", format_progress(job.progress)),
        ("created", when(job.created_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("duration", format_seconds(elapsed(job, now))),
        ("user", plain(job.user) if job.user else ""),
        ("error", plain(job.error, "red") if job.error else ""),
        ("restarts", str(job.restarts) if job.restarts else ""),
        ("cost", f"{job.cost:g}" if job.cost is not None else ""),
        ("labels", plain(", ".join(f"{k}={v}" for k, v in job.labels.items()))),
        ("children", plain(", ".join(job.children))),
    ]
    for name, value in rows:
        if value:
            grid.add_row(name, value)
    return grid


def job_detail(
    job: Job, *, now: datetime | None = None, tz: tzinfo | None = None
) -> RenderableType:
    """A job's fields (times in `tz`, else local, zone named), then its tasks as a tree in
    dependency order."""
    now = _now(now)
    parts: list[RenderableType] = [_fields(job, now, tz)]
    if job.tasks:
        tree = Tree(Text(f"tasks ({len(job.tasks)})", style="bold"), guide_style="dim")
        _add_nodes(tree, task_forest(job.tasks), now)
        parts.append(tree)
    return Group(*parts)


# -- events -------------------------------------------------------------------------------------


def _value(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    if kind == "progress" and isinstance(value, int | float):
        return format_progress(float(value))
    return printable(value.value if isinstance(value, JobState) else value)


def _styled(kind: str, value: Any) -> Text:
    text = _value(kind, value)
    try:
        return state_text(JobState(text)) if kind in {"state", "task"} else Text(text)
    except ValueError:
        return Text(text)


def worth_a_line(event: JobEvent) -> bool:
    """Whether a person sees a change in this event: a progress step too small to change the
    percentage shown (`55% → 55%`) is not one."""
    if event.kind != "progress":
        return True
    return _value("progress", event.old) != _value("progress", event.new)


def event_line(event: JobEvent, *, tz: tzinfo | None = None) -> Text:
    """One line for a change, its time in `tz` (else local) with the zone named:
    `12:03:04 UTC sieve:abc  running → succeeded  after 4.0s  <the error, if any>`."""
    line = Text.assemble(
        (f"{format_clock(event.at, tz)} ", "dim"), (printable(event.ref), "bold"), "  "
    )
    if event.kind == "state":
        if event.old is None:  # first sight: just the state
            line.append_text(_styled("state", event.new))
        else:
            line.append_text(_styled("state", event.old))
            line.append(" → ")
            line.append_text(_styled("state", event.new))
        if event.job.state.terminal:
            duration = format_seconds(elapsed(event.job, event.at))
            if duration:
                line.append(f"  after {duration}", style="dim")
            if event.job.error:
                line.append(f"  {printable(event.job.error)}", style="red")
    elif event.kind == "task":
        line.append(f"task {printable(event.task)}: ")
        if event.old is not None:
            line.append_text(_styled("task", event.old))
            line.append(" → ")
        line.append_text(_styled("task", event.new))
    elif event.kind == "progress":
        line.append(f"progress {_value('progress', event.old)} → {_value('progress', event.new)}")
    else:
        line.append("new output")
    return line


# -- summaries --------------------------------------------------------------------------------


def _counts(jobs: Iterable[Job]) -> dict[JobState, int]:
    counts = dict.fromkeys(JobState, 0)
    for job in jobs:
        counts[job.state] += 1
    return {state: n for state, n in counts.items() if n}


def summary_line(jobs: Sequence[Job]) -> Text:
    """`3 jobs: 2 succeeded, 1 failed`."""
    line = Text(f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}")
    for index, (state, n) in enumerate(_counts(jobs).items()):
        line.append(": " if index == 0 else ", ")
        line.append(f"{n} {state.value}", STATE_STYLES[state])
    return line


def summary_table(jobs: Sequence[Job], *, title: str | None = None) -> Table:
    """Jobs counted by backend (rows) and state (columns), with totals."""
    states = list(_counts(jobs))
    backends = list(dict.fromkeys(job.backend for job in jobs))
    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    table.add_column("backend")
    for state in states:
        table.add_column(state_text(state), justify="right")
    table.add_column("total", justify="right")
    for backend in [*backends, None]:
        mine = [job for job in jobs if backend is None or job.backend == backend]
        counts = _counts(mine)
        cells = [str(counts.get(state, "")) for state in states]
        name = Text("all", style="bold") if backend is None else plain(backend)
        table.add_row(
            name, *cells, str(len(mine)), end_section=bool(backends) and backend == backends[-1]
        )
    return table


# -- a board of jobs that updates ---------------------------------------------------------------


class JobBoard:
    """The latest `Job` seen for each ref, in the order refs were first given or seen. Safe to
    read from a refreshing thread (rich Live) while events are applied."""

    def __init__(self, refs: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._order: list[str] = list(dict.fromkeys(refs))
        self._jobs: dict[str, Job] = {}

    def update(self, job: Job) -> None:
        with self._lock:
            if job.ref not in self._jobs and job.ref not in self._order:
                self._order.append(job.ref)
            self._jobs[job.ref] = job

    def apply(self, event: JobEvent) -> None:
        self.update(event.job)

    def jobs(self) -> list[Job]:
        with self._lock:
            return [self._jobs[ref] for ref in self._order if ref in self._jobs]

    def get(self, ref: str) -> Job | None:
        with self._lock:
            return self._jobs.get(ref)

    def table(
        self,
        *,
        now: datetime | None = None,
        age: bool = True,
        fit: int | None = None,
        tz: tzinfo | None = None,
    ) -> Table:
        return jobs_table(self.jobs(), now=now, age=age, fit=fit, tz=tz)


def workflow_shown(job: Job, *, with_id: bool = False) -> str:
    """A job's workflow as a person reads it: its name where the backend gave one (a Pixxel
    workflow listed through the workflow list, `labels["workflow_name"]`), else its id;
    `with_id` adds the id after a name."""
    name = job.labels.get("workflow_name")
    if not name or name == job.workflow:
        return job.workflow or ""
    return f"{name} ({job.workflow})" if with_id else name
