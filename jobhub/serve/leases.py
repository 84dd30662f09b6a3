"""Which node follows which backend, when several `jobhub serve` nodes share one PostgreSQL.

Each backend has one row in `jobhub_leases` (holder, heartbeat, expiry, a generation that grows
at every acquisition) and each node one row in `jobhub_nodes` (its heartbeat and expiry). There
is no coordinator: every node runs the same `Leases.tick` every `ttl / 3` seconds, and the
database's row locks and clock decide. One tick, in one transaction:

1. the node's own heartbeat, and the renewal of every lease it holds (a lease it thought it held
   but that another node took after it expired is reported lost);
2. its share: ⌈backends / live watcher nodes⌉ — what it holds beyond that is reported lost at
   once (so the node stops following it) and released in the database at the next tick, so a
   new node finds leases to take and never follows a backend the old holder still polls;
3. it acquires free or expired leases up to its share with `FOR UPDATE SKIP LOCKED`, so two nodes
   never pick the same row and neither waits for the other.

A node that stops (kill -9, a lost network) stops renewing: its leases expire `ttl` after its last
tick and the next tick of another node takes them over, so a backend is unwatched for at most
`ttl` plus one tick interval. A node that cannot reach the database gives up its leases by itself
one tick interval before they expire (it stops polling before anyone can take over). Every
expiry is the database's `now()`: the nodes' own clocks never matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from jobhub.serve.cluster import ROLES, WATCHING_ROLES

__all__ = ["LeaseChange", "Leases", "ensure_lease_schema"]

log = logging.getLogger("jobhub.serve.leases")

DEFAULT_TTL = 15.0
# Serializes the creation of the lease tables between nodes starting at once.
_SCHEMA_LOCK = 0x6A6F62687562  # "jobhub"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobhub_nodes (
    name text PRIMARY KEY,
    role text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS jobhub_leases (
    backend text PRIMARY KEY,
    holder text,
    generation bigint NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    heartbeat_at timestamptz,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
"""

_HEARTBEAT = """
INSERT INTO jobhub_nodes (name, role, heartbeat_at, expires_at)
VALUES (%(node)s, %(role)s, now(), now() + make_interval(secs => %(ttl)s))
ON CONFLICT (name) DO UPDATE
SET role = excluded.role, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
"""
_ENSURE_ROWS = """
INSERT INTO jobhub_leases (backend) SELECT unnest(%(backends)s::text[]) ON CONFLICT DO NOTHING
"""
_RENEW = """
UPDATE jobhub_leases
SET heartbeat_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
WHERE holder = %(node)s AND backend = ANY(%(backends)s)
RETURNING backend
"""
_LIVE_WATCHERS = """
SELECT count(*) FROM jobhub_nodes WHERE expires_at > now() AND role = ANY(%(roles)s)
"""
_RELEASE = """
UPDATE jobhub_leases SET holder = NULL, expires_at = '-infinity'
WHERE holder = %(node)s AND backend = ANY(%(backends)s)
"""
_ACQUIRE = """
WITH picked AS (
    SELECT backend, holder AS previous FROM jobhub_leases
    WHERE backend = ANY(%(backends)s) AND (holder IS NULL OR expires_at < now())
    ORDER BY backend
    LIMIT %(wanted)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobhub_leases AS lease
SET holder = %(node)s, generation = lease.generation + 1, acquired_at = now(),
    heartbeat_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
FROM picked WHERE lease.backend = picked.backend
RETURNING lease.backend, picked.previous
"""
_HOLDERS = """
SELECT backend, holder, expires_at > now() FROM jobhub_leases WHERE backend = ANY(%(backends)s)
"""
_FORGET_NODE = "DELETE FROM jobhub_nodes WHERE name = %(node)s"


