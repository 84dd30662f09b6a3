"""The Sieve emulator's behaviour over time, seen with plain httpx: jobs queue, process while
outputs appear, and end finished, error or cancelled; listings page; the key is checked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from jobhub.emulator import Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["sieve"], seed=5, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Iterator[httpx.Client]:
    key = emu.backends["sieve"].credentials["api_key"]
    with httpx.Client(base_url=emu.urls["sieve"], headers={"X-API-Key": key}) as client:
        yield client


def job(api: httpx.Client, job_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v2/jobs/{job_id}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_new_job_is_queued_without_start_or_outputs(emu: Emulator, api: httpx.Client) -> None:
    body = job(api, emu.submit("sieve", duration=10))
    assert (body["status"], body["started_at"], body["completed_at"], body["outputs"]) == (
        "queued",
        None,
        None,
        [],
    )


def test_job_processes_after_its_queue_time(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=10)
    emu.clock.advance(5)
    body = job(api, job_id)
    assert body["status"] == "processing" and body["started_at"] and body["error"] == ""


def test_job_steered_to_succeed_finishes_after_its_duration(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = emu.submit("sieve", duration=7, outcome="succeeded")
    emu.clock.advance(20)
    body = job(api, job_id)
    assert body["status"] == "finished" and body["error"] == ""
    assert seconds(body["started_at"], body["completed_at"]) == pytest.approx(7, abs=1e-5)


def test_job_steered_to_fail_ends_error_with_a_readable_message(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = emu.submit("sieve", duration=6, outcome="failed")
    emu.clock.advance(20)
    body = job(api, job_id)
    assert body["status"] == "error" and body["completed_at"]
    assert "Error" in body["error"] and ": " in body["error"]
    assert emu.backends["sieve"].final_state(job_id) == "failed"


def test_outputs_appear_one_by_one_while_processing(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=9, outcome="succeeded", workflow="sieve/whisper")
    counts = []
    for _ in range(6):
        emu.clock.advance(2.5)
        counts.append(len(job(api, job_id)["outputs"]))
    assert counts == sorted(counts) and counts[0] < counts[-1] == 3
    assert len(set(counts)) >= 3


def test_failing_job_keeps_the_outputs_it_made_but_not_its_last(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = emu.submit("sieve", duration=9, outcome="failed", workflow="sieve/whisper")
    emu.clock.advance(30)
    assert len(job(api, job_id)["outputs"]) == 2


def test_offset_skips_the_first_outputs(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=3, outcome="succeeded", workflow="sieve/whisper")
    emu.clock.advance(10)
    everything = job(api, job_id)["outputs"]
    assert job(api, job_id, offset=2)["outputs"] == everything[2:]


def test_inputs_are_shown_as_sieve_input_objects(emu: Emulator, api: httpx.Client) -> None:
    response = api.post(
        "/v2/push", json={"function": "sieve/yolov8", "inputs": {"threshold": 0.4, "duration": 2}}
    )
    inputs = job(api, response.json()["id"])["inputs"]
    assert inputs["threshold"] == {
        "type": "float",
        "name": "threshold",
        "data": 0.4,
        "description": None,
    }


def test_cancelling_a_processing_job_ends_it_cancelled_now(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = emu.submit("sieve", duration=30, outcome="succeeded")
    emu.clock.advance(5)
    assert api.delete(f"/v2/jobs/{job_id}").status_code == 200
    body = job(api, job_id)
    assert body["status"] == "cancelled" and body["completed_at"] and body["started_at"]
    assert emu.backends["sieve"].final_state(job_id) == "cancelled"


def test_cancelling_a_queued_job_leaves_it_never_started(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=30)
    api.delete(f"/v2/jobs/{job_id}")
    emu.clock.advance(60)
    body = job(api, job_id)
    assert (body["status"], body["started_at"]) == ("cancelled", None)


def test_cancelling_an_ended_job_changes_nothing(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=2, outcome="failed")
    emu.clock.advance(10)
    assert api.delete(f"/v2/jobs/{job_id}").status_code == 400
    assert job(api, job_id)["status"] == "error"


def test_await_answers_as_soon_as_the_clock_reaches_the_jobs_end(
    emu: Emulator, api: httpx.Client
) -> None:
    backend = emu.backends["sieve"]
    job_id = emu.submit("sieve", duration=10, outcome="succeeded")
    answers: list[tuple[int, float]] = []

    def wait() -> None:
        started = time.monotonic()
        response = api.get(f"/v2/jobs/{job_id}/await")
        answers.append((response.status_code, time.monotonic() - started))

    backend.await_hold = 10.0
    try:
        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.2)
        emu.clock.advance(30)
        waiter.join(5)
    finally:
        backend.await_hold = 0.2
    assert answers and answers[0][0] == 200 and answers[0][1] < 2


def test_await_times_out_with_408_while_the_job_runs(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=100)
    started = time.monotonic()
    assert api.get(f"/v2/jobs/{job_id}/await").status_code == 408
    assert 0.15 < time.monotonic() - started < 2


def test_paging_lists_every_job_exactly_once(emu: Emulator, api: httpx.Client) -> None:
    mine = {emu.submit("sieve", duration=5) for _ in range(7)}
    seen: list[str] = []
    offset = 0
    while offset != -1:
        page = api.get("/v2/jobs", params={"limit": 3, "offset": offset}).json()
        seen += [item["id"] for item in page["data"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == len(emu.backends["sieve"].runs)
    assert mine <= set(seen)


def test_listing_is_newest_first(emu: Emulator, api: httpx.Client) -> None:
    first = emu.submit("sieve", duration=5)
    emu.clock.advance(1)
    second = emu.submit("sieve", duration=5)
    ids = [item["id"] for item in api.get("/v2/jobs", params={"limit": 2}).json()["data"]]
    assert ids == [second, first]


def test_status_filter_lists_only_that_status(emu: Emulator, api: httpx.Client) -> None:
    emu.submit("sieve", duration=1, outcome="failed")
    emu.clock.advance(10)
    data = api.get("/v2/jobs", params={"status": "error"}).json()["data"]
    assert data and {item["status"] for item in data} == {"error"}


def test_function_listing_holds_only_that_functions_jobs(emu: Emulator, api: httpx.Client) -> None:
    tts = emu.submit("sieve", duration=1, workflow="sieve/text-to-speech")
    data = api.get("/v2/functions/sieve/text-to-speech/jobs").json()["data"]
    assert tts in {item["id"] for item in data}
    assert {item["function"]["name"] for item in data} == {"text-to-speech"}


def test_logs_tell_the_story_of_an_ended_job(emu: Emulator, api: httpx.Client) -> None:
    job_id = emu.submit("sieve", duration=3, outcome="succeeded", workflow="sieve/yolov8")
    emu.clock.advance(10)
    group = api.get("/v2/logs", params={"job_id": job_id}).json()["data"][0]
    assert [line["message"] for line in group["logs"]] == [
        "Running sieve/yolov8",
        "Produced output 0",
        "Produced output 1",
        "Job finished",
    ]


def test_some_jobs_are_preempted_and_carry_on(emu: Emulator, api: httpx.Client) -> None:
    ids = [emu.submit("sieve", duration=6, outcome="succeeded") for _ in range(40)]
    emu.clock.advance(20)
    restarted = [body for body in (job(api, i) for i in ids) if body["restarts"]]
    assert restarted and all(b["status"] == "finished" for b in restarted)
    restart = restarted[0]["restarts"][0]
    assert restart["type"] == "preemption"
    assert restarted[0]["started_at"] < restart["timestamp"] < restarted[0]["completed_at"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
def test_requests_without_the_right_key_are_refused(emu: Emulator, headers: dict[str, str]) -> None:
    response = httpx.get(emu.urls["sieve"] + "/v2/jobs", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized - valid API Key required."}


def test_same_seed_gives_the_same_jobs() -> None:
    runs = []
    for _ in range(2):
        with Emulator(["sieve"], seed=21, speed=0) as emulator:
            ids = [emulator.submit("sieve") for _ in range(6)]
            backend = emulator.backends["sieve"]
            runs.append([(i, backend.final_state(i), backend.runs[i].duration) for i in ids])
    assert runs[0] == runs[1]
