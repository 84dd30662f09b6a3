"""The SQLite store: one file in WAL mode, one writer thread, a few reader threads.

WAL lets readers (API requests, streams) run while the writer commits. `synchronous=NORMAL`:
a killed process (kill -9) loses nothing committed; a power cut may lose the last commits.
The schema is versioned by `PRAGMA user_version` (= migrations applied) and marked as
jobhub's by `PRAGMA application_id`, so a stranger's database is refused, not altered.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from jobhub.model import Job
from jobhub.store import Change, PruneResult, Store, StoreError
from jobhub.store.query import Counts, JobPage, JobQuery, JobRecord, Retention, StoredEvent
from jobhub.store.rows import (
    EVENT_COLUMNS,
    SNAPSHOT_COLUMNS,
    SQLITE,
    EventRow,
    SnapshotRow,
    event_rows,
    job_page,
    jobs_sql,
    snapshot_row,
    stored_event,
)

__all__ = ["MIGRATIONS", "SQLiteStore"]

T = TypeVar("T")

APPLICATION_ID = 0x6A6F6268  # "jobh"
READERS = 4
OTHER_WRITERS_POLL = 1.0  # seconds between looks for events committed by another process

# Migration N (1-based) takes the schema from version N-1 to N. Never edit one that shipped:
# add the next.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        ref TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        state TEXT NOT NULL,
        workflow TEXT,
        user TEXT,
        error TEXT,
        created_sort REAL NOT NULL,
        finished_sort REAL NOT NULL,
        duration_sort REAL NOT NULL,
        ended_at REAL,
        updated_seq INTEGER NOT NULL,
        document TEXT NOT NULL,
        full TEXT NOT NULL
    );
    CREATE INDEX jobs_created ON jobs (created_sort, ref);
    CREATE INDEX jobs_finished ON jobs (finished_sort, ref);
    CREATE INDEX jobs_duration ON jobs (duration_sort, ref);
    CREATE INDEX jobs_state_created ON jobs (state, created_sort, ref);
    CREATE INDEX jobs_backend_created ON jobs (backend, created_sort, ref);
    CREATE INDEX jobs_backend_state ON jobs (backend, state);
    CREATE INDEX jobs_ended ON jobs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ref TEXT NOT NULL,
        kind TEXT NOT NULL,
        task TEXT,
        old TEXT NOT NULL,
        new TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX events_ref ON events (ref, seq);
    """,
)


