"""The PostgreSQL store: the same tables as SQLite, shared by every `jobhub serve` node.

Connections come from a psycopg pool. Events are numbered by a database sequence (the `seq`
identity column); writers take the one row of `event_log` FOR UPDATE before they number
anything, so sequence numbers become visible in the order they were given and a stream reading
`seq > N` never skips one committed late (two nodes writing at once are serialized here, one
short transaction each). `event_log.last_seq` is also the highest number ever given, so
pruning never lets one come back.

Every commit that adds events sends `NOTIFY jobhub_events, '<last seq>'`; each store keeps one
connection LISTENing and wakes its `wait_for_events` callers, so every node's streams deliver
every node's events within a round trip. The events themselves are always read from the table
(a notification only says "past N"), and a slow look at `last_seq` every few seconds covers a
notification lost with a dropped listening connection.

The schema version is kept in `jobhub_schema`; a database holding a `jobs` table without it is
someone else's and is refused, not altered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from jobhub.model import Job
from jobhub.store import Change, PruneResult, Store, StoreError
from jobhub.store.query import Counts, JobPage, JobQuery, JobRecord, Retention, StoredEvent
from jobhub.store.rows import (
    EVENT_COLUMNS,
    POSTGRES,
    SNAPSHOT_COLUMNS,
    event_rows,
    job_page,
    jobs_sql,
    snapshot_row,
    stored_event,
)

__all__ = ["CHANNEL", "MIGRATIONS", "PostgresStore", "safe_url"]

log = logging.getLogger("jobhub.store")

CHANNEL = "jobhub_events"
POOL_SIZE = 10
CONNECT_TIMEOUT = 10  # seconds to get a connection before a query fails
LISTENER_POLL = 5.0  # seconds between looks at last_seq in case a notification was lost
LISTENER_WAKE = 0.5  # seconds the listener waits for a notification before looking round
# A node lost mid-transaction must not hold the event_log row (and every writer) for long.
SESSION_OPTIONS = "-c idle_in_transaction_session_timeout=30000 -c statement_timeout=60000"
_MIGRATION_LOCK = 0x6A6F62687563  # an advisory lock: one node migrates, the others wait

# Migration N (1-based) brings the schema to version N, the same change as SQLite's migration N.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        ref text COLLATE "C" PRIMARY KEY,
        backend text NOT NULL,
        state text NOT NULL,
        workflow text,
        "user" text,
        error text,
        created_sort double precision NOT NULL,
        finished_sort double precision NOT NULL,
        duration_sort double precision NOT NULL,
        ended_at double precision,
        updated_seq bigint NOT NULL,
        document text NOT NULL,
        "full" text NOT NULL
    );
    CREATE INDEX jobs_created ON jobs (created_sort, ref);
    CREATE INDEX jobs_finished ON jobs (finished_sort, ref);
    CREATE INDEX jobs_duration ON jobs (duration_sort, ref);
    CREATE INDEX jobs_state_created ON jobs (state, created_sort, ref);
    CREATE INDEX jobs_backend_created ON jobs (backend, created_sort, ref);
    CREATE INDEX jobs_backend_state ON jobs (backend, state);
    CREATE INDEX jobs_ended ON jobs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE TABLE events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ref text COLLATE "C" NOT NULL,
        kind text NOT NULL,
        task text,
        old text NOT NULL,
        new text NOT NULL,
        at double precision NOT NULL
    );
    CREATE INDEX events_ref ON events (ref, seq);
    CREATE TABLE event_log (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                            last_seq bigint NOT NULL);
    INSERT INTO event_log (last_seq) VALUES (0);
    """,
)

_UPSERT_JOB = f"""
INSERT INTO jobs ({SNAPSHOT_COLUMNS}, updated_seq)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (ref) DO UPDATE SET backend = excluded.backend, state = excluded.state,
    workflow = excluded.workflow, "user" = excluded."user", error = excluded.error,
    created_sort = excluded.created_sort, finished_sort = excluded.finished_sort,
    duration_sort = excluded.duration_sort,
    ended_at = coalesce(jobs.ended_at, excluded.ended_at),
    document = excluded.document, "full" = excluded."full", updated_seq = excluded.updated_seq
"""
_INSERT_EVENTS = """
INSERT INTO events (ref, kind, task, old, new, at)
SELECT ref, kind, task, old, new, at
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::double precision[])
    WITH ORDINALITY AS e(ref, kind, task, old, new, at, n)
ORDER BY n
RETURNING seq
"""