async def ensure_lease_schema(connection: psycopg.AsyncConnection[Any]) -> None:
    """Create the lease tables if they are missing (safe when several nodes start at once)."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await connection.execute(SCHEMA)


@dataclass(frozen=True, slots=True)
class LeaseChange:
    """What one tick changed for this node."""

    gained: frozenset[str] = frozenset()
    lost: frozenset[str] = frozenset()
    taken_over: frozenset[str] = frozenset()  # gained from another node whose lease had expired

    def __bool__(self) -> bool:
        return bool(self.gained or self.lost)


@dataclass
class Leases:
    """One node's leases over `backends` (the same configured list on every node)."""

    pool: AsyncConnectionPool[Any]
    node: str
    backends: Sequence[str]
    ttl: float = DEFAULT_TTL
    role: str = "all"
    held: frozenset[str] = frozenset()
    takeovers: int = 0  # leases taken over from another node since start
    _renewed_at: float | None = field(default=None, repr=False)
    # Reported lost (no longer followed) but still ours in the database until the next tick.
    _releasing: frozenset[str] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r}: one of {', '.join(ROLES)}")
        if not self.ttl > 0:
            raise ValueError(f"lease ttl {self.ttl}: a positive number of seconds")
        self.backends = sorted(set(self.backends))

    @property
    def interval(self) -> float:
        """How often `tick` runs: three renewals fit in one ttl."""
        return self.ttl / 3

    @property
    def watching(self) -> bool:
        return self.role in WATCHING_ROLES

    async def tick(self) -> LeaseChange:
        """Heartbeat, renew, balance, acquire — one transaction. Never raises on a database
        fault: the fault is logged and, once `ttl` has passed without a renewal, every lease is
        given up (reported lost) so this node stops polling before another takes over."""
        try:
            change = await self._tick()
        except (psycopg.Error, OSError) as error:
            log.warning("leases: database unreachable (%s)", type(error).__name__)
            return self._expire_by_own_clock()
        self.takeovers += len(change.taken_over)
        return change

    async def _tick(self) -> LeaseChange:
        params: dict[str, Any] = {
            "node": self.node,
            "role": self.role,
            "ttl": self.ttl,
            "backends": list(self.backends),
            "roles": list(WATCHING_ROLES),
        }
        started = time.monotonic()
        async with self.pool.connection() as connection, connection.transaction():
            await connection.execute(_HEARTBEAT, params)
            if not self.watching:
                return LeaseChange()
            await connection.execute(_ENSURE_ROWS, params)
            if self._releasing:
                await connection.execute(_RELEASE, {**params, "backends": list(self._releasing)})
            cursor = await connection.execute(_RENEW, params)
            renewed = frozenset(row[0] for row in await cursor.fetchall())
            cursor = await connection.execute(_LIVE_WATCHERS, params)
            row = await cursor.fetchone()
            live = max(1, row[0] if row else 1)
            share = math.ceil(len(self.backends) / live)
            excess = frozenset(sorted(renewed)[share:])
            kept = renewed - excess
            gained: set[str] = set()
            taken_over: set[str] = set()
            if len(renewed) < share:
                wanted = share - len(renewed)
                cursor = await connection.execute(_ACQUIRE, {**params, "wanted": wanted})
                for backend, previous in await cursor.fetchall():
                    gained.add(backend)
                    if previous is not None and previous != self.node:
                        taken_over.add(backend)
        self._releasing = excess
        now_held = kept | gained
        change = LeaseChange(
            gained=frozenset(now_held - self.held),
            lost=frozenset(self.held - now_held),
            taken_over=frozenset(taken_over),
        )
        self.held = frozenset(now_held)
        # The renewal counts from when the transaction began: its now() is no later than that.
        self._renewed_at = started
        if change:
            log.info(
                "leases: %s holds %d of %d (gained %s, lost %s)",
                self.node,
                len(self.held),
                len(self.backends),
                sorted(change.gained),
                sorted(change.lost),
            )
        return change

    def _expire_by_own_clock(self) -> LeaseChange:
        if not self.held or self._renewed_at is None:
            return LeaseChange()
        if time.monotonic() - self._renewed_at < self.ttl - self.interval:
            return LeaseChange()
        lost, self.held = self.held, frozenset()
        log.warning("leases: %s gives up %d leases it could not renew", self.node, len(lost))
        return LeaseChange(lost=lost)

    async def release(self) -> LeaseChange:
        """Give every lease back and leave the live nodes (a clean stop): the others take the
        backends over at their next tick instead of waiting for the ttl."""
        lost, self.held, self._releasing = self.held, frozenset(), frozenset()
        try:
            async with self.pool.connection() as connection, connection.transaction():
                params = {"node": self.node, "backends": list(self.backends)}
                await connection.execute(_RELEASE, params)
                await connection.execute(_FORGET_NODE, params)
        except (psycopg.Error, OSError) as error:
            log.warning("leases: could not release (%s); they expire", type(error).__name__)
        return LeaseChange(lost=lost)

    async def holders(self) -> dict[str, str | None]:
        """Each configured backend's live holder (None when free or expired)."""
        async with self.pool.connection() as connection:
            cursor = await connection.execute(_HOLDERS, {"backends": list(self.backends)})
            rows = await cursor.fetchall()
        found = {backend: holder if live else None for backend, holder, live in rows}
        return {backend: found.get(backend) for backend in self.backends}

    async def run(
        self,
        on_change: Callable[[LeaseChange], Awaitable[None]],
        stopping: asyncio.Event,
    ) -> None:
        """Tick every `interval` until `stopping` is set, passing each change on, then release."""
        try:
            while not stopping.is_set():
                change = await self.tick()
                if change:
                    await on_change(change)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.interval)
        finally:
            released = await self.release()
            if released:
                await on_change(released)
