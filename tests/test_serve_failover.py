"""Three `jobhub serve` nodes over one PostgreSQL and twelve emulated backends: every backend is
followed by exactly one node; kill -9 one node and the others take its backends over within
2 × lease_ttl; a stream on a surviving node delivers every job's events exactly once, in order,
across the failover; every job ends in its true state in the store."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from jobhub.emulator import Emulator, config_toml
from tests.serve_helpers import JOBHUB, eventually

pytestmark = pytest.mark.timeout(240)

TTL = 5.0
TYPES = ["sieve", "pixxel", "prunner"]
EMULATORS = 4  # × 3 types: 12 backends, each its own server, jobs and credentials
JOBS_PER_BACKEND = 2


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(Emulator(TYPES, seed=20 + n, speed=0, await_hold=0.2))
            for n in range(EMULATORS)
        ]


def backends_of(emulators: list[Emulator]) -> dict[str, tuple[Emulator, str]]:
    """backend name → (its emulator, its type)."""
    return {f"{kind}{n}": (emu, kind) for n, emu in enumerate(emulators) for kind in TYPES}


class Node:
    def __init__(self, name: str, config: Path, db: str, logs: Path) -> None:
        self.name = name
        self.log = (logs / f"{name}.log").open("w")
        self.process = subprocess.Popen(
            [
                JOBHUB,
                "serve",
                "--config",
                str(config),
                "--db",
                db,
                "--port",
                "0",
                "--node",
                name,
                "--lease-ttl",
                str(TTL),
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url = ""

    def wait_listening(self) -> None:
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert first.startswith("jobhub serve: listening on "), (
            f"{self.name} did not start: {first!r}; see {self.log.name}"
        )
        self.url = first.split(" on ", 1)[1].strip()

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def holders(self) -> dict[str, str | None]:
        return {b["name"]: b["node"] for b in self.get("/api/v1/backends")["backends"]}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


class Stream:
    """An SSE client of one node, from the start of the log, in a thread."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        timeout = httpx.Timeout(30, read=2)
        seq, kind = 0, ""
        while not self._stop.is_set():
            with contextlib.suppress(httpx.ReadTimeout), httpx.Client(timeout=timeout) as client:
                headers = {"Last-Event-ID": str(seq)}  # a dropped read resumes, as a page does
                with client.stream("GET", f"{url}/api/v1/events", headers=headers) as answer:
                    for line in answer.iter_lines():
                        if self._stop.is_set():
                            return
                        if line.startswith("event:"):
                            kind = line[6:].strip()
                        elif line.startswith("id:"):
                            seq = int(line[3:])
                        elif line.startswith("data:") and kind == "job":
                            self.events.append((seq, json.loads(line[5:])))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.slow
def test_a_killed_node_loses_its_backends_and_no_event_is_lost_or_repeated(
    emulators: list[Emulator], postgres_url: str, tmp_path: Path
) -> None:
    backends = backends_of(emulators)
    config: dict[str, dict[str, Any]] = {}
    for name, (emu, kind) in backends.items():
        config[name] = {**emu.hub_config()[kind], "poll_interval": 0.3, "poll_max": 1.0}
    config_file = tmp_path / "jobhub.toml"
    config_file.write_text(config_toml(config))
    config_file.chmod(0o600)

    nodes = [Node(f"node{n}", config_file, postgres_url, tmp_path) for n in range(3)]
    stream: Stream | None = None
    try:
        for node in nodes:
            node.wait_listening()
        survivor, _, victim = nodes

        def balanced() -> dict[str, str | None]:
            holders = survivor.holders()
            counts = [list(holders.values()).count(node.name) for node in nodes]
            return holders if sorted(counts) == [4, 4, 4] else {}

        before = eventually(balanced, timeout=60, every=0.2)
        assert set(before) == set(backends)  # each backend held by exactly one node
        orphaned = {name for name, holder in before.items() if holder == victim.name}

        stream = Stream(survivor.url)
        planned: dict[str, str] = {}
        for name, (emu, kind) in backends.items():
            for n in range(JOBS_PER_BACKEND):
                outcome = "failed" if n % 2 else "succeeded"
                job_id = emu.submit(kind, duration=10 + 10 * n, outcome=outcome)
                planned[f"{name}:{job_id}"] = outcome
        for emu in emulators:
            emu.clock.advance(12)  # the first job of each backend ends, the second runs

        def seen_running_or_ended() -> bool:
            states = {
                job["ref"]: job["state"] for job in survivor.get("/api/v1/jobs", limit=1000)["jobs"]
            }
            return all(states.get(ref) in ("running", "succeeded", "failed") for ref in planned)

        eventually(seen_running_or_ended, timeout=60, every=0.2)

        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed = time.monotonic()
        for emu in emulators:
            emu.clock.advance(30)  # every job ends while the victim's backends have no node

        def taken_over() -> dict[str, str | None]:
            holders = survivor.holders()
            return (
                holders
                if all(holders[name] not in (None, victim.name) for name in orphaned)
                else {}
            )

        after = eventually(taken_over, timeout=30, every=0.1)
        seen_after = time.monotonic() - killed
        assert victim.name not in after.values()
        with psycopg.connect(postgres_url) as db:
            last_beat = db.execute(
                "SELECT extract(epoch FROM heartbeat_at) FROM jobhub_nodes WHERE name = %s",
                (victim.name,),
            ).fetchone()
            acquired = db.execute(
                "SELECT max(extract(epoch FROM acquired_at)) FROM jobhub_leases "
                "WHERE backend = ANY(%s)",
                (sorted(orphaned),),
            ).fetchone()
        assert last_beat is not None and acquired is not None
        gap = float(acquired[0]) - float(last_beat[0])  # both by the database's clock
        print(
            f"\nfailover: ttl {TTL} s, last heartbeat → last takeover {gap:.2f} s, "
            f"kill → seen taken over {seen_after:.2f} s",
            file=sys.stderr,
        )
        assert gap <= 2 * TTL

        def all_ended() -> dict[str, str]:
            jobs = survivor.get("/api/v1/jobs", limit=1000)["jobs"]
            states = {job["ref"]: job["state"] for job in jobs}
            return states if all(states.get(ref) == state for ref, state in planned.items()) else {}

        stored = eventually(all_ended, timeout=60, every=0.2)
        for ref, outcome in planned.items():
            name, job_id = ref.split(":", 1)
            emu, kind = backends[name]
            assert stored[ref] == emu.final_state(kind, job_id) == outcome

        def streamed_every_end() -> bool:
            ended = {
                e["ref"]
                for _, e in stream.events
                if e["kind"] == "state" and e["new"] in ("succeeded", "failed")
            }
            return set(planned) <= ended

        eventually(streamed_every_end, timeout=40, every=0.2)
        ids = [seq for seq, _ in stream.events]
        assert ids == sorted(set(ids)), "an event came twice or out of order"
        for ref in planned:
            history = survivor.get(f"/api/v1/jobs/{ref}/events")["events"]
            streamed = [seq for seq, event in stream.events if event["ref"] == ref]
            assert streamed == [event["seq"] for event in history]
            states = [event for event in history if event["kind"] == "state"]
            # One chain of states, none recorded twice by the two nodes that followed it.
            assert states[0]["old"] is None
            assert all(b["old"] == a["new"] for a, b in itertools.pairwise(states))
            assert states[-1]["new"] == planned[ref]
    finally:
        if stream is not None:
            stream.close()
        for node in nodes:
            node.stop()
        for node in nodes:
            node.wait_stopped()
