"""The SQLite store: snapshots and the event log survive a restart and a kill -9, sequence
numbers only grow, keyset pages never repeat or skip a job, retention prunes what it should."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from jobhub.errors import ConfigError
from jobhub.model import JobState
from jobhub.store import JobQuery, Retention, Store, StoreError, open_store
from jobhub.store.query import InvalidQuery, encode_cursor
from jobhub.store.sqlite import MIGRATIONS, SQLiteStore
from tests.store_helpers import EPOCH, change, ended, make_job

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """Each test that takes it runs on SQLite and on PostgreSQL: the meaning both implement."""
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()


async def test_a_recorded_job_reads_back_with_its_events_in_order(store: Store) -> None:
    first = make_job(1, state="queued")
    running = first.model_copy(update={"state": JobState.RUNNING})
    seq1 = await store.record([change(None, first)])
    seq2 = await store.record([change(first, running)])
    assert (seq1, seq2) == (1, 2)
    record = await store.job(first.ref)
    assert record is not None
    assert record.job() == running
    events = await store.job_events(first.ref)
    assert [(e.seq, e.kind, e.old, e.new) for e in events] == [
        (1, "state", None, "queued"),
        (2, "state", "queued", "running"),
    ]
    assert await store.last_seq() == 2


async def test_a_job_without_raw_leaves_out_every_raw_payload(store: Store) -> None:
    job = make_job(1, tasks=[{"name": "t", "state": "running", "raw": {"secret-ish": 1}}])
    await store.record([change(None, job)])
    record = await store.job(job.ref, raw=False)
    assert record is not None
    assert "raw" not in record.document
    full = await store.job(job.ref)
    assert full is not None and full.job().raw == job.raw


async def test_a_restart_keeps_everything_and_the_sequence_goes_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    store = open_store(url)
    await store.open()
    await store.record([change(None, make_job(n)) for n in range(5)])
    await store.close()
    again = open_store(url)
    await again.open()
    assert await again.schema_version() == len(MIGRATIONS)
    assert await again.last_seq() == 5
    assert await again.record([change(None, make_job(9))]) == 6
    await again.close()


async def test_pruning_never_lets_a_sequence_number_come_back(store: Store) -> None:
    old = ended(make_job(1))
    await store.record([change(None, old)])
    assert (
        await store.prune(Retention(keep=timedelta(0)), now=EPOCH + timedelta(days=1))
    ).jobs == 1
    assert await store.last_seq() == 1
    assert await store.record([change(None, make_job(2))]) == 2


async def test_retention_keeps_failed_jobs_longer_and_open_jobs_always(store: Store) -> None:
    done = ended(make_job(1))
    failed = ended(make_job(2), "failed")
    running = make_job(3, created=EPOCH - timedelta(days=400))
    await store.record([change(None, done), change(None, failed), change(None, running)])
    retention = Retention(keep=timedelta(days=30), keep_failed=timedelta(days=90))
    result = await store.prune(retention, now=EPOCH + timedelta(days=60))
    assert (result.jobs, result.events) == (1, 1)
    assert await store.job(done.ref) is None
    assert await store.job(failed.ref) is not None
    await store.prune(retention, now=EPOCH + timedelta(days=100))
    assert await store.job(failed.ref) is None
    assert await store.job(running.ref) is not None
    assert [e.ref for e in await store.events(after=0, limit=10)] == [running.ref]


@pytest.mark.parametrize("sort", ["created", "-created", "finished", "-finished", "duration"])
async def test_cursor_pages_give_every_job_once_in_order(store: Store, sort: str) -> None:
    # Many jobs share each sort value (and some have none): the ref breaks the ties.
    jobs = []
    for n in range(257):
        job = make_job(n, created=EPOCH + timedelta(hours=n % 7))
        jobs.append(ended(job, after=float(n % 5)) if n % 3 else job)
    await store.record([change(None, job) for job in jobs])
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.jobs(JobQuery(sort=sort, limit=50, cursor=cursor))
        seen.extend(record.ref for record in page.records)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(job.ref for job in jobs)
    assert len(seen) == len(set(seen))
    assert seen == [
        record.ref for record in (await store.jobs(JobQuery(sort=sort, limit=1000))).records
    ]


async def test_filters_narrow_the_jobs(store: Store) -> None:
    jobs = [
        make_job(1, backend="ci", workflow="build"),
        ended(make_job(2, backend="ci", workflow="deploy", error="disk full"), "failed"),
        make_job(3, backend="gpu", workflow="train"),
    ]
    await store.record([change(None, job) for job in jobs])

    async def refs(**query: object) -> list[str]:
        page = await store.jobs(JobQuery(sort="created", **query))  # type: ignore[arg-type]
        return [record.ref for record in page.records]

    assert await refs(backends=("gpu",)) == ["gpu:job-000003"]
    assert await refs(states=("failed", "running")) == [j.ref for j in jobs]
    assert await refs(states=("failed",)) == ["ci:job-000002"]
    assert await refs(workflow="build") == ["ci:job-000001"]
    assert await refs(q="DISK") == ["ci:job-000002"]
    assert await refs(q="gpu:") == ["gpu:job-000003"]
    assert await refs(since=EPOCH + timedelta(minutes=2)) == ["ci:job-000002", "gpu:job-000003"]
    assert await refs(until=EPOCH + timedelta(minutes=2)) == ["ci:job-000001"]
    assert await store.counts() == {
        ("ci", "running"): 1,
        ("ci", "failed"): 1,
        ("gpu", "running"): 1,
    }


def test_a_bad_query_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidQuery, match="sort 'size'"):
        JobQuery(sort="size")
    with pytest.raises(InvalidQuery, match="state 'done'"):
        JobQuery(states=("done",))
    with pytest.raises(InvalidQuery, match="limit 0"):
        JobQuery(limit=0)
    with pytest.raises(InvalidQuery, match="not one this server gave"):
        JobQuery(cursor="garbage!").after()
    with pytest.raises(InvalidQuery, match="made for sort 'created'"):
        JobQuery(sort="-duration", cursor=encode_cursor("created", 1.0, "a:b")).after()


async def test_a_waiting_reader_wakes_when_an_event_is_committed(store: Store) -> None:
    waiting = asyncio.ensure_future(store.wait_for_events(0, timeout=30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await store.record([change(None, make_job(1))])
    assert await asyncio.wait_for(waiting, 5) == 1
    assert await store.wait_for_events(1, timeout=0.05) == 1  # nothing new: the timeout


async def test_a_database_that_is_not_a_store_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE mine (x)")
    with pytest.raises(StoreError, match="not a jobhub store"):
        await SQLiteStore(path).open()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("mine",)]


async def test_a_store_from_a_newer_jobhub_is_refused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "serve.db")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "serve.db") as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer jobhub"):
        await SQLiteStore(tmp_path / "serve.db").open()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "mysql://u:hunter2@db/x", "nonsense"])
def test_a_store_url_jobhub_cannot_use_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from jobhub.store import open_store
    from tests.store_helpers import change, make_job

    async def main():
        store = open_store(sys.argv[1])
        await store.open()
        n = 0
        while True:
            batch = [change(None, make_job(n + i)) for i in range(20)]
            seq = await store.record(batch)
            n += 20
            print(seq, flush=True)

    asyncio.run(main())
    """
)


async def test_kill_9_of_a_writer_loses_nothing_it_committed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    root = Path(__file__).resolve().parent.parent
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert writer.stdout is not None
    committed = 0
    try:
        for line in writer.stdout:
            committed = int(line)
            if committed >= 400:
                break
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
    store = open_store(url)
    await store.open()
    try:
        last = await store.last_seq()
        assert last >= committed  # it may have committed more after its last line
        events = await store.events(after=0, limit=100_000)
        assert [e.seq for e in events] == list(range(1, last + 1))
        page = await store.jobs(JobQuery(limit=1000))
        assert len(page.records) == last  # one first-seen event per job: snapshots match
    finally:
        await store.close()
