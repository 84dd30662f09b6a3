"""`jobhub serve` following the emulator under faults (5xx, 429, dropped and cut answers): every
job ends in the store in its true state, each job's history has no state twice, and the health
of a faulty backend says so. A short run at CI size; `python -m benchmarks soak` is the long one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhub.emulator import Emulator, Faults
from tests.serve_helpers import eventually, live_server

pytestmark = pytest.mark.timeout(120)

TYPES = ["sieve", "pixxel", "prunner"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    faults = {name: Faults(rate=0.2, seed=n, retry_after=0) for n, name in enumerate(TYPES)}
    with Emulator(TYPES, seed=13, speed=20, faults=faults, await_hold=0.2) as emulator:
        yield emulator


def test_every_job_ends_in_its_true_state_under_faults(emu: Emulator, tmp_path: Path) -> None:
    backends = {
        name: {**entry, "poll_interval": 0.05, "poll_max": 0.3, "timeout": 2.0}
        for name, entry in emu.hub_config().items()
    }
    submitted = {
        f"{name}:{emu.submit(name, duration=5 + n % 7)}": name for name in TYPES for n in range(10)
    }
    with live_server(backends, tmp_path / "serve.db") as live, live.client() as client:

        def recorded() -> dict[str, str] | None:
            jobs = client.get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]
            states = {job["ref"]: job["state"] for job in jobs}
            done = all(
                states.get(ref) == emu.final_state(name, ref.split(":", 1)[1])
                for ref, name in submitted.items()
            )
            return states if done else None

        eventually(recorded, timeout=90, every=0.5)
        for ref in submitted:
            history = client.get(f"/api/v1/jobs/{ref}/events").json()["events"]
            states = [event["new"] for event in history if event["kind"] == "state"]
            assert len(states) == len(set(states)), (ref, states)
            assert next(e["old"] for e in history if e["kind"] == "state") is None
        backends_health = client.get("/api/v1/backends").json()["backends"]
    faulted = {b["name"] for b in backends_health if b["last_error"]}
    assert faulted, backends_health  # one in five answers went wrong: some backend noticed
