"""One `jobhub serve` node among several over one PostgreSQL store: its name and role, and the
loop that turns the leases it gains and loses (`jobhub.serve.leases`) into backends its
recorder follows or stops following.

On SQLite (one node) there is nothing to share: a watching node follows every backend and
says it holds each. Over PostgreSQL, a watching node follows exactly the backends it holds a
lease for; an `api` node follows none and serves what the others record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobhub.errors import ConfigError
from jobhub.store import Store

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from jobhub.serve.ingest import Recorder
    from jobhub.serve.leases import LeaseChange, Leases
    from jobhub.serve.metrics import Metrics

__all__ = ["ROLES", "WATCHING_ROLES", "Node", "default_node_name"]

log = logging.getLogger("jobhub.serve")

ROLES = ("all", "api", "watcher")
WATCHING_ROLES = ("all", "watcher")  # the roles that follow backends (and share the leases)


def default_node_name() -> str:
    """This host and process: unique among nodes that run at the same time."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Node:
    """This process's part: which backends it follows, and who holds the others."""

    def __init__(
        self,
        store: Store,
        recorder: Recorder,
        metrics: Metrics,
        backends: Sequence[str],
        *,
        name: str | None = None,
        role: str = "all",
        lease_ttl: float = 15.0,
    ) -> None:
        if role not in ROLES:
            raise ConfigError(f"--role {role}: one of {', '.join(ROLES)}")
        if not lease_ttl > 0:
            raise ConfigError(f"--lease-ttl {lease_ttl}: a positive number of seconds")
        self.store = store
        self.recorder = recorder
        self.metrics = metrics
        self.backends = sorted(backends)
        self.name = name or default_node_name()
        self.role = role
        self.lease_ttl = lease_ttl
        self.leases: Leases | None = None
        self._stopping = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    @property
    def watching(self) -> bool:
        return self.role in WATCHING_ROLES

    async def start(self) -> None:
        """Start following: every backend alone, by leases when the store is shared."""
        pool = _shared_pool(self.store)
        if pool is None:
            self.recorder.start(self.backends if self.watching else ())
            self.metrics.leases_held.set(len(self.recorder.following))
            return
        from jobhub.serve.leases import Leases, ensure_lease_schema

        async with pool.connection() as connection:
            await ensure_lease_schema(connection)
        self.leases = Leases(pool, self.name, self.backends, ttl=self.lease_ttl, role=self.role)
        self.recorder.holder = self.name  # what it writes must be under a lease it holds
        self.recorder.start(())
        self._stopping = asyncio.Event()
        self._loop = asyncio.ensure_future(self.leases.run(self._changed, self._stopping))

    async def stop(self) -> None:
        """Stop following (committing what was received), then give the leases back."""
        for name in sorted(self.recorder.following):
            await self.recorder.unfollow(name)
        if self._loop is not None:
            self._stopping.set()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def _changed(self, change: LeaseChange) -> None:
        for name in sorted(change.lost):
            await self.recorder.unfollow(name)
        for name in sorted(change.gained):
            self.recorder.follow(name)
        self.metrics.leases_held.set(len(self.recorder.following))
        if change.taken_over:
            self.metrics.lease_takeovers.inc(len(change.taken_over))
            log.warning(
                "%s took over %s from a node that stopped renewing",
                self.name,
                ", ".join(sorted(change.taken_over)),
            )

    async def holders(self) -> dict[str, str | None]:
        """Each backend's node: the lease holder, or this node for what it follows alone."""
        if self.leases is None:
            following = self.recorder.following
            return {name: self.name if name in following else None for name in self.backends}
        try:
            return await self.leases.holders()
        except Exception:  # the database is away: say what this node itself follows
            log.warning("cannot read the lease holders", exc_info=True)
            following = self.recorder.following
            return {name: self.name if name in following else None for name in self.backends}


def _shared_pool(store: Store) -> AsyncConnectionPool[Any] | None:
    """The connection pool of a store several nodes share (PostgreSQL), else None."""
    try:
        from jobhub.store.postgres import PostgresStore
    except ImportError:  # jobhub[postgres] not installed: no store can be shared
        return None
    return store.pool if isinstance(store, PostgresStore) else None
