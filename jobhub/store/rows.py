"""What the SQL stores (SQLite, PostgreSQL) write and read, in the shape both share: a job's
snapshot row, its event rows, an event read back, and the query for a page of jobs. The SQL of
each dialect differs only where `Dialect` says."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from jobhub.model import Job, JobEvent
from jobhub.store.query import (
    MISSING,
    JobPage,
    JobQuery,
    JobRecord,
    StoredEvent,
    encode_cursor,
    sort_value,
)

__all__ = [
    "EVENT_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "SORT_COLUMNS",
    "Dialect",
    "EventRow",
    "SnapshotRow",
    "event_rows",
    "job_page",
    "jobs_sql",
    "snapshot_row",
    "stored_event",
]

SORT_COLUMNS = {
    "created": "created_sort",
    "finished": "finished_sort",
    "duration": "duration_sort",
}
# The jobs columns `snapshot_row` fills, in its order (`user` quoted: a keyword in PostgreSQL).
SNAPSHOT_COLUMNS = (
    'ref, backend, state, workflow, "user", error, created_sort, finished_sort, duration_sort, '
    'ended_at, document, "full"'
)
# What `stored_event` reads: an event joined with its job's snapshot.
EVENT_COLUMNS = (
    "e.seq, e.ref, e.kind, e.old, e.new, e.task, e.at, "
    'j.backend, j.state, j.workflow, j."user", j.error, j.document'
)
_TASKLESS_RAW: Any = {"raw": True, "tasks": {"__all__": {"raw"}}}

SnapshotRow = tuple[Any, ...]
EventRow = tuple[str, str, str | None, str, str, float]  # ref, kind, task, old, new, at


def snapshot_row(job: Job) -> SnapshotRow:
    """The job's row, in `SNAPSHOT_COLUMNS` order: times as epoch seconds, the document
    without any `raw`, the full job beside it."""
    ended = None
    if job.state.terminal:
        ended = job.finished_at.timestamp() if job.finished_at else time.time()  # seen ended
    return (
        job.ref,
        job.backend,
        job.state.value,
        job.workflow,
        job.user,
        job.error,
        sort_value(job, "created"),
        sort_value(job, "finished"),
        sort_value(job, "duration"),
        ended,
        job.model_dump_json(exclude=_TASKLESS_RAW),
        job.model_dump_json(),
    )


def event_rows(events: Sequence[JobEvent]) -> list[EventRow]:
    return [
        (e.ref, e.kind, e.task, to_json(e.old).decode(), to_json(e.new).decode(), e.at.timestamp())
        for e in events
    ]


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """An `EVENT_COLUMNS` row as a `StoredEvent`."""
    seq, ref, kind, old, new, task, at, backend, state, workflow, user, error, document = row
    return StoredEvent(
        seq=int(seq),
        ref=ref,
        kind=kind,
        old=json.loads(old),
        new=json.loads(new),
        task=task,
        at=datetime.fromtimestamp(at, UTC),
        backend=backend,
        state=state,
        workflow=workflow,
        user=user,
        error=error,
        job=document,
    )


@dataclass(frozen=True)
class Dialect:
    """Where the two SQL dialects differ in the jobs query."""

    mark: str  # a parameter placeholder: "?" or "%s"
    contains: str  # SQL true when {0} (lowered text) holds the {1} placeholder


SQLITE = Dialect(mark="?", contains="instr({0}, {1}) > 0")
POSTGRES = Dialect(mark="%s", contains="strpos({0}, {1}) > 0")


def jobs_sql(query: JobQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """The SELECT (ref, state, document, sort value) for one page of `query`, one row more
    than the page to know whether another follows, and its parameters."""
    mark = dialect.mark
    column = SORT_COLUMNS[query.sort_key]
    where: list[str] = []
    args: list[Any] = []
    for name, values in (("backend", query.backends), ("state", query.states)):
        if values:
            where.append(f"{name} IN ({','.join([mark] * len(values))})")
            args.extend(values)
    for name, value in (("workflow", query.workflow), ('"user"', query.user)):
        if value is not None:
            where.append(f"{name} = {mark}")
            args.append(value)
    if query.q:
        texts = ("lower(ref)", "lower(coalesce(workflow, ''))", "lower(coalesce(error, ''))")
        where.append("(" + " OR ".join(dialect.contains.format(t, mark) for t in texts) + ")")
        args.extend([query.q.lower()] * 3)
    if query.since is not None:
        where.append(f"created_sort >= {mark}")
        args.append(query.since.timestamp())
    if query.until is not None:
        where.append(f"created_sort < {mark} AND created_sort != {mark}")
        args.extend([query.until.timestamp(), MISSING])
    after = query.after()
    direction, compare = ("DESC", "<") if query.descending else ("ASC", ">")
    if after is not None:
        where.append(f"({column}, ref) {compare} ({mark}, {mark})")
        args.extend(after)
    body = '"full"' if query.raw else "document"
    sql = (
        f"SELECT ref, state, {body}, {column} FROM jobs"
        f"{' WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY {column} {direction}, ref {direction} LIMIT {mark}"
    )
    args.append(query.limit + 1)
    return sql, args


def job_page(query: JobQuery, rows: Sequence[Sequence[Any]]) -> JobPage:
    """The page from `jobs_sql`'s rows: at most `limit` records, a cursor when more follow."""
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    records = [JobRecord(ref, state, document) for ref, state, document, _ in rows]
    cursor = None
    if more:
        ref, _, _, value = rows[-1]
        cursor = encode_cursor(query.sort, value, ref)
    return JobPage(records, cursor)
