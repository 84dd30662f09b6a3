"""The Sieve adapter's calls, built and read without a network: paths, escaping, query
parameters, paging, cancel and error bodies, settings and auth."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from jobhub_sieve.adapter import SieveAdapter, SieveSettings

from jobhub import Hub
from jobhub.backend import Call, Capability, Page
from jobhub.errors import (
    BackendUnavailable,
    ConfigError,
    InvalidArgument,
    InvalidPayload,
    InvalidRef,
    JobAlreadyFinished,
)
from jobhub.model import JobState
from tests.conftest import SECRET

JOB_ID = "43d7add5-61cf-44ad-aac8-c5d14c642bb4"


def job(job_id: str = JOB_ID, **changes: Any) -> dict[str, Any]:
    """A small job in the shape of Sieve's Job schema."""
    return {
        "id": job_id,
        "function_id": "f7de8467",
        "organization_id": "org",
        "function": None,
        "status": "finished",
        "created_at": "2024-12-15T01:41:59.195000",
        "started_at": None,
        "completed_at": None,
        "error": "",
        "visibility": "private",
        "run_id": None,
        **changes,
    }


def answer(call: Call[Any], body: Any, status: int = 200) -> httpx.Response:
    """The response a server would give to `call` with `body` as JSON."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, request=call.request)


def query(call: Call[Any]) -> dict[str, str]:
    return dict(call.request.url.params)


@pytest.fixture
def sieve() -> SieveAdapter:
    return SieveAdapter("sieve", SieveAdapter.settings_from("sieve", {"api_key": SECRET}, {}))


# -- settings, auth, capabilities ----------------------------------------------------------------


def test_the_default_url_is_sieves_public_api() -> None:
    settings = SieveAdapter.settings_from("sieve", {}, {})
    assert settings.url == "https://mango.sievedata.com"


def test_the_api_key_defaults_to_sieve_api_key_from_the_environment() -> None:
    settings = SieveAdapter.settings_from("sieve", {}, {"SIEVE_API_KEY": SECRET})
    assert settings.api_key is not None and settings.api_key.get_secret_value() == SECRET


def test_an_api_key_in_the_settings_wins_over_the_environment() -> None:
    settings = SieveAdapter.settings_from("sieve", {"api_key": "mine"}, {"SIEVE_API_KEY": SECRET})
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "mine"


def test_sieve_supports_cancel_and_long_poll() -> None:
    assert SieveAdapter.capabilities == {Capability.CANCEL, Capability.LONG_POLL}


def test_the_api_key_is_sent_in_the_x_api_key_header() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job())

    with Hub({"sieve": {"api_key": SECRET}}, transport=httpx.MockTransport(server)) as hub:
        hub.get(f"sieve:{JOB_ID}")
    assert seen[0].headers["X-API-Key"] == SECRET


def test_without_an_api_key_nothing_is_sent_and_the_error_names_the_setting() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job())

    hub = Hub({"sieve": {}}, env={}, transport=httpx.MockTransport(server))
    with hub, pytest.raises(ConfigError, match="api_key"):
        hub.get(f"sieve:{JOB_ID}")
    assert seen == []


# -- get and await -------------------------------------------------------------------------------


def test_get_asks_for_the_job_by_id(sieve: SieveAdapter) -> None:
    call = sieve.get_job(JOB_ID)
    assert call.request.method == "GET"
    assert str(call.request.url) == f"https://mango.sievedata.com/v2/jobs/{JOB_ID}"


def test_get_reads_the_answer_into_a_job(sieve: SieveAdapter) -> None:
    call = sieve.get_job(JOB_ID)
    assert call.parse(answer(call, job())).id == JOB_ID


def test_get_with_an_offset_leaves_out_the_first_outputs(sieve: SieveAdapter) -> None:
    assert query(sieve.get_job(JOB_ID, offset=3)) == {"offset": "3"}


@pytest.mark.parametrize("offset", [-1, True, 1.5])
def test_a_bad_output_offset_is_refused(sieve: SieveAdapter, offset: Any) -> None:
    with pytest.raises(InvalidArgument, match="offset"):
        sieve.get_job(JOB_ID, offset=offset)


def test_a_body_that_is_not_json_is_an_invalid_payload(sieve: SieveAdapter) -> None:
    call = sieve.get_job(JOB_ID)
    with pytest.raises(InvalidPayload, match="not JSON"):
        call.parse(answer(call, b"<html>hello</html>"))


def test_await_long_polls_the_await_endpoint(sieve: SieveAdapter) -> None:
    call = sieve.await_job(JOB_ID, offset=2)
    assert call.request.url.path == f"/v2/jobs/{JOB_ID}/await"
    assert query(call) == {"offset": "2"}
    assert call.parse(answer(call, job())).id == JOB_ID


def test_await_is_not_retried_and_may_outlast_sieves_ten_minute_hold(
    sieve: SieveAdapter,
) -> None:
    call = sieve.await_job(JOB_ID)
    assert call.retry is False
    assert call.timeout is not None and call.timeout > 600


def test_the_await_timeout_is_a_setting() -> None:
    adapter = SieveAdapter(
        "sieve", SieveAdapter.settings_from("sieve", {"api_key": SECRET, "await_timeout": 900}, {})
    )
    assert adapter.await_job(JOB_ID).timeout == 900


def test_an_expired_await_hold_is_a_transient_408_that_says_to_await_again(
    sieve: SieveAdapter,
) -> None:
    call = sieve.await_job(JOB_ID)
    assert call.on_error is not None
    error = call.on_error(answer(call, {"detail": "Request timeout."}, 408))
    assert isinstance(error, BackendUnavailable)
    assert error.status_code == 408
    assert "await it again" in str(error)


# -- ids stay inside their path segment ----------------------------------------------------------

HOSTILE_IDS = [
    "a/b",
    "..",
    ".",
    "../../v2/functions",
    "job?status=error",
    "job#fragment",
    "100%",
    "%2e%2e",
    "with space",
    "ünïcødé-作业",
    "a/../../b?c#d",
]


def _job_segment(raw_path: bytes, suffix: bytes = b"") -> bytes:
    assert raw_path.startswith(b"/v2/jobs/")
    rest = raw_path[len(b"/v2/jobs/") :]
    assert rest.endswith(suffix)
    return rest[: len(rest) - len(suffix)]


@pytest.mark.parametrize("job_id", HOSTILE_IDS)
@pytest.mark.parametrize(
    ("build", "suffix"),
    [
        (lambda a, i: a.get_job(i), b""),
        (lambda a, i: a.await_job(i), b"/await"),
        (lambda a, i: a.cancel_job(i), b""),
    ],
    ids=["get", "await", "cancel"],
)
def test_an_id_stays_one_path_segment_under_v2_jobs(
    sieve: SieveAdapter, job_id: str, build: Any, suffix: bytes
) -> None:
    call = build(sieve, job_id)
    segment = _job_segment(call.request.url.raw_path, suffix)
    assert b"/" not in segment and b"?" not in segment and b"#" not in segment
    assert segment not in (b".", b"..")
    assert unquote(segment.decode("ascii")) == job_id
    assert call.request.url.host == "mango.sievedata.com"


@pytest.mark.parametrize("job_id", ["", "   "])
def test_an_empty_id_is_refused(sieve: SieveAdapter, job_id: str) -> None:
    with pytest.raises(InvalidRef):
        sieve.get_job(job_id)


# -- listing -------------------------------------------------------------------------------------


def test_a_listing_asks_for_the_organizations_jobs(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs()
    assert call.request.url.path == "/v2/jobs"
    assert query(call) == {}


def test_a_workflow_lists_that_functions_jobs(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs(workflow="sieve/retalker")
    assert call.request.url.path == "/v2/functions/sieve/retalker/jobs"


@pytest.mark.parametrize(
    ("workflow", "path"),
    [
        ("my org/..", b"/v2/functions/my%20org/%2E%2E/jobs"),
        ("a?x/b#y", b"/v2/functions/a%3Fx/b%23y/jobs"),
        ("%2F/ü", b"/v2/functions/%252F/%C3%BC/jobs"),
    ],
)
def test_the_functions_owner_and_name_are_escaped(
    sieve: SieveAdapter, workflow: str, path: bytes
) -> None:
    assert sieve.list_jobs(workflow=workflow).request.url.raw_path == path


@pytest.mark.parametrize("workflow", ["retalker", "sieve/retalker/v2", "/retalker", "sieve/", ""])
def test_a_workflow_not_of_the_form_owner_slash_function_is_refused(
    sieve: SieveAdapter, workflow: str
) -> None:
    with pytest.raises(InvalidArgument, match="owner/function"):
        sieve.list_jobs(workflow=workflow)


@pytest.mark.parametrize(("limit", "sent"), [(7, "7"), (500, "500"), (2000, "500")])
def test_a_limit_asks_for_pages_of_at_most_500(sieve: SieveAdapter, limit: int, sent: str) -> None:
    assert query(sieve.list_jobs(limit=limit)) == {"limit": sent}


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (JobState.QUEUED, "queued"),
        (JobState.RUNNING, "processing"),
        (JobState.SUCCEEDED, "finished"),
        (JobState.FAILED, "error"),
        (JobState.CANCELLED, "cancelled"),
    ],
)
def test_a_state_with_a_v2_status_word_is_filtered_by_the_server(
    sieve: SieveAdapter, state: JobState, word: str
) -> None:
    assert query(sieve.list_jobs(state=state)) == {"status": word}


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.UNKNOWN])
def test_a_state_without_a_v2_status_word_is_left_to_the_hub(
    sieve: SieveAdapter, state: JobState
) -> None:
    assert "status" not in query(sieve.list_jobs(state=state))


def test_a_page_with_a_next_offset_leads_to_the_next_page(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs(state=JobState.FAILED, limit=2)
    page = call.parse(answer(call, {"data": [job("a"), job("b")], "next_offset": 2}))
    assert [j.id for j in page.jobs] == ["a", "b"]
    assert page.next is not None
    assert query(page.next) == {"status": "error", "limit": "2", "offset": "2"}
    assert page.next.request.url.path == "/v2/jobs"


def test_a_next_offset_of_minus_one_ends_the_listing(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs()
    page = call.parse(answer(call, {"data": [job("a")], "next_offset": -1}))
    assert page.next is None


def test_a_page_without_a_next_offset_is_the_last(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs()
    assert call.parse(answer(call, {"data": [job("a")]})).next is None


def test_a_next_offset_that_does_not_move_forward_is_invalid(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs()
    first = call.parse(answer(call, {"data": [job("a")], "next_offset": 1}))
    assert first.next is not None
    with pytest.raises(InvalidPayload, match="next_offset"):
        first.next.parse(answer(first.next, {"data": [job("b")], "next_offset": 1}))


def test_a_full_bare_array_page_leads_to_the_next_offset(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs(workflow="sieve/retalker", limit=2)
    page = call.parse(answer(call, [job("a"), job("b")]))
    assert page.next is not None
    assert page.next.request.url.path == "/v2/functions/sieve/retalker/jobs"
    assert query(page.next) == {"limit": "2", "offset": "2"}


def test_a_short_bare_array_page_is_the_last(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs(limit=2)
    assert call.parse(answer(call, [job("a")])).next is None


def test_without_a_limit_a_bare_array_page_is_full_at_sieves_default_of_500(
    sieve: SieveAdapter,
) -> None:
    call = sieve.list_jobs()
    short = call.parse(answer(call, [job(str(n)) for n in range(499)]))
    full = call.parse(answer(call, [job(str(n)) for n in range(500)]))
    assert short.next is None
    assert full.next is not None and query(full.next) == {"offset": "500"}


def test_an_empty_bare_array_ends_the_listing(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs()
    page = call.parse(answer(call, []))
    assert page == Page([], None)


def test_jobs_listed_for_a_function_name_it_when_sieve_leaves_function_null(
    sieve: SieveAdapter,
) -> None:
    call = sieve.list_jobs(workflow="sieve/retalker")
    page = call.parse(answer(call, [job("a", function=None)]))
    assert page.jobs[0].workflow == "sieve/retalker"


def test_a_listed_jobs_own_function_wins(sieve: SieveAdapter) -> None:
    call = sieve.list_jobs(workflow="sieve/retalker")
    own = {"name": "retalker-v2", "owner_name": "acme"}
    page = call.parse(answer(call, {"data": [job("a", function=own)]}))
    assert page.jobs[0].workflow == "acme/retalker-v2"


def test_the_next_page_of_a_function_listing_still_names_the_function(
    sieve: SieveAdapter,
) -> None:
    call = sieve.list_jobs(workflow="sieve/retalker")
    first = call.parse(answer(call, {"data": [job("a")], "next_offset": 1}))
    assert first.next is not None
    second = first.next.parse(answer(first.next, {"data": [job("b")], "next_offset": -1}))
    assert second.jobs[0].workflow == "sieve/retalker"


@pytest.mark.parametrize(
    "body",
    [
        "jobs",
        42,
        None,
        {"jobs": []},
        {"data": "x"},
        {"data": [], "next_offset": "2"},
        {"data": [], "next_offset": -2},
        [job(), "not a job"],
    ],
    ids=repr,
)
def test_a_job_list_that_cannot_be_read_is_invalid(sieve: SieveAdapter, body: Any) -> None:
    call = sieve.list_jobs()
    with pytest.raises(InvalidPayload):
        call.parse(answer(call, body))


# -- cancel --------------------------------------------------------------------------------------


def test_cancel_deletes_the_job(sieve: SieveAdapter) -> None:
    call = sieve.cancel_job(JOB_ID)
    assert call.request.method == "DELETE"
    assert call.request.url.path == f"/v2/jobs/{JOB_ID}"
    assert call.parse(answer(call, {"message": "Job cancelled."})) is None


def test_cancelling_a_job_that_is_not_processing_is_already_finished(
    sieve: SieveAdapter,
) -> None:
    call = sieve.cancel_job(JOB_ID)
    assert call.on_error is not None
    error = call.on_error(answer(call, {"detail": "Job is not processing."}, 400))
    assert isinstance(error, JobAlreadyFinished)
    assert error.status_code == 400 and error.backend == "sieve"
    assert JOB_ID in str(error) and "already ended" in str(error)


def test_another_refusal_of_a_cancel_is_left_to_the_shared_mapping(sieve: SieveAdapter) -> None:
    call = sieve.cancel_job(JOB_ID)
    assert call.on_error is not None
    assert call.on_error(answer(call, {"detail": "Invalid values passed."}, 400)) is None
    assert call.on_error(answer(call, {"detail": "Job not found."}, 404)) is None


# -- error bodies --------------------------------------------------------------------------------


def _error_detail(sieve: SieveAdapter, body: Any, status: int = 400) -> str | None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sieve.error_detail(httpx.Response(status, content=content))


def test_a_fastapi_detail_string_is_the_errors_words(sieve: SieveAdapter) -> None:
    assert _error_detail(sieve, {"detail": "Job not found."}, 404) == "Job not found."


def test_a_validation_error_reads_as_where_and_what(sieve: SieveAdapter) -> None:
    body = {
        "detail": [
            {"loc": ["query", "limit"], "msg": "Input should be a valid integer", "type": "x"},
            {"loc": ["path", "job_id"], "msg": "Field required", "type": "missing"},
        ]
    }
    assert _error_detail(sieve, body, 422) == (
        "query.limit: Input should be a valid integer; path.job_id: Field required"
    )


def test_a_validation_error_without_a_location_or_message_still_reads(
    sieve: SieveAdapter,
) -> None:
    detail = _error_detail(sieve, {"detail": [{"msg": "bad"}, {"loc": ["q"]}, "odd"]}, 422)
    assert detail is not None
    assert detail.startswith("bad; q: ")
    assert detail.endswith("odd")


def test_an_html_error_page_has_no_detail(sieve: SieveAdapter) -> None:
    assert _error_detail(sieve, b"<html><body>down</body></html>", 503) is None


def test_a_plain_text_error_is_its_own_detail(sieve: SieveAdapter) -> None:
    assert _error_detail(sieve, b"upstream connect error", 502) == "upstream connect error"


def test_settings_are_sieve_settings_with_a_type(sieve: SieveAdapter) -> None:
    assert isinstance(sieve.settings, SieveSettings)
    assert sieve.settings.type == "sieve"
