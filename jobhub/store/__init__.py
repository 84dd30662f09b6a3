"""The store behind `jobhub serve`: each job's latest snapshot and an append-only event log.

    store = open_store("sqlite:///var/lib/jobhub/serve.db")   # or open_store(None): the default
    await store.open()                                         # creates or migrates the schema
    last_seq = await store.record([(job, events)])             # one transaction
    page = await store.jobs(JobQuery(states=("failed",), limit=100))
    later = await store.events(after=last_seq - 10, limit=500)
    await store.close()

The event log's sequence number (`StoredEvent.seq`) is the position every stream resumes from:
it only grows, is never reused (pruning deletes old rows, never renumbers), and is the `id:` of
each Server-Sent Event. Every method is a coroutine so that an implementation over an async
driver (PostgreSQL) and one over threads (SQLite) share one face; SQL dialect, connection
handling and migrations stay inside each implementation (`jobhub.store.sqlite`). Dialect-neutral
pieces (queries, cursors, filters, retention) live in `jobhub.store.query`.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jobhub.errors import ConfigError, JobHubError
from jobhub.model import Job, JobEvent
from jobhub.store.query import (
    SORTS,
    Counts,
    EventFilter,
    JobPage,
    JobQuery,
    JobRecord,
    Retention,
    StoredEvent,
    decode_cursor,
    encode_cursor,
)

__all__ = [
    "SORTS",
    "Change",
    "Counts",
    "EventFilter",
    "JobPage",
    "JobQuery",
    "JobRecord",
    "PruneResult",
    "Retention",
    "Store",
    "StoreError",
    "StoredEvent",
    "decode_cursor",
    "default_url",
    "encode_cursor",
    "open_store",
]

# One job's new snapshot and the events that led to it, recorded together.
Change = tuple[Job, Sequence[JobEvent]]


class StoreError(JobHubError):
    """The store cannot be opened or used: a file that is not a jobhub store, one written by a
    newer jobhub, a disk that refuses writes. The message names the store (never a password)."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one `Store.prune` removed."""

    jobs: int
    events: int


class Store(abc.ABC):
    """Job snapshots and the event log. One instance per process, shared by every request.

    Implementations: `jobhub.store.sqlite.SQLiteStore` and `jobhub.store.postgres.PostgresStore`,
    with the same meaning; `tests/test_store_*.py` state that meaning.
    """

    url: str  # where it is, safe to show (no password)

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, create the schema or migrate it to the current version."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish every write in progress and disconnect."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The schema version the store is at (the number of migrations applied)."""

    # -- writing --------------------------------------------------------------------------------

    @abc.abstractmethod
    async def record(self, changes: Sequence[Change], *, holder: str | None = None) -> int:
        """Store each job's snapshot (replacing the previous one) and append its events, all in
        one transaction: after a crash either every change is there or none is. Events get
        sequence numbers in the order given. Returns the last sequence number (the previous
        last one when `changes` holds no event).

        `holder`: the serve node writing, on a store several nodes share. Only the changes of
        backends whose lease that node holds when the transaction commits are recorded (the
        lease is a fence: a node that stalled past its lease and wakes up cannot write over
        the backend's new holder); the others are left out and logged. A store one node owns
        alone (SQLite) has no leases and records everything."""

    @abc.abstractmethod
    async def prune(self, retention: Retention, *, now: datetime) -> PruneResult:
        """Delete ended jobs older than `retention` allows, and their events."""

    # -- reading --------------------------------------------------------------------------------

    @abc.abstractmethod
    async def job(self, ref: str, *, raw: bool = True) -> JobRecord | None:
        """One job's snapshot, or None."""

    @abc.abstractmethod
    async def snapshots(self, refs: Sequence[str]) -> dict[str, Job]:
        """The recorded `Job` (without `raw`) of each ref that has one."""

    @abc.abstractmethod
    async def jobs(self, query: JobQuery) -> JobPage:
        """A page of jobs matching `query`, in its order, with the cursor of the next page."""

    @abc.abstractmethod
    async def job_events(self, ref: str, *, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """One job's events past `after`, oldest first."""

    @abc.abstractmethod
    async def events(self, *, after: int, limit: int) -> list[StoredEvent]:
        """Every job's events past sequence number `after`, in order, at most `limit`."""

    @abc.abstractmethod
    async def last_seq(self) -> int:
        """The sequence number of the newest event (0 for an empty log)."""

    @abc.abstractmethod
    async def counts(self) -> Counts:
        """Jobs by (backend, state)."""

    @abc.abstractmethod
    async def wait_for_events(self, after: int, timeout: float) -> int:
        """Return as soon as an event past `after` is committed (by this process or another
        sharing the store), or after `timeout` seconds; returns the last sequence number."""


def default_url() -> str:
    """`sqlite:///` a file in the user's data directory ($XDG_DATA_HOME/jobhub/serve.db)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'jobhub' / 'serve.db'}"


def open_store(url: str | None = None) -> Store:
    """The store at `url`, not yet opened: `sqlite:///relative/path` or `sqlite:////abs/path`
    (SQLAlchemy's spelling); `:memory:` is refused (a server's history must outlive it);
    `postgresql://user@host:port/database` (libpq's URL, with jobhub[postgres]).
    Unknown schemes are a `ConfigError`."""
    url = url or default_url()
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "sqlite":
        from jobhub.store.sqlite import SQLiteStore

        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            raise ConfigError(
                f"--db {url}: give a file, e.g. sqlite:////var/lib/jobhub/serve.db "
                "(four slashes for an absolute path)"
            )
        return SQLiteStore(Path(path))
    if sep and scheme in ("postgresql", "postgres"):
        try:
            from jobhub.store.postgres import PostgresStore
        except ImportError:
            raise ConfigError(
                "--db postgresql://…: PostgreSQL needs its extra: pip install 'jobhub[postgres]'"
            ) from None
        return PostgresStore(url)
    shown = f"{scheme}://…" if sep else url
    raise ConfigError(
        f"--db {shown}: not a store jobhub knows — use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DATABASE"
    )