def safe_url(url: str) -> str:
    """`url` as it may be shown: user, host, port and database, never a password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    user = f"{params['user']}@" if params.get("user") else ""
    host = str(params.get("host") or "")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}"


# The backends of a batch whose lease `holder` holds right now (jobhub.serve.leases). FOR SHARE
# holds those lease rows until the commit: a takeover's UPDATE waits for it, so no write of an
# old holder can land after the new holder's first one.
_HELD = """
SELECT backend FROM jobhub_leases
WHERE backend = ANY(%(backends)s) AND holder = %(holder)s AND expires_at > clock_timestamp()
FOR SHARE
"""


async def _fenced(
    connection: psycopg.AsyncConnection[Any], changes: Sequence[Change], holder: str
) -> list[Change]:
    """The changes of backends `holder` holds the lease of; the rest are logged and left out."""
    backends = sorted({job.backend for job, _ in changes})
    cursor = await connection.execute(_HELD, {"backends": backends, "holder": holder})
    held = {found[0] for found in await cursor.fetchall()}
    lost = [backend for backend in backends if backend not in held]
    if lost:
        left = sum(1 for job, _ in changes if job.backend not in held)
        log.warning(
            "%s no longer holds the lease of %s: %d changes left to the new holder",
            holder,
            ", ".join(lost),
            left,
        )
    return [change for change in changes if change[0].backend in held]


class PostgresStore(Store):
    """`Store` over a PostgreSQL database (`postgresql://user@host:port/dbname`)."""

    def __init__(
        self, url: str, *, pool_size: int = POOL_SIZE, connect_timeout: float = CONNECT_TIMEOUT
    ) -> None:
        self.url = safe_url(url)
        self._connect_timeout = connect_timeout
        self._conninfo = url
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[Any] | None = None
        self._last_seq = 0
        self._committed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        """The connection pool (shared with the leases of a serve node)."""
        if self._pool is None:
            raise StoreError(f"store {self.url}: not opened")
        return self._pool

    def _error(self, what: str, exc: BaseException) -> StoreError:
        # psycopg's messages name host, port, user and database, never the password.
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(f"store {self.url}: {what} ({detail}) — check --db and the server")

    @contextlib.asynccontextmanager
    async def _connection(self, what: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self.pool.connection() as connection:
                yield connection
        except psycopg.Error as exc:
            raise self._error(what, exc) from None

    # -- life -----------------------------------------------------------------------------------

    async def open(self) -> None:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            make_conninfo(self._conninfo, options=SESSION_OPTIONS),
            min_size=1,
            max_size=self._pool_size,
            timeout=self._connect_timeout,
            open=False,
            name="jobhub-store",
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout)
        except psycopg.Error as exc:  # PoolTimeout among them: no server, or it refused us
            await pool.close()
            raise self._error("cannot connect", exc) from None
        self._pool = pool
        try:
            async with self._connection("cannot migrate") as connection:
                self._last_seq = await self._migrate(connection)
        except BaseException:
            await self.close()
            raise
        self._stopping = asyncio.Event()
        self._listener = asyncio.ensure_future(self._listen())

    async def _migrate(self, connection: psycopg.AsyncConnection[Any]) -> int:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            version = await self._version(connection)
            if version is None:
                cursor = await connection.execute("SELECT to_regclass('jobs') IS NOT NULL")
                row = await cursor.fetchone()
                if row and row[0]:
                    raise StoreError(
                        f"store {self.url}: not a jobhub store (a jobs table without "
                        "jobhub_schema) — give another --db"
                    )
                await connection.execute("CREATE TABLE jobhub_schema (version integer NOT NULL)")
                await connection.execute("INSERT INTO jobhub_schema VALUES (0)")
                version = 0
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"store {self.url}: schema version {version} was written by a newer "
                    f"jobhub (this one knows {len(MIGRATIONS)}) — upgrade jobhub"
                )
            for script in MIGRATIONS[version:]:
                await connection.execute(script)
            await connection.execute("UPDATE jobhub_schema SET version = %s", (len(MIGRATIONS),))
            cursor = await connection.execute("SELECT last_seq FROM event_log")
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    async def _version(connection: psycopg.AsyncConnection[Any]) -> int | None:
        cursor = await connection.execute("SELECT to_regclass('jobhub_schema') IS NOT NULL")
        row = await cursor.fetchone()
        if not row or not row[0]:
            return None
        cursor = await connection.execute("SELECT version FROM jobhub_schema")
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        if self._listener is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._listener), 2 * LISTENER_WAKE + 1)
            except (TimeoutError, psycopg.Error, StoreError):
                self._listener.cancel()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def schema_version(self) -> int:
        async with self._connection("cannot read the schema version") as connection:
            return await self._version(connection) or 0

    # -- writing --------------------------------------------------------------------------------

    async def record(self, changes: Sequence[Change], *, holder: str | None = None) -> int:
        async with self._connection("cannot record") as connection, connection.transaction():
            # The lock that orders commits like sequence numbers (see the module's doc).
            cursor = await connection.execute("SELECT last_seq FROM event_log FOR UPDATE")
            row = await cursor.fetchone()
            seq = int(row[0]) if row else 0
            if holder is not None:
                changes = await _fenced(connection, changes, holder)
            snapshots = [snapshot_row(job) for job, _ in changes]
            logged = [row for _, events in changes for row in event_rows(events)]
            if logged:
                columns = [list(column) for column in zip(*logged, strict=True)]
                cursor = await connection.execute(_INSERT_EVENTS, columns)
                seq = max(int(found[0]) for found in await cursor.fetchall())
                await connection.execute("UPDATE event_log SET last_seq = %s", (seq,))
                await connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(seq)))
            if snapshots:
                async with connection.cursor() as many:
                    # A snapshot is current as of the last event of its transaction.
                    await many.executemany(_UPSERT_JOB, [(*row, seq) for row in snapshots])
        self._saw(seq)
        return seq

    def _saw(self, seq: int) -> None:
        if seq > self._last_seq:
            self._last_seq = seq
            self._committed.set()
            self._committed = asyncio.Event()

    async def prune(self, retention: Retention, *, now: datetime) -> PruneResult:
        ended_before, failed_before = retention.cutoffs(now)
        sql = """
        WITH pruned AS (
            SELECT ref FROM jobs WHERE ended_at IS NOT NULL
            AND ended_at < CASE WHEN state = 'failed' THEN %s ELSE %s END
        ), gone_events AS (
            DELETE FROM events WHERE ref IN (SELECT ref FROM pruned) RETURNING 1
        ), gone_jobs AS (
            DELETE FROM jobs WHERE ref IN (SELECT ref FROM pruned) RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone_jobs), (SELECT count(*) FROM gone_events)
        """
        async with self._connection("cannot prune") as connection, connection.transaction():
            cursor = await connection.execute(sql, (failed_before, ended_before))
            row = await cursor.fetchone()
        jobs, events = row if row else (0, 0)
        return PruneResult(jobs=int(jobs), events=int(events))

    # -- reading --------------------------------------------------------------------------------

    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._connection("a query failed") as connection:
            cursor = await connection.execute(sql, args)
            return await cursor.fetchall()

    async def job(self, ref: str, *, raw: bool = True) -> JobRecord | None:
        column = '"full"' if raw else "document"
        rows = await self._rows(f"SELECT ref, state, {column} FROM jobs WHERE ref = %s", (ref,))
        return JobRecord(*rows[0]) if rows else None

    async def snapshots(self, refs: Sequence[str]) -> dict[str, Job]:
        if not refs:
            return {}
        rows = await self._rows(
            "SELECT ref, document FROM jobs WHERE ref = ANY(%s)", (list(dict.fromkeys(refs)),)
        )
        return {ref: Job.model_validate_json(document) for ref, document in rows}

    async def jobs(self, query: JobQuery) -> JobPage:
        sql, args = jobs_sql(query, POSTGRES)
        return job_page(query, await self._rows(sql, args))

    async def job_events(self, ref: str, *, after: int = 0, limit: int = 1000) -> list[StoredEvent]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events e JOIN jobs j ON j.ref = e.ref"
            " WHERE e.ref = %s AND e.seq > %s ORDER BY e.seq LIMIT %s"
        )
        return [stored_event(row) for row in await self._rows(sql, (ref, after, limit))]

    async def events(self, *, after: int, limit: int) -> list[StoredEvent]:
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM events e JOIN jobs j ON j.ref = e.ref"
            " WHERE e.seq > %s ORDER BY e.seq LIMIT %s"
        )
        return [stored_event(row) for row in await self._rows(sql, (after, limit))]

    async def last_seq(self) -> int:
        rows = await self._rows("SELECT last_seq FROM event_log")
        seq = int(rows[0][0]) if rows else 0
        self._saw(seq)
        return seq

    async def counts(self) -> Counts:
        rows = await self._rows("SELECT backend, state, count(*) FROM jobs GROUP BY backend, state")
        return {(backend, state): int(count) for backend, state, count in rows}

    async def wait_for_events(self, after: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._last_seq <= after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._committed.wait(), remaining)
        return self._last_seq

    # -- LISTEN/NOTIFY --------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Wake waiters on every other node's commits; reconnect when the connection drops.
        Stops when `_stopping` is set (cancelling psycopg's `notifies()` is not reliable)."""
        while not self._stopping.is_set():
            try:
                connection = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                )
            except psycopg.Error as exc:
                log.warning("%s: cannot listen for events (%s)", self.url, type(exc).__name__)
                await self._pause(LISTENER_POLL)
                continue
            try:
                async with connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    await self.last_seq()  # what was committed before LISTEN took effect
                    polled = time.monotonic()
                    while not self._stopping.is_set():
                        async for notice in connection.notifies(timeout=LISTENER_WAKE):
                            with contextlib.suppress(ValueError):
                                self._saw(int(notice.payload))
                        if time.monotonic() - polled > LISTENER_POLL:
                            await self.last_seq()
                            polled = time.monotonic()
            except (psycopg.Error, StoreError) as exc:
                log.warning("%s: listening stopped (%s); again", self.url, type(exc).__name__)
                await self._pause(1.0)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
