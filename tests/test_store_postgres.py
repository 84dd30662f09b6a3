"""The PostgreSQL store, where it differs from SQLite: several nodes write one event log at once
and every reader still sees every event once, in sequence order; a commit on one node wakes the
waiting streams of another (LISTEN/NOTIFY); a restart keeps the sequence going; a database that
is not a jobhub store, or is from a newer jobhub, is refused; a password never shows.

What both stores share is stated once, in tests/test_store_sqlite.py, and run on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from jobhub.store import StoreError, open_store
from jobhub.store.postgres import MIGRATIONS, PostgresStore, safe_url
from tests.conftest import SECRET
from tests.store_helpers import change, make_job

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


@pytest.fixture
async def two_nodes(postgres_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores over one database, as two serve nodes have."""
    stores = [PostgresStore(postgres_url), PostgresStore(postgres_url)]
    for store in stores:
        await store.open()
    yield stores[0], stores[1]
    for store in stores:
        await store.close()


async def test_two_writers_at_once_leave_no_gap_a_reader_could_skip(
    two_nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_nodes
    seen: list[int] = []
    writing = True

    async def write(store: PostgresStore, first: int) -> None:
        for n in range(first, first + 300, 3):
            await store.record([change(None, make_job(n + i)) for i in range(3)])

    async def read() -> None:
        # A stream's loop: everything past the last seq it delivered, as fast as it can.
        position = 0
        while writing or position < await a.last_seq():
            for event in await b.events(after=position, limit=50):
                seen.append(event.seq)
                position = event.seq
            await asyncio.sleep(0)

    reader = asyncio.ensure_future(read())
    await asyncio.gather(write(a, 0), write(b, 1000), write(a, 2000), write(b, 3000))
    writing = False
    await asyncio.wait_for(reader, 30)
    every = [event.seq for event in await a.events(after=0, limit=10_000)]
    assert len(every) == 1200
    assert seen == every  # each once, in order, none skipped while others were in flight
    assert every == sorted(set(every))


async def test_a_commit_on_one_node_wakes_a_waiting_stream_on_another(
    two_nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_nodes
    before = await b.last_seq()
    waiting = asyncio.ensure_future(b.wait_for_events(before, timeout=30))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    seq = await a.record([change(None, make_job(1))])
    # Woken by the notification, not by the 30 s timeout nor a poll of last_seq.
    assert await asyncio.wait_for(waiting, 4) == seq
    assert [event.seq for event in await b.events(after=before, limit=10)] == [seq]


async def test_a_restart_keeps_everything_and_the_sequence_goes_on(postgres_url: str) -> None:
    store = open_store(postgres_url)
    await store.open()
    await store.record([change(None, make_job(n)) for n in range(5)])
    await store.close()
    again = open_store(postgres_url)
    await again.open()
    assert await again.schema_version() == len(MIGRATIONS)
    assert await again.last_seq() == 5
    assert await again.record([change(None, make_job(9))]) == 6
    await again.close()


async def test_a_database_that_is_not_a_store_is_left_alone(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as db:
        db.execute("CREATE TABLE jobs (mine int)")
    with pytest.raises(StoreError, match="not a jobhub store"):
        await PostgresStore(postgres_url).open()
    with psycopg.connect(postgres_url) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("jobs",)]


async def test_a_store_from_a_newer_jobhub_is_refused(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    with psycopg.connect(postgres_url) as db:
        db.execute("UPDATE jobhub_schema SET version = %s", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer jobhub"):
        await PostgresStore(postgres_url).open()


async def test_a_server_that_cannot_be_reached_is_a_store_error_without_the_password() -> None:
    url = f"postgresql://ops:{SECRET}@127.0.0.1:1/jobhub?connect_timeout=2"
    assert SECRET not in open_store(url).url
    store = PostgresStore(url, connect_timeout=2)
    assert SECRET not in repr(store)
    assert store.url == "postgresql://ops@127.0.0.1:1/jobhub"
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert SECRET not in str(caught.value)
    assert "cannot connect" in str(caught.value)


def test_a_shown_url_keeps_user_host_port_and_database_only() -> None:
    assert safe_url(f"postgres://u:{SECRET}@db.internal:5433/hub") == (
        "postgresql://u@db.internal:5433/hub"
    )
    assert SECRET not in safe_url(f"host=db password={SECRET} dbname=hub")
