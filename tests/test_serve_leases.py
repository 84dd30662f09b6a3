"""Leases between serve nodes, against a real PostgreSQL: every backend is held by exactly one
node, a node that stops heartbeating loses its backends to the others within 2 × ttl, a new node
takes its share, and a node that cannot reach the database gives its leases up by itself."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from jobhub.serve.leases import Leases, ensure_lease_schema

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

TTL = 1.0
BACKENDS = [f"b{n:02d}" for n in range(12)]

Nodes = Callable[..., Awaitable[Leases]]


@pytest.fixture
async def nodes(postgres_url: str) -> AsyncIterator[Nodes]:
    """Makes lease managers over the test's database, each with its own pool (as nodes have)."""
    pools: list[AsyncConnectionPool[Any]] = []

    async def make(name: str, *, role: str = "all", backends: list[str] = BACKENDS) -> Leases:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            postgres_url, min_size=1, max_size=2, open=False, timeout=5
        )
        await pool.open(wait=True)
        pools.append(pool)
        async with pool.connection() as connection:
            await ensure_lease_schema(connection)
        return Leases(pool, name, backends, ttl=TTL, role=role)

    yield make
    for pool in pools:
        await pool.close()


async def tick_all(*leases: Leases, rounds: int = 1) -> None:
    for _ in range(rounds):
        for lease in leases:
            await lease.tick()
        await asyncio.sleep(leases[0].interval)


def assert_each_backend_held_once(*leases: Leases) -> None:
    held = [backend for lease in leases for backend in lease.held]
    assert sorted(held) == BACKENDS, {lease.node: sorted(lease.held) for lease in leases}


async def test_three_nodes_share_every_backend_once_and_evenly(nodes: Nodes) -> None:
    a, b, c = [await nodes(name) for name in "abc"]
    await tick_all(a, b, c, rounds=4)
    assert_each_backend_held_once(a, b, c)
    assert [len(lease.held) for lease in (a, b, c)] == [4, 4, 4]
    holders = await a.holders()
    assert {backend: holders[backend] for backend in b.held} == dict.fromkeys(b.held, "b")


@pytest.mark.slow
async def test_a_node_that_stops_heartbeating_loses_its_backends_within_two_ttls(
    nodes: Nodes,
) -> None:
    a, b, c = [await nodes(name) for name in "abc"]
    await tick_all(a, b, c, rounds=4)
    orphaned = c.held
    assert orphaned
    # Counted from here. On a loaded machine a tick can come later than the ttl, and a lease
    # the other live node then takes is a takeover too: so at least one per orphaned backend.
    counted = a.takeovers + b.takeovers
    taken: set[str] = set()
    stopped = time.monotonic()  # c's last renewal was before this
    while not orphaned <= a.held | b.held:
        for lease in (a, b):
            taken |= (await lease.tick()).taken_over
        await asyncio.sleep(a.interval)
        assert time.monotonic() - stopped < 2 * TTL, "takeover took longer than 2 × ttl"
        assert not (a.held & b.held)
    assert_each_backend_held_once(a, b)
    assert orphaned <= taken  # taken over from c, each one, and counted as such
    assert a.takeovers + b.takeovers - counted >= len(orphaned)
    assert [len(lease.held) for lease in (a, b)] == [6, 6]
    # The stalled node, back, finds its leases gone and says so instead of polling on.
    change = await c.tick()
    assert change.lost == orphaned
    await tick_all(a, b, c, rounds=6)
    assert_each_backend_held_once(a, b, c)


async def test_a_new_node_takes_its_share_and_no_node_holds_too_many_for_long(
    nodes: Nodes,
) -> None:
    a, b = await nodes("a"), await nodes("b")
    await tick_all(a, b, rounds=3)
    assert [len(lease.held) for lease in (a, b)] == [6, 6]
    c = await nodes("c")
    for _ in range(6):
        await tick_all(a, b, c)
        held = [lease.held for lease in (a, b, c)]
        assert not (held[0] & held[1] or held[0] & held[2] or held[1] & held[2])
    assert_each_backend_held_once(a, b, c)
    share = math.ceil(len(BACKENDS) / 3)
    assert all(len(lease.held) <= share + 1 for lease in (a, b, c))
    assert len(c.held) >= share - 1


async def test_a_clean_stop_hands_the_backends_over_at_the_next_tick(nodes: Nodes) -> None:
    a, b = await nodes("a"), await nodes("b")
    await tick_all(a, b, rounds=3)
    given = await b.release()
    assert given.lost and not b.held
    await a.tick()  # no ttl to wait for: the rows are free and b is no longer a live node
    assert a.held == frozenset(BACKENDS)
    assert a.takeovers == 0  # released, not taken from a node that died


async def test_an_api_node_heartbeats_but_never_holds_or_counts_as_a_watcher(
    nodes: Nodes,
) -> None:
    a, api = await nodes("a"), await nodes("api", role="api")
    await tick_all(a, api, rounds=3)
    assert a.held == frozenset(BACKENDS)
    assert not api.held


@pytest.mark.slow
async def test_a_node_that_loses_the_database_gives_its_leases_up_after_one_ttl(
    nodes: Nodes, postgres_url: str
) -> None:
    import psycopg

    a = await nodes("a")
    await a.tick()
    assert a.held == frozenset(BACKENDS)
    database = postgres_url.rsplit("/", 1)[1]
    admin_url = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    try:
        cut = time.monotonic()
        first = await a.tick()
        assert not first.lost and a.held  # within the ttl: still held (nobody can take them)
        while a.held:
            await asyncio.sleep(a.interval)
            change = await a.tick()
        assert change.lost == frozenset(BACKENDS)
        assert time.monotonic() - cut < 2 * TTL + 5  # the pool's own wait is bounded too
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
