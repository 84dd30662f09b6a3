"""The event stream, /metrics and the probes of a live `jobhub serve` over the emulator: a
client that drops and resumes (Last-Event-ID or ?since=) loses no event and gets none twice;
idle streams get keep-alive comments; metrics carry bounded labels only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobhub.emulator import Emulator
from jobhub.serve import Options
from tests.serve_helpers import Live, eventually, live_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass
class Sse:
    id: int
    event: str
    data: dict[str, Any]


def read_events(
    client: httpx.Client,
    count: int,
    *,
    comments: list[str] | None = None,
    until: Callable[[Sse], bool] | None = None,
    **params: Any,
) -> tuple[list[Sse], httpx.Headers]:
    """The first `count` events of the stream opened with `params` (headers via `headers=`),
    or with `until`, the events up to the first it accepts."""
    headers = params.pop("headers", {})
    found: list[Sse] = []
    fields: dict[str, str] = {}
    with client.stream("GET", "/api/v1/events", params=params, headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if line.startswith(":"):
                if comments is not None:
                    comments.append(line)
                    if count == 0:
                        break
                continue
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if fields.get("event") == "backends":  # health news: not in the log, no id
                fields = {}
                continue
            if fields:
                found.append(Sse(int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
                if until(found[-1]) if until is not None else len(found) >= count:
                    break
        return found, answer.headers


@pytest.fixture(scope="module")
def emu(module_store_url: str) -> Iterator[Emulator]:
    """One emulator per store under test, so each server sees only its own jobs."""
    with Emulator(["sieve", "prunner"], seed=11, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def live(emu: Emulator, module_store_url: str) -> Iterator[Live]:
    """The server under test, once over SQLite and once over PostgreSQL."""
    db = module_store_url
    with live_server(emu.hub_config(), db, Options(keep_alive=0.2)) as server:
        yield server


def all_ended(live: Live, refs: Iterable[str] = ()) -> bool:
    """Every job the store holds has ended, `refs` among them."""
    with live.client() as client:
        jobs = client.get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]
    states = {job["ref"]: job["state"] for job in jobs}
    ended = all(state in ("succeeded", "failed") for state in states.values())
    return bool(states) and ended and set(refs) <= states.keys()


def every_seq(live: Live) -> list[int]:
    with live.client() as client:
        seqs = []
        for job in client.get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]:
            events = client.get(f"/api/v1/jobs/{job['ref']}/events").json()["events"]
            seqs.extend(event["seq"] for event in events)
        return sorted(seqs)


def test_a_dropped_stream_resumes_with_no_event_lost_or_repeated(emu: Emulator, live: Live) -> None:
    for backend in ("sieve", "prunner"):
        for _ in range(3):
            emu.submit(backend, duration=8)
    eventually(lambda: len(every_seq(live)) >= 6)
    with live.client() as client:
        first, headers = read_events(client, 4, since=0)
        assert headers["x-accel-buffering"] == "no"
        assert headers["content-type"].startswith("text/event-stream")
        emu.clock.advance(60)  # every job runs and ends while the client is away
        eventually(lambda: all_ended(live))
        total = len(every_seq(live))
        rest, _ = read_events(
            client, total - len(first), headers={"Last-Event-ID": str(first[-1].id)}
        )
    ids = [event.id for event in first + rest]
    assert ids == every_seq(live)  # each once, in order, none missing
    assert all(event.event == "job" for event in first + rest)
    sample = rest[-1].data
    assert set(sample) == {"ref", "kind", "old", "new", "task", "at", "job"}
    assert sample["job"]["ref"] == sample["ref"] and "raw" not in sample["job"]


def test_since_resumes_too_and_filters_narrow_the_stream(emu: Emulator, live: Live) -> None:
    # Enough jobs of its own (each one event at least) for a stream resumed past the third-last
    # event and for three Sieve events, whichever tests ran on this server before.
    backends = ("sieve", "prunner", "sieve", "sieve")
    refs = {f"{backend}:{emu.submit(backend, duration=5)}" for backend in backends}
    emu.clock.advance(30)
    eventually(lambda: all_ended(live, refs))
    everything = every_seq(live)
    with live.client() as client:
        later, _ = read_events(client, 2, since=everything[-3])
        assert [event.id for event in later] == everything[-2:]
        sieve_only, _ = read_events(client, 3, since=0, backend="sieve")
    assert {event.data["job"]["backend"] for event in sieve_only} == {"sieve"}


def test_live_events_arrive_as_they_are_recorded(emu: Emulator, live: Live) -> None:
    job_id = None
    with live.client() as client, client.stream("GET", "/api/v1/events") as answer:
        for line in answer.iter_lines():  # from now on: no since
            if line.startswith(":") and job_id is None:  # the stream is open: submit
                job_id = emu.submit("prunner", duration=5)
            if line.startswith("data:") and job_id is not None:
                data = json.loads(line.removeprefix("data:"))
                if data["ref"] == f"prunner:{job_id}":
                    break
    assert data["kind"] == "state" and data["old"] is None  # its first sight comes first


def test_an_idle_stream_gets_keep_alive_comments(live: Live) -> None:
    comments: list[str] = []
    with live.client() as client:
        read_events(client, 0, comments=comments, backend="nothing-matches")
    assert comments and comments[0].startswith(":")


def test_metrics_have_bounded_labels_only(emu: Emulator, live: Live) -> None:
    emu.submit("sieve", duration=5, outcome="failed")
    emu.clock.advance(30)
    with live.client() as client:

        def recorded_the_failure() -> str | None:
            text = client.get("/metrics").text
            none_yet = 'jobhub_jobs{backend="sieve",state="failed"} 0.0' in text
            return None if none_yet or "jobhub_job_transitions_total" not in text else text

        text = eventually(recorded_the_failure)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name in (
        "jobhub_jobs",
        "jobhub_job_transitions",
        "jobhub_job_duration_seconds",
        "jobhub_backend_up",
        "jobhub_backend_requests",
        "jobhub_backend_poll_seconds",
        "jobhub_event_lag_seconds",
        "jobhub_stream_clients",
    ):
        assert name in families, name
    allowed = {"backend", "state", "outcome", "le"}
    for family in families.values():
        for sample in family.samples:
            assert set(sample.labels) <= allowed, sample
            assert sample.labels.get("backend", "sieve") in {"sieve", "prunner"}
    up = {s.labels["backend"]: s.value for s in families["jobhub_backend_up"].samples}
    assert up == {"sieve": 1.0, "prunner": 1.0}
    failed = [
        s.value
        for s in families["jobhub_jobs"].samples
        if s.labels == {"backend": "sieve", "state": "failed"}
    ]
    assert failed and failed[0] >= 1


def test_health_and_readiness_probes(live: Live) -> None:
    with live.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
