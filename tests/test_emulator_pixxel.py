"""The Pixxel emulator's behaviour over time, seen with plain httpx: jobs run their tasks through
the workflow's graph and end completed or failed; there is no cancel; the bare key is checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobhub.emulator import Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["pixxel"], seed=9, speed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Iterator[httpx.Client]:
    key = emu.backends["pixxel"].credentials["api_key"]
    with httpx.Client(base_url=emu.urls["pixxel"], headers={"Authorization": key}) as client:
        yield client


def job(api: httpx.Client, ref: str) -> dict[str, Any]:
    workflow_id, job_id = ref.split("/")
    response = api.get(f"/v0/workflows/{workflow_id}/jobs/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def tasks(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in body["tasks"]}


def test_submit_returns_workflow_and_job_ids(emu: Emulator, api: httpx.Client) -> None:
    ref = emu.submit("pixxel", duration=5)
    body = job(api, ref)
    assert ref == f"{body['workflow_id']}/{body['id']}"


def test_submit_picks_a_workflow_by_name(emu: Emulator, api: httpx.Client) -> None:
    body = job(api, emu.submit("pixxel", duration=5, workflow="ship-detection"))
    assert [t["name"] for t in body["tasks"]] == ["fetch-scene", "tile", "detect", "report"]


def test_new_job_is_queued_with_every_task_created(emu: Emulator, api: httpx.Client) -> None:
    body = job(api, emu.submit("pixxel", duration=10))
    assert body["status"] == "queued" and body["exec_created_at"] == ""
    assert {t["status"] for t in body["tasks"]} == {"created"}
    assert body["progress"] == "0" and body["finished_at"] == "" and body["time_taken"] == ""


def test_tasks_start_only_after_their_dependencies_complete(
    emu: Emulator, api: httpx.Client
) -> None:
    ref = emu.submit("pixxel", duration=20, outcome="succeeded", workflow="ndvi-timeseries")
    for _ in range(12):
        emu.clock.advance(2)
        by_name = tasks(job(api, ref))
        for task in by_name.values():
            if task["status"] != "created":
                assert all(by_name[d]["status"] == "completed" for d in task["depends_on"])


def test_progress_is_a_string_percentage_that_grows_to_100(
    emu: Emulator, api: httpx.Client
) -> None:
    ref = emu.submit("pixxel", duration=10, outcome="succeeded")
    seen = []
    for _ in range(7):
        emu.clock.advance(2)
        seen.append(float(job(api, ref)["progress"]))
    assert seen == sorted(seen) and seen[-1] == 100 and 0 < seen[1] < 100


def test_running_task_reports_numeric_progress(emu: Emulator, api: httpx.Client) -> None:
    ref = emu.submit("pixxel", duration=10, outcome="succeeded", workflow="ship-detection")
    emu.clock.advance(5)
    running = [t for t in job(api, ref)["tasks"] if t["status"] == "inprogress"]
    assert running and all(0 <= t["progress"] < 100 for t in running)


def test_job_steered_to_succeed_completes_every_task(emu: Emulator, api: httpx.Client) -> None:
    ref = emu.submit("pixxel", duration=8, outcome="succeeded")
    emu.clock.advance(20)
    body = job(api, ref)
    assert body["status"] == "completed" and body["progress"] == "100"
    assert {t["status"] for t in body["tasks"]} == {"completed"}
    assert body["time_taken"] == "8s" and body["estimated_duration"] == 8


def test_job_steered_to_fail_has_one_failed_task_with_its_error(
    emu: Emulator, api: httpx.Client
) -> None:
    ref = emu.submit("pixxel", duration=8, outcome="failed")
    emu.clock.advance(20)
    body = job(api, ref)
    failed = [t for t in body["tasks"] if t["status"] == "failed"]
    assert body["status"] == "failed" and body["finished_at"] and len(failed) == 1
    assert failed[0]["err_msg"] and failed[0]["finished_at"]
    assert failed[0]["failure_type"] in ("runtime_exception", "bad_request", "unknown")
    assert emu.backends["pixxel"].final_state(ref) == "failed"


def test_a_failed_tasks_dependents_never_start(emu: Emulator, api: httpx.Client) -> None:
    refs = [emu.submit("pixxel", duration=8, outcome="failed") for _ in range(6)]
    emu.clock.advance(20)
    for ref in refs:
        by_name = tasks(job(api, ref))
        failed = next(name for name, t in by_name.items() if t["status"] == "failed")
        for task in by_name.values():
            if failed in task["depends_on"]:
                assert task["status"] == "created" and task["recv_time"] == ""


def test_ended_tasks_carry_go_style_time_taken_and_json_result(
    emu: Emulator, api: httpx.Client
) -> None:
    ref = emu.submit("pixxel", duration=9, outcome="succeeded", workflow="ship-detection")
    emu.clock.advance(20)
    detect = tasks(job(api, ref))["detect"]  # 3 of the workflow's 6 time units
    assert detect["time_taken"] == "4.5s"
    assert json.loads(bytes(detect["result"]))["asset"].endswith("/detect.tif")
    assert json.loads(bytes(detect["info_logs"])) == ["detect: started", "detect: completed"]


def test_there_is_no_cancel_endpoint(emu: Emulator, api: httpx.Client) -> None:
    workflow_id, job_id = emu.submit("pixxel", duration=8).split("/")
    response = api.delete(f"/v0/workflows/{workflow_id}/jobs/{job_id}")
    assert response.status_code == 405
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_job_list_items_carry_no_tasks(emu: Emulator, api: httpx.Client) -> None:
    workflow_id, job_id = emu.submit("pixxel", duration=8).split("/")
    items = api.get(f"/v0/workflows/{workflow_id}/jobs").json()["jobs"]
    mine = next(item for item in items if item["id"] == job_id)
    assert "tasks" not in mine and mine["status"] == "queued"


def test_job_list_filters_by_status(emu: Emulator, api: httpx.Client) -> None:
    workflow_id, _ = emu.submit("pixxel", duration=1, outcome="failed").split("/")
    emu.clock.advance(10)
    items = api.get(f"/v0/workflows/{workflow_id}/jobs", params={"status": "failed"}).json()
    assert items["jobs"] and {item["status"] for item in items["jobs"]} == {"failed"}


@pytest.mark.parametrize(("who", "found"), [("own", True), ("someone-else", False)])
def test_job_list_filters_by_creator(
    emu: Emulator, api: httpx.Client, who: str, found: bool
) -> None:
    backend: Any = emu.backends["pixxel"]
    workflow_id, job_id = emu.submit("pixxel", duration=1).split("/")
    creator = backend.user_id if who == "own" else who
    items = api.get(f"/v0/workflows/{workflow_id}/jobs", params={"created_by": creator}).json()
    assert (job_id in {item["id"] for item in items["jobs"]}) is found


def test_workflow_pages_visit_every_workflow_once(emu: Emulator, api: httpx.Client) -> None:
    seen: list[str] = []
    for offset in range(0, 10, 2):
        seen += [
            w["id"]
            for w in api.get("/v0/workflows", params={"limit": 2, "offset": offset}).json()[
                "workflows"
            ]
        ]
    total = api.get("/v0/workflows").json()["pagination"]["total"]
    assert len(seen) == len(set(seen)) == total == 3


@pytest.mark.parametrize("value", [None, "wrong", "Bearer {key}"])
def test_requests_without_the_bare_key_are_forbidden(emu: Emulator, value: str | None) -> None:
    key = emu.backends["pixxel"].credentials["api_key"]
    headers = {} if value is None else {"Authorization": value.format(key=key)}
    response = httpx.get(emu.urls["pixxel"] + "/v0/workflows", headers=headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"


def test_same_seed_gives_the_same_jobs() -> None:
    outcomes = []
    for _ in range(2):
        with Emulator(["pixxel"], seed=12, speed=0) as emulator:
            refs = [emulator.submit("pixxel") for _ in range(5)]
            outcomes.append([(ref, emulator.backends["pixxel"].final_state(ref)) for ref in refs])
    assert outcomes[0] == outcomes[1]
