"""Jobs as tables: one row per job (fitted to a live board's width), counts by backend and
state, and a board that keeps the latest view of a set of jobs for a live table."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from jobhub.model import Job, JobEvent, JobState
from jobhub.render.text import (
    SHORT_WORKFLOW,
    STATE_STYLES,
    elapsed,
    format_age,
    format_progress,
    format_seconds,
    format_time,
    now_or_utc,
    plain,
    shorten,
    state_text,
    workflow_shown,
)
from jobhub.terminal import printable


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
    now = now_or_utc(now)
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
