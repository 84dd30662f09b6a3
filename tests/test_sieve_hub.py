"""Sieve through `Hub` and `AsyncHub`, over cassettes of the vendor's documented answers: the
same results sync and async, every error status as its type, and the API key nowhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jobhub import AsyncHub, Hub, Job, JobState
from jobhub.errors import (
    AuthError,
    BackendError,
    BackendUnavailable,
    JobAlreadyFinished,
    JobHubError,
    JobNotFound,
    RateLimited,
)
from tests.conftest import CASSETTES, SECRET, SecretWatch, cassettes

RUNNING_ID = "43d7add5-61cf-44ad-aac8-c5d14c642bb4"
DOCUMENTED_ID = "34196fe0-6fc9-4cc7-a716-48861ef15c86"  # the job on Sieve's docs page
MISSING_ID = "00000000-0000-4000-8000-000000000000"
# retries off: a cassette answers each request once, and a retried 429/503 would ask again
CONFIG = {"sieve": {"api_key": SECRET, "retries": 0}}


def dumps(jobs: list[Job]) -> list[dict[str, Any]]:
    return [job.model_dump(mode="json") for job in jobs]


# Each operation as a sync and an async function of a hub, so both run the same steps.
SyncOp = Callable[[Hub], Any]
AsyncOp = Callable[[AsyncHub], Awaitable[Any]]


async def _alist(hub: AsyncHub, **kwargs: Any) -> list[Job]:
    return [job async for job in hub.list("sieve", **kwargs)]


async def _aawait(hub: AsyncHub, job_id: str) -> Job:
    adapter = hub.adapter("sieve")
    job: Job = await hub._run(adapter, adapter.await_job(job_id))
    return job


def _await(hub: Hub, job_id: str) -> Job:
    adapter = hub.adapter("sieve")
    job: Job = hub._run(adapter, adapter.await_job(job_id))
    return job


OPERATIONS: dict[str, tuple[SyncOp, AsyncOp]] = {
    "get": (lambda h: h.get(f"sieve:{RUNNING_ID}"), lambda h: h.get(f"sieve:{RUNNING_ID}")),
    "await": (lambda h: _await(h, RUNNING_ID), lambda h: _aawait(h, RUNNING_ID)),
    "list": (lambda h: list(h.list("sieve")), lambda h: _alist(h)),
    "list failed, 1": (
        lambda h: list(h.list("sieve", state="failed", limit=1)),
        lambda h: _alist(h, state="failed", limit=1),
    ),
    "list function": (
        lambda h: list(h.list("sieve", workflow="sieve/retalker")),
        lambda h: _alist(h, workflow="sieve/retalker"),
    ),
    "list 200": (lambda h: list(h.list("sieve", limit=200)), lambda h: _alist(h, limit=200)),
    "list missing function": (
        lambda h: list(h.list("sieve", workflow="sieve/no-such-function")),
        lambda h: _alist(h, workflow="sieve/no-such-function"),
    ),
    "cancel": (
        lambda h: h.cancel(f"sieve:{RUNNING_ID}"),
        lambda h: h.cancel(f"sieve:{RUNNING_ID}"),
    ),
    "cancel finished": (
        lambda h: h.cancel(f"sieve:{DOCUMENTED_ID}"),
        lambda h: h.cancel(f"sieve:{DOCUMENTED_ID}"),
    ),
    "get missing": (lambda h: h.get(f"sieve:{MISSING_ID}"), lambda h: h.get(f"sieve:{MISSING_ID}")),
    "cancel missing": (
        lambda h: h.cancel(f"sieve:{MISSING_ID}"),
        lambda h: h.cancel(f"sieve:{MISSING_ID}"),
    ),
}


def run_sync(cassette: str, operation: str) -> Any:
    with cassettes.use_cassette(f"sieve/{cassette}.yaml"), Hub(CONFIG) as hub:
        return OPERATIONS[operation][0](hub)


async def run_async(cassette: str, operation: str) -> Any:
    with cassettes.use_cassette(f"sieve/{cassette}.yaml"):
        async with AsyncHub(CONFIG) as hub:
            return await OPERATIONS[operation][1](hub)


# -- results -------------------------------------------------------------------------------------


def test_get_reads_the_running_job() -> None:
    job = run_sync("get_job", "get")
    assert (job.ref, job.state, job.status) == (
        f"sieve:{RUNNING_ID}",
        JobState.RUNNING,
        "processing",
    )
    assert job.workflow == "sieve/retalker"
    assert job.finished_at is None and job.progress is None
    assert job.children == [
        "5e1c0a77-3b2d-4f6e-8a9c-0d1e2f3a4b5c",
        "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
    ]
    assert job.restarts == 1


def test_await_answers_with_the_ended_job() -> None:
    job = run_sync("await_job", "await")
    assert job.state is JobState.SUCCEEDED
    assert job.outputs == [
        {"url": "https://storage.googleapis.com/sieve-outputs/retalker/result.mp4"}
    ]
    assert job.duration == pytest.approx(142.867)


def test_an_expired_await_hold_is_a_408_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable) as caught:
        run_sync("await_timeout", "await")
    assert caught.value.status_code == 408


def test_a_listing_follows_next_offset_over_both_pages() -> None:
    with cassettes.use_cassette("sieve/list_jobs_paged.yaml") as cassette, Hub(CONFIG) as hub:
        jobs = list(hub.list("sieve"))
        assert cassette.all_played
    assert [(j.id, j.state) for j in jobs] == [
        (DOCUMENTED_ID, JobState.SUCCEEDED),
        ("b7e4c2a1-9d3f-4e8b-a6c5-1f2e3d4c5b6a", JobState.FAILED),
        ("e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b", JobState.QUEUED),
    ]


def test_a_state_and_limit_are_sent_to_sieve_and_applied() -> None:
    jobs = run_sync("list_jobs_filtered", "list failed, 1")
    assert [(j.state, j.error) for j in jobs] == [
        (JobState.FAILED, "RuntimeError: CUDA out of memory.")
    ]


def test_a_function_listing_reads_the_bare_array_and_names_the_function() -> None:
    jobs = run_sync("list_function_jobs", "list function")
    assert [(j.id, j.workflow) for j in jobs] == [(DOCUMENTED_ID, "sieve/retalker")]


def test_cancel_of_a_running_job_succeeds() -> None:
    assert run_sync("cancel_job", "cancel") is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cassette", "operation"),
    [
        ("get_job", "get"),
        ("await_job", "await"),
        ("list_jobs_paged", "list"),
        ("list_jobs_filtered", "list failed, 1"),
        ("list_function_jobs", "list function"),
        ("cancel_job", "cancel"),
    ],
)
async def test_async_gives_the_same_result_as_sync(cassette: str, operation: str) -> None:
    expected = run_sync(cassette, operation)
    got = await run_async(cassette, operation)
    if isinstance(expected, list):
        assert dumps(got) == dumps(expected)
    elif isinstance(expected, Job):
        assert got.model_dump(mode="json") == expected.model_dump(mode="json")
    else:
        assert got == expected


# -- errors --------------------------------------------------------------------------------------

ERRORS = [
    ("unauthorized", "get", AuthError, 401),
    ("unauthorized", "list", AuthError, 401),
    ("unauthorized", "cancel", AuthError, 401),
    ("not_found", "get missing", JobNotFound, 404),
    ("not_found", "list missing function", JobNotFound, 404),
    ("not_found", "cancel missing", JobNotFound, 404),
    ("cancel_finished_job", "cancel finished", JobAlreadyFinished, 400),
    ("rate_limited", "get", RateLimited, 429),
    ("unavailable", "get", BackendUnavailable, 503),
    ("validation_error", "list 200", BackendError, 422),
]
ERROR_IDS = [f"{status}-{operation}" for _, operation, _, status in ERRORS]


def check_error(error: JobHubError, kind: type[JobHubError], status: int) -> None:
    assert type(error) is kind
    assert error.backend == "sieve"
    assert error.status_code == status
    assert str(error).startswith(f"sieve backend 'sieve': {status} ")
    assert SECRET not in str(error) and SECRET not in repr(error)


@pytest.mark.parametrize(("cassette", "operation", "kind", "status"), ERRORS, ids=ERROR_IDS)
def test_each_error_status_is_its_error_type(
    cassette: str,
    operation: str,
    kind: type[JobHubError],
    status: int,
    secret_watch: SecretWatch,
) -> None:
    with pytest.raises(JobHubError) as caught:
        run_sync(cassette, operation)
    check_error(caught.value, kind, status)
    secret_watch.assert_clean(caught.value, caught.value.raw)


@pytest.mark.anyio
@pytest.mark.parametrize(("cassette", "operation", "kind", "status"), ERRORS, ids=ERROR_IDS)
async def test_each_error_status_is_its_error_type_async(
    cassette: str,
    operation: str,
    kind: type[JobHubError],
    status: int,
    secret_watch: SecretWatch,
) -> None:
    with pytest.raises(JobHubError) as caught:
        await run_async(cassette, operation)
    check_error(caught.value, kind, status)
    secret_watch.assert_clean(caught.value, caught.value.raw)


def test_an_auth_error_says_to_check_the_api_key() -> None:
    with pytest.raises(AuthError) as caught:
        run_sync("unauthorized", "get")
    assert "Unauthorized - valid API Key required." in str(caught.value)
    assert "SIEVE_API_KEY" in str(caught.value)


def test_a_validation_error_says_which_parameter_was_refused() -> None:
    with pytest.raises(BackendError, match=r"422 query\.limit: Input should be less than"):
        run_sync("validation_error", "list 200")


def test_an_already_finished_job_says_so() -> None:
    with pytest.raises(JobAlreadyFinished, match="already ended"):
        run_sync("cancel_finished_job", "cancel finished")


def test_a_maintenance_page_reads_as_the_status_phrase() -> None:
    with pytest.raises(BackendUnavailable, match="503 Service Unavailable — "):
        run_sync("unavailable", "get")


# -- secrets and cassettes -----------------------------------------------------------------------


def test_a_whole_session_leaves_the_api_key_out_of_every_log_line(
    secret_watch: SecretWatch,
) -> None:
    job = run_sync("get_job", "get")
    jobs = run_sync("list_jobs_paged", "list")
    with Hub(CONFIG) as hub:
        adapter = hub.adapter("sieve")
        secret_watch.assert_clean(job, jobs, hub, adapter, adapter.settings, adapter.auth())


def test_no_cassette_holds_the_api_key_or_a_credential_header() -> None:
    for path in (CASSETTES / "sieve").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text, path.name
        assert "x-api-key" not in text.lower(), path.name
        assert "authorization" not in text.lower(), path.name


def test_the_cassette_readme_says_where_each_cassette_came_from() -> None:
    readme = (CASSETTES / "sieve" / "README.md").read_text(encoding="utf-8")
    for path in (CASSETTES / "sieve").glob("*.yaml"):
        assert f"`{path.name}`" in readme, path.name
