"""`jobhub serve` at size: a store of 100,000 jobs and 1,000,000 events, queries on it, and
500 event-stream clients.

    python -m benchmarks serve                    # 100,000 jobs x 10 events, 500 clients
    python -m benchmarks serve --quick            # 10,000 jobs, 50 clients
    python -m benchmarks serve --jobs 20000 --clients 100

1. Ingest: the store is filled through `Store.record` in batches of 500 changes (what the
   recorder commits at once), one first-seen event and then progress events per job; events
   per second of wall time, serialization included.
2. Queries: `jobhub serve --port 0` runs as its own process over that store (no backend);
   `GET /api/v1/jobs?state=failed&limit=100` and a page from a cursor halfway down the list,
   each asked `--rounds` times one after the other; p50 / p99 of the answer time. The serve
   process's RSS is read from /proc after the queries.
3. Streams: a fresh serve process follows an emulated prunner (its own thread in this
   process); `--clients` clients hold `/api/v1/events` open while `--stream-jobs` jobs run.
   Lag is from the moment a change was seen (the event's `at`, before its commit) to its
   arrival at a client, over every delivery: so it bounds the lag from the store commit.

Targets (DESIGN.md): query p99 <= 50 ms, ingest >= 2,000 events/s, stream lag p99 <= 500 ms,
serve RSS <= 300 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from jobhub.emulator import Emulator, config_toml
from jobhub.model import Job, JobEvent, JobState
from jobhub.store import open_store
from jobhub.store.query import encode_cursor

JOBHUB = str(Path(sys.executable).parent / "jobhub")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.RUNNING, JobState.SUCCEEDED)


def job(n: int) -> Job:
    state = STATES[n % len(STATES)]
    created = EPOCH + timedelta(seconds=n * 7)
    ended = state.terminal
    return Job.model_validate(
        {
            "ref": f"ci{n % 8}:job-{n:07d}",
            "backend": f"ci{n % 8}",
            "type": "prunner",
            "id": f"job-{n:07d}",
            "workflow": f"pipeline-{n % 40}",
            "state": state,
            "created_at": created,
            "started_at": created,
            "finished_at": created + timedelta(seconds=n % 600) if ended else None,
            "duration": float(n % 600) if ended else None,
            "error": "exit status 1" if state is JobState.FAILED else None,
            "user": f"user{n % 25}",
            "raw": {"id": f"job-{n:07d}", "pipeline": f"pipeline-{n % 40}", "n": n},
        }
    )


def events(item: Job, count: int) -> list[JobEvent]:
    at = item.created_at or EPOCH
    found = [JobEvent(ref=item.ref, kind="state", old=None, new=item.state, job=item, at=at)]
    for i in range(1, count):
        found.append(
            JobEvent(
                ref=item.ref, kind="progress", old=(i - 1) / count, new=i / count, job=item, at=at
            )
        )
    return found


async def fill(db: Path, jobs: int, per_job: int) -> tuple[float, int]:
    """Seconds spent filling the store, and events written."""
    store = open_store(f"sqlite:///{db}")
    await store.open()
    written = 0
    spent = 0.0
    batch = max(1, 500 // per_job)  # changes per commit: about 500 events
    for start in range(0, jobs, batch):
        changes = [
            (j, events(j, per_job)) for j in map(job, range(start, min(jobs, start + batch)))
        ]
        began = time.perf_counter()
        await store.record(changes)
        spent += time.perf_counter() - began
        written += sum(len(found) for _, found in changes)
    await store.close()
    return spent, written


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def start_serve(config: Path, db: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            JOBHUB,
            "serve",
            "--config",
            str(config),
            "--db",
            f"sqlite:///{db}",
            "--port",
            "0",
            "--keep-days",
            "36500",
            "--keep-failed-days",
            "36500",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("jobhub serve: listening on "):
        process.kill()
        raise SystemExit(f"serve did not start: {line!r}")
    return process, line.split(" on ", 1)[1].strip()


def stop_serve(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    if process.stdout is not None:
        process.stdout.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_gets(client: httpx.Client, path: str, params: dict[str, Any], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        answer = client.get(path, params=params)
        times.append(time.perf_counter() - began)
        answer.raise_for_status()
    return times


def queries(config: Path, db: Path, jobs: int, rounds: int) -> dict[str, float]:
    process, url = start_serve(config, db)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            failed: dict[str, str | int] = {"state": "failed", "limit": 100}
            timed_gets(client, "/api/v1/jobs", failed, 5)  # warm the page cache
            failed_times = timed_gets(client, "/api/v1/jobs", failed, rounds)
            middle = job(jobs // 2)
            assert middle.created_at is not None
            cursor = encode_cursor("-created", middle.created_at.timestamp(), middle.ref)
            deep: dict[str, str | int] = {"limit": 100, "cursor": cursor}
            deep_times = timed_gets(client, "/api/v1/jobs", deep, rounds)
            assert len(client.get("/api/v1/jobs", params=deep).json()["jobs"]) == 100
        return {
            "failed p50": percentile(failed_times, 0.5),
            "failed p99": percentile(failed_times, 0.99),
            "deep p50": percentile(deep_times, 0.5),
            "deep p99": percentile(deep_times, 0.99),
            "rss": rss_mib(process.pid),
        }
    finally:
        stop_serve(process)


AT = re.compile(rb'"at":"([^"]+)"')


async def listen(url: str, lags: list[float], opened: asyncio.Event, count: list[int]) -> None:
    """One stream client on a bare socket: it only finds each event's `at` in the bytes, so
    500 of them in one process measure the server rather than the client."""
    address = httpx.URL(url)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: {address.host}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    count[0] += 1
    if count[0] == count[1]:
        opened.set()
    buffer = b""
    try:
        while chunk := await reader.read(65536):
            now = datetime.now(UTC)
            buffer += chunk
            end = 0
            for match in AT.finditer(buffer):
                lags.append((now - datetime.fromisoformat(match[1].decode())).total_seconds())
                end = match.end()
            buffer = buffer[end:][-4096:]
    finally:
        writer.close()


async def stream_lag(clients: int, stream_jobs: int, work: Path) -> dict[str, float]:
    with Emulator(["prunner"], seed=1, speed=20, await_hold=0.2) as emu:
        config = work / "emu.toml"
        settings = emu.hub_config()
        # Each refresh reads every job of the server: poll often enough to see changes soon,
        # not so often that reading the listing is most of what serve does.
        settings["prunner"]["poll_interval"] = 0.25
        settings["prunner"]["poll_max"] = 0.5
        config.write_text(config_toml(settings))
        config.chmod(0o600)
        process, url = start_serve(config, work / "stream.db")
        lags: list[float] = []
        try:
            opened = asyncio.Event()
            count = [0, clients]
            listeners = [
                asyncio.ensure_future(listen(url, lags, opened, count)) for _ in range(clients)
            ]
            await asyncio.wait_for(opened.wait(), 120)
            await asyncio.sleep(1.0)  # every stream is open on the server's side too
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                submitted = await asyncio.gather(
                    *(
                        asyncio.to_thread(emu.submit, "prunner", duration=5)
                        for _ in range(stream_jobs)
                    )
                )
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    jobs = (await client.get("/api/v1/jobs", params={"limit": 1000})).json()["jobs"]
                    if len(jobs) >= len(submitted) and all(
                        JobState(j["state"]).terminal for j in jobs
                    ):
                        break
                    await asyncio.sleep(0.5)
                total = (await client.get("/api/v1/jobs", params={"limit": 1})).json()["last_seq"]
            expected = total * clients
            deadline = time.monotonic() + 120
            while len(lags) < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
            serve_cpu = cpu_seconds(process.pid)
        finally:
            stop_serve(process)
    return {
        "serve cpu": serve_cpu,
        "client cpu": time.process_time(),
        "events": float(total),
        "deliveries": float(len(lags)),
        "expected": float(expected),
        "lag p50": percentile(lags, 0.5) if lags else float("nan"),
        "lag p99": percentile(lags, 0.99) if lags else float("nan"),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks serve")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--events-per-job", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--stream-jobs", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--parts", default="store,stream", help="store (ingest, queries, RSS), stream, or both"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.rounds, args.clients, args.stream_jobs = 10_000, 100, 50, 40
    parts = set(args.parts.split(","))
    ms = 1000
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="jobhub-bench-serve-") as temp:
        work = Path(temp)
        if "store" in parts:
            db = work / "serve.db"
            spent, written = asyncio.run(fill(db, args.jobs, args.events_per_job))
            size = sum(p.stat().st_size for p in work.glob("serve.db*")) / 2**20
            empty = work / "none.toml"
            empty.write_text("")
            query = queries(empty, db, args.jobs, args.rounds)
            failed, deep = query["failed p50"], query["failed p99"]
            rows += [
                ("store", f"{args.jobs:,} jobs, {written:,} events, {size:,.0f} MiB on disk", ""),
                (
                    "ingest (Store.record, 500 events a commit)",
                    f"{written / spent:,.0f} events/s",
                    ">= 2,000",
                ),
                (
                    "GET /api/v1/jobs?state=failed&limit=100",
                    f"p50 {failed * ms:.1f} ms, p99 {deep * ms:.1f} ms",
                    "p99 <= 50 ms",
                ),
                (
                    "cursor page halfway down (limit=100)",
                    f"p50 {query['deep p50'] * ms:.1f} ms, p99 {query['deep p99'] * ms:.1f} ms",
                    "p99 <= 50 ms",
                ),
                ("serve RSS after the queries", f"{query['rss']:.0f} MiB", "<= 300 MiB"),
            ]
        if "stream" in parts:
            lag = asyncio.run(stream_lag(args.clients, args.stream_jobs, work))
            rows.append(
                (
                    f"stream lag, {args.clients} clients, {lag['events']:,.0f} events",
                    f"p50 {lag['lag p50'] * ms:.0f} ms, p99 {lag['lag p99'] * ms:.0f} ms"
                    f" ({lag['deliveries']:,.0f} of {lag['expected']:,.0f} deliveries;"
                    f" CPU s: serve {lag['serve cpu']:.1f}, clients {lag['client cpu']:.1f})",
                    "p99 <= 500 ms",
                )
            )
    width = max(len(name) for name, _, _ in rows)
    print(f"\nserve on {os.cpu_count()} CPUs (wall time)")
    for name, figure, target in rows:
        print(f"  {name:<{width}}  {figure:<52} {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