class SQLiteStore(Store):
    """`Store` over one SQLite file (created with its directory when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="jobhub-store-writer")
        self._readers = ThreadPoolExecutor(READERS, thread_name_prefix="jobhub-store-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._last_seq = 0
        self._committed: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- connections ----------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path, isolation_level=None, timeout=30, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise self._error("cannot open", exc) from None
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _error(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"store {self.path}: {what} ({exc}) — check the path and the disk")

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._run, work)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._run, work)

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connection())
        except sqlite3.Error as exc:
            raise self._error("a query failed", exc) from None

    # -- life -----------------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("cannot create its directory", exc) from None
        self._committed = asyncio.Event()
        self._last_seq = await self._write(self._migrate)

    def _migrate(self, db: sqlite3.Connection) -> int:
        db.execute("BEGIN IMMEDIATE")
        try:
            (app,) = db.execute("PRAGMA application_id").fetchone()
            (version,) = db.execute("PRAGMA user_version").fetchone()
            (tables,) = db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if app != APPLICATION_ID and (tables or version):
                raise StoreError(f"store {self.path}: not a jobhub store — give another --db")
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"store {self.path}: schema version {version} was written by a newer "
                    f"jobhub (this one knows {len(MIGRATIONS)}) — upgrade jobhub"
                )
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return self._max_seq(db)

    async def close(self) -> None:
        # The writer finishes what it was given first: nothing committed-to is dropped.
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    async def schema_version(self) -> int:
        def version(db: sqlite3.Connection) -> int:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

        return await self._read(version)

    # -- writing --------------------------------------------------------------------------------

    async def record(self, changes: Sequence[Change], *, holder: str | None = None) -> int:
        # One node owns a SQLite store: there are no leases to fence its writes with.
        rows = [(snapshot_row(job), event_rows(events)) for job, events in changes]
        seq = await self._write(lambda db: self._record(db, rows))
        if seq > self._last_seq:
            self._last_seq = seq
            self._wake()
        return seq

    def _wake(self) -> None:
        if self._committed is not None:
            self._committed.set()
            self._committed = asyncio.Event()

    @staticmethod
    def _record(db: sqlite3.Connection, rows: list[tuple[SnapshotRow, list[EventRow]]]) -> int:
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = SQLiteStore._max_seq(db)
            for snapshot, logged in rows:
                if logged:
                    db.executemany(
                        "INSERT INTO events (ref, kind, task, old, new, at) VALUES (?,?,?,?,?,?)",
                        logged,
                    )
                    seq = db.execute("SELECT last_insert_rowid()").fetchone()[0]
                db.execute(
                    f"""INSERT INTO jobs ({SNAPSHOT_COLUMNS}, updated_seq)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
                    ON CONFLICT (ref) DO UPDATE SET backend=excluded.backend,
                        state=excluded.state, workflow=excluded.workflow, user=excluded.user,
                        error=excluded.error, created_sort=excluded.created_sort,
                        finished_sort=excluded.finished_sort,
                        duration_sort=excluded.duration_sort,
                        ended_at=coalesce(jobs.ended_at, excluded.ended_at),
                        document=excluded.document, full=excluded.full,
                        updated_seq=excluded.updated_seq""",
                    (*snapshot, seq),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(seq)

    async def prune(self, retention: Retention, *, now: datetime) -> PruneResult:
        ended_before, failed_before = retention.cutoffs(now)

        def prune(db: sqlite3.Connection) -> PruneResult:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS pruned (ref TEXT PRIMARY KEY)")
                db.execute("DELETE FROM pruned")
                db.execute(
                    """INSERT INTO pruned SELECT ref FROM jobs WHERE ended_at IS NOT NULL
                    AND ended_at < CASE WHEN state = 'failed' THEN ? ELSE ? END""",
                    (failed_before, ended_before),
                )
                events = db.execute(
                    "DELETE FROM events WHERE ref IN (SELECT ref FROM pruned)"
                ).rowcount
                jobs = db.execute("DELETE FROM jobs WHERE ref IN (SELECT ref FROM pruned)").rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return PruneResult(jobs=jobs, events=events)

        return await self._write(prune)

    # -- reading --------------------------------------------------------------------------------

    async def job(self, ref: str, *, raw: bool = True) -> JobRecord | None:
        column = "full" if raw else "document"

        def one(db: sqlite3.Connection) -> JobRecord | None:
            row = db.execute(f"SELECT ref, state, {column} FROM jobs WHERE ref = ?", (ref,))
            found = row.fetchone()
            return None if found is None else JobRecord(*found)

        return await self._read(one)

    async def snapshots(self, refs: Sequence[str]) -> dict[str, Job]:
        def many(db: sqlite3.Connection) -> dict[str, Job]:
            found: dict[str, Job] = {}
            for start in range(0, len(refs), 500):
                chunk = list(refs[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for ref, document in db.execute(
                    f"SELECT ref, document FROM jobs WHERE ref IN ({marks})", chunk
                ):
                    found[ref] = Job.model_validate_json(document)
            return found

        return await self._read(many) if refs else {}

    async def jobs(self, query: JobQuery) -> JobPage:
        sql, args = jobs_sql(query, SQLITE)
        rows = await self._read(lambda db: db.execute(sql, args).fetchall())
        return job_page(query, rows)

    async def job_events(self, ref: str, *, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events e JOIN jobs j ON j.ref = e.ref"
            " WHERE e.ref = ? AND e.seq > ? ORDER BY e.seq LIMIT ?"
        )
        rows = await self._read(lambda db: db.execute(sql, (ref, after, limit)).fetchall())
        return [stored_event(row) for row in rows]

    async def events(self, *, after: int, limit: int) -> list[StoredEvent]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events e JOIN jobs j ON j.ref = e.ref"
            " WHERE e.seq > ? ORDER BY e.seq LIMIT ?"
        )
        rows = await self._read(lambda db: db.execute(sql, (after, limit)).fetchall())
        return [stored_event(row) for row in rows]

    @staticmethod
    def _max_seq(db: sqlite3.Connection) -> int:
        # sqlite_sequence remembers the highest seq ever given, even once pruned.
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    async def last_seq(self) -> int:
        return await self._read(self._max_seq)

    async def counts(self) -> Counts:
        sql = "SELECT backend, state, count(*) FROM jobs GROUP BY backend, state"
        rows = await self._read(lambda db: db.execute(sql).fetchall())
        return {(backend, state): count for backend, state, count in rows}

    async def wait_for_events(self, after: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._last_seq <= after:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._committed is None:
                break
            try:
                await asyncio.wait_for(self._committed.wait(), min(remaining, OTHER_WRITERS_POLL))
            except TimeoutError:
                self._last_seq = max(self._last_seq, await self.last_seq())
        return self._last_seq
