"""The JSON API of a live `jobhub serve` over the emulator, on loopback: what it records of
every backend, its filters and sorts, keyset paging, one job and its history, cancelling
behind a write token, the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from jobhub.emulator import Emulator
from jobhub.model import JobState
from jobhub.serve import Options, Tokens
from jobhub.serve.openapi import openapi_document
from jobhub.store import Retention, open_store
from tests.serve_helpers import Live, eventually, live_server
from tests.store_helpers import change, ended, make_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

TYPES = ["sieve", "pixxel", "prunner"]
READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"


@pytest.fixture(scope="module")
def emu(module_store_url: str) -> Iterator[Emulator]:
    """One emulator per store under test, so each server sees only its own jobs."""
    with Emulator(TYPES, seed=7, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def live(emu: Emulator, module_store_url: str) -> Iterator[Live]:
    """The server under test, once over SQLite and once over PostgreSQL."""
    db = module_store_url
    options = Options(tokens=Tokens(write=WRITE))
    with live_server(emu.hub_config(), db, options) as server:
        yield server


def all_jobs(live: Live, **params: object) -> list[dict[str, object]]:
    with live.client() as client:
        answer = client.get("/api/v1/jobs", params={"limit": 1000, **params})  # type: ignore[arg-type]
        assert answer.status_code == 200, answer.text
        jobs: list[dict[str, object]] = answer.json()["jobs"]
        return jobs


@pytest.fixture(scope="module")
def planned(emu: Emulator, live: Live) -> dict[str, str]:
    """Jobs on every backend, run to their end: ref → the state the emulator planned."""
    refs = {}
    for backend in TYPES:
        for n in range(4):
            outcome = "failed" if n % 2 else "succeeded"
            job_id = emu.submit(backend, duration=5 + n, outcome=outcome)
            refs[f"{backend}:{job_id}"] = outcome
    emu.clock.advance(60)

    def recorded() -> bool:
        states = {job["ref"]: job["state"] for job in all_jobs(live)}
        return all(states.get(ref) == outcome for ref, outcome in refs.items())

    eventually(recorded, timeout=60)
    return refs


def test_every_backends_jobs_are_recorded_in_their_true_end_state(
    emu: Emulator, live: Live, planned: dict[str, str]
) -> None:
    jobs = {job["ref"]: job for job in all_jobs(live)}
    for ref, outcome in planned.items():
        backend, job_id = ref.split(":", 1)
        assert jobs[ref]["state"] == emu.final_state(backend, job_id) == outcome
        assert "raw" not in jobs[ref]


def test_filters_by_backend_and_state_are_what_the_emulator_planned(
    live: Live, planned: dict[str, str]
) -> None:
    failed = {job["ref"] for job in all_jobs(live, state="failed")}
    assert failed == {ref for ref, outcome in planned.items() if outcome == "failed"}
    on_two = all_jobs(live, backend=["sieve", "prunner"])
    assert {job["backend"] for job in on_two} == {"sieve", "prunner"}
    ref = next(iter(planned))
    assert [job["ref"] for job in all_jobs(live, q=ref.split(":")[1][:8].upper())] == [ref]


def test_sort_by_duration_orders_the_jobs(live: Live, planned: dict[str, str]) -> None:
    durations = [job["duration"] for job in all_jobs(live, sort="duration")]
    known = [d for d in durations if d is not None]
    assert known == sorted(known)  # type: ignore[type-var]
    descending = [job["duration"] for job in all_jobs(live, sort="-duration")]
    assert descending == durations[::-1]


def test_one_job_carries_its_raw_payload_and_its_history(
    live: Live, planned: dict[str, str]
) -> None:
    ref = next(ref for ref in planned if ref.startswith("prunner:"))
    with live.client() as client:
        job = client.get(f"/api/v1/jobs/{ref}").json()
        assert job["ref"] == ref and job["raw"]["id"] == ref.split(":")[1]
        history = client.get(f"/api/v1/jobs/{ref}/events").json()["events"]
    assert history[0]["kind"] == "state" and history[0]["old"] is None
    assert history[-1] == {**history[-1], "kind": "state", "new": planned[ref]}
    seqs = [event["seq"] for event in history]
    assert seqs == sorted(set(seqs))


def test_a_pixxel_ref_with_a_slash_in_its_id_is_one_job(
    live: Live, planned: dict[str, str]
) -> None:
    ref = next(ref for ref in planned if ref.startswith("pixxel:"))
    assert "/" in ref
    with live.client() as client:
        assert client.get(f"/api/v1/jobs/{ref}").json()["ref"] == ref
        assert client.get(f"/api/v1/jobs/{ref}/events").json()["events"]


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/v1/jobs/ci:nothing-here", 404, "no job"),
        ("/api/v1/jobs/no-prefix", 400, "not of the form"),
        ("/api/v1/jobs?sort=size", 400, "sort 'size'"),
        ("/api/v1/jobs?limit=5000", 400, "limit 5000"),
        ("/api/v1/jobs?since=yesterday", 400, "ISO 8601"),
        ("/api/v1/jobs?cursor=xyz", 400, "next_cursor unchanged"),
        ("/api/v1/jobs?state=done", 400, "state 'done'"),
        ("/api/v1/events?since=-4", 400, "event id"),
    ],
)
def test_a_bad_request_gets_a_clear_error(live: Live, path: str, status: int, says: str) -> None:
    with live.client() as client:
        answer = client.get(path)
    assert answer.status_code == status
    assert says in answer.json()["error"]["message"]


def test_backends_report_their_health_and_jobs_by_state(
    live: Live, planned: dict[str, str]
) -> None:
    with live.client() as client:
        backends = {b["name"]: b for b in client.get("/api/v1/backends").json()["backends"]}
    assert set(backends) == set(TYPES)
    for name, backend in backends.items():
        assert backend["up"] and backend["following"] and backend["last_good_poll"]
        assert backend["consecutive_failures"] == 0
        mine = [ref for ref in planned if ref.startswith(f"{name}:")]
        assert sum(backend["jobs"].values()) >= len(mine)


def test_cancel_needs_the_write_token(emu: Emulator, live: Live) -> None:
    job_id = emu.submit("prunner", duration=600)
    ref = f"prunner:{job_id}"
    eventually(lambda: any(job["ref"] == ref for job in all_jobs(live)), timeout=30)
    for token in (None, READ):  # reading is open here; cancelling is not
        with live.client(token) as reader:
            refused = reader.post(f"/api/v1/jobs/{ref}/cancel")
            assert refused.status_code == 403
            assert "write token" in refused.json()["error"]["message"]
    with live.client(WRITE) as writer:
        answer = writer.post(f"/api/v1/jobs/{ref}/cancel")
        assert answer.status_code == 202, answer.text
        pixxel = writer.post(f"/api/v1/jobs/pixxel:{emu.submit('pixxel', duration=600)}/cancel")
        assert pixxel.status_code == 501
        assert writer.post("/api/v1/jobs/nowhere:1/cancel").status_code == 404
    assert emu.final_state("prunner", job_id) == "cancelled"
    states = lambda: {job["ref"]: job["state"] for job in all_jobs(live)}  # noqa: E731
    eventually(lambda: states().get(ref) == JobState.CANCELLED.value, timeout=30)


def test_without_a_write_token_nobody_cancels(tmp_path: Path, emu: Emulator) -> None:
    with live_server(emu.hub_config(), tmp_path / "serve.db") as server, server.client() as client:
        answer = client.post("/api/v1/jobs/prunner:x/cancel")
    assert answer.status_code == 403
    assert "--write-token" in answer.json()["error"]["message"]


def test_the_openapi_document_is_valid_and_names_every_route(live: Live) -> None:
    with live.client() as client:
        document = client.get("/api/v1/openapi.json").json()
    assert document == openapi_document()
    validate(document)
    assert set(document["paths"]) == {
        "/api/v1/jobs",
        "/api/v1/jobs/{ref}",
        "/api/v1/jobs/{ref}/events",
        "/api/v1/jobs/{ref}/cancel",
        "/api/v1/events",
        "/api/v1/backends",
    }


def test_cursor_pages_across_5000_jobs_give_each_job_once(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"

    async def fill() -> None:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        jobs = [make_job(n, backend=("ci", "gpu")[n % 2]) for n in range(5000)]
        jobs = [
            ended(job, "failed", after=n % 17) if n % 3 == 0 else job for n, job in enumerate(jobs)
        ]
        for start in range(0, 5000, 1000):
            await store.record([change(None, job) for job in jobs[start : start + 1000]])
        await store.close()

    asyncio.run(fill())
    century = timedelta(days=36500)  # these jobs ended long ago: keep them
    options = Options(retention=Retention(keep=century, keep_failed=century))
    with live_server({}, db, options) as server, server.client() as client:
        for sort, params in [("-created", {}), ("duration", {}), ("finished", {"state": "failed"})]:
            seen: list[str] = []
            cursor = None
            while True:
                query = {
                    "sort": sort,
                    "limit": 333,
                    **params,
                    **({"cursor": cursor} if cursor else {}),
                }
                page = client.get("/api/v1/jobs", params=query).json()
                seen.extend(job["ref"] for job in page["jobs"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            expected = 5000 if not params else len(range(0, 5000, 3))
            assert len(seen) == len(set(seen)) == expected, sort
