"""One job in full: its fields, then its tasks as a tree in dependency order (each task under
the dependency that comes last, its other dependencies named beside it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from jobhub.model import Job, JobState, Task
from jobhub.render.text import (
    STATE_MARKS,
    STATE_STYLES,
    elapsed,
    format_age,
    format_progress,
    format_seconds,
    format_time,
    now_or_utc,
    plain,
    state_text,
    workflow_shown,
)
from jobhub.terminal import printable


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
    now = now_or_utc(now)
    parts: list[RenderableType] = [_fields(job, now, tz)]
    if job.tasks:
        tree = Tree(Text(f"tasks ({len(job.tasks)})", style="bold"), guide_style="dim")
        _add_nodes(tree, task_forest(job.tasks), now)
        parts.append(tree)
    return Group(*parts)
