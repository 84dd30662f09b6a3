"""Several serve nodes over one PostgreSQL: events per second through the shared store, and the
lag from a change recorded on one node to its delivery on another.

    python -m benchmarks nodes                      3 nodes, 30 backends, 30,000 jobs
    python -m benchmarks nodes -- --jobs 3000       smaller
    python -m benchmarks nodes -- --db postgresql://jobhub@127.0.0.1:5432/bench

Each node is a `PostgresStore` of its own (its pool, its LISTEN connection), as in `jobhub
serve`; the 30 backends are split between the nodes as their leases would be (10 each), and each
node records its backends' jobs the way the recorder does: batches of up to 500 changes, every
job queued → running → succeeded (three events). A reader on node 0 follows the log as a stream
does (woken by NOTIFY, reading the table) and times the events of the backends it does not
hold: from just before the change was handed to the store to its arrival on node 0. This
measures the store and the fan-out; polling the backends and the HTTP hop of SSE are left out.
Without --db it starts a throwaway server (Debian's postgresql binaries, as the tests do).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from jobhub.model import Job, JobState
from jobhub.store.postgres import PostgresStore
from jobhub.waiting import job_events

BATCH = 500


def _job(backend: str, n: int, state: JobState, created: datetime) -> Job:
    return Job.model_validate(
        {
            "ref": f"{backend}:job-{n:07d}",
            "backend": backend,
            "type": "prunner",
            "id": f"job-{n:07d}",
            "workflow": "build",
            "state": state,
            "created_at": created,
            "raw": {"n": n},
        }
    )


async def _node(
    store: PostgresStore, backends: Sequence[str], jobs: int, sent: dict[str, float]
) -> int:
    """Record `jobs` jobs spread over `backends`, three states each; returns events written."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    written = 0
    states = (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
    for start in range(0, jobs, BATCH // 3 or 1):
        chunk = range(start, min(jobs, start + BATCH // 3 or 1))
        for index, state in enumerate(states):
            changes = []
            for n in chunk:
                backend = backends[n % len(backends)]
                old = _job(backend, n, states[index - 1], created) if index else None
                new = _job(backend, n, state, created + timedelta(seconds=n))
                events = job_events(old, new, at=datetime.now(UTC))
                changes.append((new, events))
                sent[f"{new.ref}/{state.value}"] = time.monotonic()
            await store.record(changes)
            written += len(changes)
    return written


async def _follow(
    store: PostgresStore,
    foreign: set[str],
    sent_at: dict[str, float],
    expected: int,
    lags: list[float],
) -> None:
    """Read the log as a stream does; time the state events of `foreign` backends."""
    position = await store.last_seq()
    while len(lags) < expected:
        await store.wait_for_events(position, timeout=5.0)
        for event in await store.events(after=position, limit=2000):
            position = event.seq
            if event.backend in foreign and event.kind == "state":
                arrived = time.monotonic()
                lags.append(arrived - sent_at[f"{event.ref}/{event.new}"])


async def run(url: str, nodes: int, backends: int, jobs: int) -> None:
    stores = [PostgresStore(url) for _ in range(nodes)]
    for store in stores:
        await store.open()
    try:
        names = [f"prunner{n:02d}" for n in range(backends)]
        shares = [names[i::nodes] for i in range(nodes)]
        per_node = jobs // nodes
        sent: dict[str, float] = {}
        foreign = set(names) - set(shares[0])
        expected = 3 * per_node * (nodes - 1)
        lags: list[float] = []
        reader = asyncio.ensure_future(_follow(stores[0], foreign, sent, expected, lags))
        await asyncio.sleep(0.2)
        began = time.perf_counter()
        written = await asyncio.gather(
            *(_node(stores[i], shares[i], per_node, sent) for i in range(nodes))
        )
        elapsed = time.perf_counter() - began
        await asyncio.wait_for(reader, 60)
        lags.sort()
        total = sum(written)

        def quantile(q: float) -> float:
            return lags[min(len(lags) - 1, int(q * len(lags)))]

        print(f"nodes {nodes}, backends {backends}, jobs {per_node * nodes}, events {total}")
        print(f"  events/s through the store (all nodes writing): {total / elapsed:,.0f}")
        print(
            f"  lag on node 0 for events of other nodes' backends ({len(lags)}): "
            f"p50 {quantile(0.5) * 1000:.0f} ms, p99 {quantile(0.99) * 1000:.0f} ms, "
            f"max {lags[-1] * 1000:.0f} ms"
        )
    finally:
        for store in stores:
            await store.close()


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    import psycopg

    from tests.postgres import running_server

    with running_server() as server:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        yield server.url("bench")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks nodes")
    parser.add_argument("--db", help="a PostgreSQL url (default: a throwaway server)")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--backends", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=30_000)
    args = parser.parse_args(list(argv))
    with _server(args.db) as url:
        asyncio.run(run(url, args.nodes, args.backends, args.jobs))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
