"""The requests the prunner adapter builds and how it reads answers, without a network."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from jobhub_prunner.adapter import PrunnerAdapter

from jobhub.backend import Capability, Wanted
from jobhub.errors import (
    BackendUnavailable,
    InvalidPayload,
    InvalidRef,
    JobAlreadyFinished,
)
from jobhub.http import interpret
from jobhub.model import JobState

TRICKY_IDS = [
    "a/b",
    "../../etc/passwd",
    "..",
    "x?id=other",
    "x#fragment",
    "100%",
    "%2F%2e%2e",
    "a&id=b",
    "a=b",
    "with space",
    "plus+sign",
    "ünïcødé-ジョブ",
    "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8/../cancel",
]


def make_adapter(url: str = "http://build:9009") -> PrunnerAdapter:
    return PrunnerAdapter("ci", PrunnerAdapter.settings_from("ci", {"url": url}, env={}))


@pytest.fixture
def adapter() -> PrunnerAdapter:
    return make_adapter()


def sent_id(request: httpx.Request) -> list[str]:
    """The `id` values a server reads from the request as it goes over the wire."""
    wire = httpx.URL(str(request.url))
    return parse_qs(wire.query.decode("ascii"), keep_blank_values=True).get("id", [])


def answer(status: int, body: Any = None, *, text: str | None = None, **headers: str) -> Any:
    content = text.encode() if text is not None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


def job(pipeline: str, *, job_id: str, **flags: Any) -> dict[str, Any]:
    return {"id": job_id, "pipeline": pipeline, "created": "2025-08-15T12:00:00Z", **flags}


LISTING = {
    "pipelines": [{"pipeline": "docs"}, {"pipeline": "release"}],
    "jobs": [
        job("release", job_id="r3"),
        job("docs", job_id="d1", start="2025-08-15T12:00:01Z"),
        job("release", job_id="r2", start="2025-08-15T11:00:01Z"),
        job("release", job_id="r1", start="2025-08-15T10:00:01Z", completed=True),
    ],
}


# -- requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", TRICKY_IDS)
def test_get_sends_the_id_in_the_query_exactly(adapter, job_id) -> None:
    request = adapter.get_job(job_id).request
    assert (request.method, request.url.path) == ("GET", "/job/detail")
    assert sent_id(request) == [job_id]


@pytest.mark.parametrize("job_id", TRICKY_IDS)
def test_get_request_stays_on_the_configured_server(adapter, job_id) -> None:
    url = httpx.URL(str(adapter.get_job(job_id).request.url))
    assert (url.scheme, url.host, url.port, url.path, url.fragment) == (
        "http",
        "build",
        9009,
        "/job/detail",
        "",
    )


@pytest.mark.parametrize("job_id", TRICKY_IDS)
def test_cancel_sends_the_id_in_the_query_exactly(adapter, job_id) -> None:
    request = adapter.cancel_job(job_id).request
    assert (request.method, request.url.path) == ("POST", "/job/cancel")
    assert sent_id(request) == [job_id]


def test_requests_keep_a_path_prefix_of_the_url() -> None:
    adapter = make_adapter("http://build:9009/prunner/")
    assert adapter.get_job("x").request.url.path == "/prunner/job/detail"
    assert adapter.list_jobs().request.url.path == "/prunner/pipelines/jobs"


def test_list_reads_all_jobs_of_the_server(adapter) -> None:
    request = adapter.list_jobs(workflow="release", state=JobState.RUNNING, limit=5).request
    assert (request.method, str(request.url)) == ("GET", "http://build:9009/pipelines/jobs")


def test_refresh_reads_the_same_endpoint_as_list(adapter) -> None:
    assert str(adapter.refresh_jobs().request.url) == "http://build:9009/pipelines/jobs"


def test_requests_ask_for_json(adapter) -> None:
    assert adapter.get_job("x").request.headers["Accept"] == "application/json"


def test_capabilities_are_cancel_and_batch_refresh(adapter) -> None:
    assert adapter.capabilities == {Capability.CANCEL, Capability.BATCH_REFRESH}


def test_prunner_has_no_long_poll(adapter) -> None:
    from jobhub.errors import NotSupported

    with pytest.raises(NotSupported):
        adapter.await_job("x")


# -- listing ------------------------------------------------------------------------------------


def listed(adapter: PrunnerAdapter, body: Any = LISTING, **filters: Any) -> list[str]:
    call = adapter.list_jobs(**filters)
    page = interpret(adapter, call, answer(200, body))
    assert page.next is None  # prunner has no paging
    return [job.id for job in page.jobs]


def test_list_keeps_the_server_order(adapter) -> None:
    assert listed(adapter) == ["r3", "d1", "r2", "r1"]


def test_list_filters_by_pipeline(adapter) -> None:
    assert listed(adapter, workflow="release") == ["r3", "r2", "r1"]


def test_list_filters_by_state(adapter) -> None:
    assert listed(adapter, state=JobState.RUNNING) == ["d1", "r2"]


def test_list_stops_at_the_limit(adapter) -> None:
    assert listed(adapter, workflow="release", limit=2) == ["r3", "r2"]


def test_list_of_an_unknown_pipeline_is_empty(adapter) -> None:
    assert listed(adapter, workflow="nope") == []


@pytest.mark.parametrize("jobs", [None, []], ids=["null", "empty"])
def test_list_without_jobs_is_empty(adapter, jobs) -> None:
    assert listed(adapter, {"pipelines": [], "jobs": jobs}) == []


def test_list_skips_other_pipelines_without_reading_them(adapter) -> None:
    body = {"jobs": [{"pipeline": "docs", "id": 7}, job("release", job_id="r1")]}
    assert listed(adapter, body, workflow="release") == ["r1"]


@pytest.mark.parametrize(
    "body",
    [[], "jobs", {"jobs": {"r1": {}}}, {"jobs": [job("release", job_id="")]}],
    ids=["a list", "a string", "jobs not a list", "a job without id"],
)
def test_unreadable_listing_is_invalid_payload(adapter, body) -> None:
    with pytest.raises(InvalidPayload):
        listed(adapter, body)


def test_refresh_returns_every_job(adapter) -> None:
    jobs = interpret(adapter, adapter.refresh_jobs(), answer(200, LISTING))
    assert [job.id for job in jobs] == ["r3", "d1", "r2", "r1"]


def test_listing_that_is_not_json_is_invalid_payload(adapter) -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        interpret(adapter, adapter.list_jobs(), answer(200, text="<html>login</html>"))


# -- cancel and errors --------------------------------------------------------------------------


def test_cancel_accepts_true(adapter) -> None:
    assert interpret(adapter, adapter.cancel_job("x"), answer(200, True)) is None


def test_cancel_answer_that_is_not_json_is_invalid_payload(adapter) -> None:
    with pytest.raises(InvalidPayload):
        interpret(adapter, adapter.cancel_job("x"), answer(200, text="<html>ok</html>"))


def test_cancel_refused_with_500_is_job_already_finished(adapter) -> None:
    refused = answer(500, {"error": "Error canceling job"})
    with pytest.raises(JobAlreadyFinished, match="job has already finished") as caught:
        interpret(adapter, adapter.cancel_job("x"), refused)
    assert (caught.value.backend, caught.value.status_code) == ("ci", 500)


def test_other_500_on_cancel_is_backend_unavailable(adapter) -> None:
    with pytest.raises(BackendUnavailable):
        interpret(adapter, adapter.cancel_job("x"), answer(500, text="<html>oops</html>"))


def test_500_on_get_is_backend_unavailable(adapter) -> None:
    with pytest.raises(BackendUnavailable):
        interpret(adapter, adapter.get_job("x"), answer(500, {"error": "Error reading job"}))


@pytest.mark.parametrize("build", ["get_job", "cancel_job"])
def test_invalid_job_id_is_invalid_ref(adapter, build) -> None:
    call = getattr(adapter, build)("build-42")
    with pytest.raises(InvalidRef, match="Invalid job id") as caught:
        interpret(adapter, call, answer(400, {"error": "Invalid job id"}))
    assert (caught.value.backend, caught.value.status_code) == ("ci", 400)
    assert "'build-42'" in str(caught.value) and "UUID" in str(caught.value)


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        (answer(401, text="token is expired\n"), "token is expired"),
        (answer(404, {"error": "Job not found"}), "Job not found"),
        (answer(400, {"error": "Invalid job id"}), "Invalid job id"),
        (answer(502, text="<html><body>Bad Gateway</body></html>"), None),
        (answer(500, text=""), None),
    ],
    ids=["plain text", "json error", "json 400", "html page", "empty"],
)
def test_error_detail_reads_prunner_bodies(adapter, response, detail) -> None:
    assert adapter.error_detail(response) == detail


def test_a_refresh_reads_only_the_jobs_wanted(adapter) -> None:
    unreadable = {"id": "x1", "pipeline": "release", "tasks": "not a list"}
    body = {**LISTING, "jobs": [*LISTING["jobs"], unreadable]}
    with pytest.raises(InvalidPayload):
        interpret(adapter, adapter.refresh_jobs(), answer(200, body))
    jobs = interpret(
        adapter, adapter.refresh_jobs(wanted={"r1", "d1"}.__contains__), answer(200, body)
    )
    assert [job.id for job in jobs] == ["d1", "r1"]  # in the answer's order; x1 never read


def test_a_refresh_keeps_the_view_of_a_job_that_did_not_move(adapter) -> None:
    first = interpret(adapter, adapter.refresh_jobs(), answer(200, LISTING))
    views = {job.id: job for job in first}
    moved = copy.deepcopy(LISTING)
    moved["jobs"][0]["start"] = "2025-08-15T12:00:05Z"  # it started since
    jobs = interpret(adapter, adapter.refresh_jobs(wanted=Wanted(views)), answer(200, moved))
    changed, *kept = jobs
    assert all(job is views[job.id] for job in kept)  # read once, the same views
    assert changed is not views[changed.id]
    assert changed == adapter.normalize(moved["jobs"][0])
    assert (views[changed.id].state, changed.state) == (JobState.QUEUED, JobState.RUNNING)
    # Equal payloads only: the same ids with payloads that differ in a value are read again.
    relabelled = copy.deepcopy(LISTING)
    for item in relabelled["jobs"]:
        item["user"] = "someone else"
    again = interpret(adapter, adapter.refresh_jobs(wanted=Wanted(views)), answer(200, relabelled))
    assert [job.user for job in again] == ["someone else"] * len(views)
