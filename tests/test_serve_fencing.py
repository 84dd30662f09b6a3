"""Leases fence the writes of serve nodes sharing one PostgreSQL: a node records a backend's
changes only while it holds that backend's lease, so a node that stalled past its lease and wakes
up cannot write over the node that took the backend over. Against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from jobhub.serve.leases import Leases, ensure_lease_schema
from jobhub.store.postgres import PostgresStore
from tests.store_helpers import change, ended, make_job

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TTL = 1.0


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(postgres_url)
    await store.open()
    async with store.pool.connection() as connection:
        await ensure_lease_schema(connection)
    yield store
    await store.close()


async def test_a_node_whose_lease_was_taken_over_records_nothing_more_of_that_backend(
    store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    a = Leases(store.pool, "node-a", ["ci"], ttl=TTL)
    b = Leases(store.pool, "node-b", ["ci"], ttl=TTL)
    await a.tick()
    await b.tick()
    assert a.held == {"ci"} and b.held == set()
    running = make_job(1)
    await store.record([change(None, running)], holder="node-a")
    assert (await store.snapshots([running.ref]))[running.ref].state.value == "running"

    # node-a stalls past its lease; node-b takes the backend over and records the job's end.
    await asyncio.sleep(TTL * 1.2)
    await b.tick()
    assert b.held == {"ci"}
    failed = ended(running, "failed")
    await store.record([change(running, failed)], holder="node-b")
    last = await store.last_seq()

    # node-a wakes up with its stale view of the job: nothing of it is written.
    with caplog.at_level(logging.WARNING, logger="jobhub.store"):
        seq = await store.record([change(running, ended(running, "succeeded"))], holder="node-a")
    assert seq == last == await store.last_seq()
    assert (await store.snapshots([running.ref]))[running.ref].state.value == "failed"
    assert [
        event.new for event in await store.job_events(running.ref) if event.kind == "state"
    ] == [
        "running",
        "failed",
    ]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["node-a no longer holds the lease of ci: 1 changes left to the new holder"]


async def test_a_batch_keeps_the_backends_still_held_and_leaves_out_the_rest(
    store: PostgresStore,
) -> None:
    a = Leases(store.pool, "node-a", ["ci", "ml"], ttl=30.0)
    await a.tick()
    assert a.held == {"ci", "ml"}
    async with store.pool.connection() as connection:  # another node took "ml" meanwhile
        await connection.execute(
            "UPDATE jobhub_leases SET holder = 'node-b', generation = generation + 1"
            " WHERE backend = 'ml'"
        )
    ci, ml = make_job(1, backend="ci"), make_job(2, backend="ml")
    await store.record([change(None, ci), change(None, ml)], holder="node-a")
    assert list(await store.snapshots([ci.ref, ml.ref])) == [ci.ref]


async def test_without_a_holder_every_change_is_recorded(store: PostgresStore) -> None:
    # One node, or a tool writing on its own: no lease is asked for.
    job = make_job(1)
    await store.record([change(None, job)])
    assert list(await store.snapshots([job.ref])) == [job.ref]
