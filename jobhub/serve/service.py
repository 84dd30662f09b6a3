"""`Service`: what one `jobhub serve` runs besides HTTP — the store, one hub per backend, the
recorder that follows them, the broadcaster that feeds the streams, and scheduled pruning."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobhub.hub import AsyncHub, BackendsConfig
from jobhub.plugins import Registry, get_registry
from jobhub.serve.auth import Tokens
from jobhub.serve.cluster import Node
from jobhub.serve.health import BackendHealth, ObservingTransport
from jobhub.serve.ingest import Recorder
from jobhub.serve.metrics import Metrics
from jobhub.serve.stream import Broadcaster
from jobhub.store import Retention, Store

__all__ = ["Options", "Service"]

log = logging.getLogger("jobhub.serve")


@dataclass(frozen=True)
class Options:
    tokens: Tokens = field(default_factory=Tokens)
    retention: Retention = field(default_factory=Retention)
    prune_every: float = 3600.0  # seconds
    keep_alive: float = 15.0  # seconds between comments on an idle event stream
    # Several nodes over one PostgreSQL store (jobhub.serve.cluster): this node's name
    # (default: host and pid), whether it follows backends, how long its leases last.
    node: str | None = None
    role: str = "all"
    lease_ttl: float = 15.0


class Service:
    def __init__(
        self,
        backends: BackendsConfig,
        store: Store,
        options: Options | None = None,
        *,
        registry: Registry | None = None,
        env: Mapping[str, str] | None = None,
        config_source: str | None = None,
    ) -> None:
        self.store = store
        self.options = options or Options()
        registry = registry or get_registry()
        environ = os.environ if env is None else env
        self.metrics = Metrics(backends)
        self.health: dict[str, BackendHealth] = {}
        self.hubs: dict[str, AsyncHub] = {}
        self._transports: list[ObservingTransport] = []
        for name, entry in backends.items():
            # A hub of its own per backend: its transport knows whose requests it carries.
            transport = ObservingTransport(self.metrics)
            hub = AsyncHub(
                {name: entry},
                registry=registry,
                env=environ,
                config_source=config_source,
                transport=transport,
            )
            adapter = hub.adapter(name)
            self.health[name] = transport.bind(adapter, BackendHealth(name, adapter.type))
            self.hubs[name] = hub
            self._transports.append(transport)
        self.recorder = Recorder(store, self.hubs, self.health, self.metrics)
        self.broadcaster = Broadcaster(store)
        self.node = Node(
            store,
            self.recorder,
            self.metrics,
            list(backends),
            name=self.options.node,
            role=self.options.role,
            lease_ttl=self.options.lease_ttl,
        )
        self.ready = False
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.open()
        await self.broadcaster.start()
        await self.node.start()
        self._pruner = asyncio.ensure_future(self._prune_loop())
        self.ready = True

    async def stop(self) -> None:
        """Stop following, commit what was received, close the store."""
        self.ready = False
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
        await self.node.stop()
        await self.recorder.stop()
        await self.broadcaster.stop()
        for hub in self.hubs.values():
            with contextlib.suppress(Exception):
                await hub.aclose()
        for transport in self._transports:
            await transport.shutdown()
        await self.store.close()

    async def _prune_loop(self) -> None:
        while True:
            try:
                result = await self.store.prune(self.options.retention, now=datetime.now(UTC))
                if result.jobs:
                    log.info("pruned %d ended jobs and %d events", result.jobs, result.events)
            except Exception:
                log.exception("pruning failed; trying again later")
            await asyncio.sleep(self.options.prune_every)

    def describe(self) -> dict[str, Any]:
        return {
            "store": self.store.url,
            "backends": sorted(self.hubs),
            "node": self.node.name,
            "role": self.node.role,
        }
