"""Nodes and roles as the API shows them: a watcher and an API node over one PostgreSQL (the
API node follows nothing yet serves every job and names the watcher as each backend's node),
the lease metrics, and a single node on SQLite, which holds every backend itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobhub.emulator import Emulator
from jobhub.serve import Options
from tests.serve_helpers import Live, eventually, live_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(["sieve", "prunner"], seed=5, speed=0, await_hold=0.2) as emulator:
        yield emulator


def holders(live: Live) -> dict[str, str | None]:
    with live.client() as client:
        return {b["name"]: b["node"] for b in client.get("/api/v1/backends").json()["backends"]}


def metric(live: Live, name: str) -> float:
    with live.client() as client:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_an_api_node_follows_nothing_and_serves_what_the_watcher_records(
    emu: Emulator, postgres_url: str
) -> None:
    watcher = Options(node="w1", role="watcher", lease_ttl=2)
    api = Options(node="a1", role="api", lease_ttl=2)
    with (
        live_server(emu.hub_config(), postgres_url, watcher) as w,
        live_server(emu.hub_config(), postgres_url, api) as a,
    ):
        assert eventually(lambda: holders(a) == {"sieve": "w1", "prunner": "w1"})
        assert holders(w) == holders(a)
        job_id = emu.submit("prunner", duration=5, outcome="failed")
        emu.clock.advance(30)

        def on_the_api_node() -> str | None:
            answer = httpx.get(f"{a.url}/api/v1/jobs/prunner:{job_id}", timeout=30)
            return answer.json()["state"] if answer.status_code == 200 else None

        assert eventually(lambda: on_the_api_node() == "failed")
        assert metric(w, "jobhub_leases_held") == 2
        assert metric(a, "jobhub_leases_held") == 0
        assert metric(w, "jobhub_lease_takeovers_total") == 0
        with a.client() as client:
            following = {
                b["name"]: b["following"] for b in client.get("/api/v1/backends").json()["backends"]
            }
        assert following == {"sieve": False, "prunner": False}


def test_a_single_node_on_sqlite_holds_every_backend_itself(emu: Emulator, tmp_path: Path) -> None:
    with live_server(
        emu.hub_config(), f"sqlite:///{tmp_path}/serve.db", Options(node="solo")
    ) as live:
        assert holders(live) == {"sieve": "solo", "prunner": "solo"}
        assert metric(live, "jobhub_leases_held") == 2
