"""get, list and cancel on prunner through `Hub` and `AsyncHub`, replaying cassettes/prunner/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from jobhub import AsyncHub, Hub, Job, JobState
from jobhub.errors import (
    AuthError,
    BackendUnavailable,
    InvalidRef,
    JobAlreadyFinished,
    JobHubError,
    JobNotFound,
    RateLimited,
)
from tests.conftest import CASSETTES, SECRET, cassettes

QUEUED = "7f3e6b1c-2d4a-4e8f-9a0b-1c2d3e4f5a6b"
RUNNING = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"
SUCCEEDED = "3c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
FAILED = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
CANCELLED = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
MISSING = "6f0e5d4c-3b2a-4190-8f7e-6d5c4b3a2918"
NOT_A_UUID = "build-42"

# Retries off: each cassette holds exactly the answers a test expects, once.
CONFIG = {"ci": {"type": "prunner", "url": "http://build:9009", "jwt_secret": SECRET, "retries": 0}}


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(CONFIG, env={}) as hub:
        yield hub


@pytest.fixture
async def ahub() -> AsyncIterator[AsyncHub]:
    async with AsyncHub(CONFIG, env={}) as hub:
        yield hub


def sync_error(hub: Hub, cassette: str, action: str, ref: str) -> JobHubError:
    with cassettes.use_cassette(cassette), pytest.raises(JobHubError) as caught:
        getattr(hub, action)(ref)
    return caught.value


async def async_error(hub: AsyncHub, cassette: str, action: str, ref: str) -> JobHubError:
    with cassettes.use_cassette(cassette), pytest.raises(JobHubError) as caught:
        await getattr(hub, action)(ref)
    return caught.value


def assert_no_secret(*texts: Any) -> None:
    """Neither the secret nor any JWT (all start with the base64 of '{"') is in the texts."""
    for text in texts:
        for shown in (str(text), repr(text)):
            assert SECRET not in shown
            assert "eyJ" not in shown


# -- get ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_id", "state"),
    [
        (QUEUED, JobState.QUEUED),
        (RUNNING, JobState.RUNNING),
        (SUCCEEDED, JobState.SUCCEEDED),
        (FAILED, JobState.FAILED),
        (CANCELLED, JobState.CANCELLED),
    ],
    ids=["queued", "running", "succeeded", "failed", "cancelled"],
)
def test_get_reports_the_job_state(hub, job_id, state) -> None:
    with cassettes.use_cassette("prunner/get.yaml"):
        job = hub.get(f"ci:{job_id}")
    assert (job.ref, job.state) == (f"ci:{job_id}", state)


@pytest.mark.anyio
@pytest.mark.parametrize("job_id", [QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED])
async def test_async_get_equals_sync_get(hub, ahub, job_id) -> None:
    with cassettes.use_cassette("prunner/get.yaml"):
        expected = hub.get(f"ci:{job_id}")
    with cassettes.use_cassette("prunner/get.yaml"):
        assert await ahub.get(f"ci:{job_id}") == expected


def test_failed_fast_job_shows_what_failed_and_what_never_ran(hub) -> None:
    with cassettes.use_cassette("prunner/get.yaml"):
        job = hub.get(f"ci:{FAILED}")
    states = {task.name: task.state for task in job.tasks}
    assert states == {
        "lint": JobState.SUCCEEDED,
        "e2e": JobState.CANCELLED,
        "test": JobState.FAILED,
        "deploy": JobState.CANCELLED,
    }
    failed = job.task("test")
    assert failed is not None and (job.error, failed.exit_code) == ("task test: exit status 2", 2)


def test_job_cancelled_before_start_has_no_times(hub) -> None:
    with cassettes.use_cassette("prunner/get.yaml"):
        job = hub.get(f"ci:{CANCELLED}")
    assert (job.started_at, job.finished_at, job.duration) == (None, None, None)
    assert {task.state for task in job.tasks} == {JobState.CANCELLED}


def test_running_job_reads_offset_times(hub) -> None:
    with cassettes.use_cassette("prunner/get.yaml"):
        job = hub.get(f"ci:{RUNNING}")
    assert job.started_at is not None and job.started_at.isoformat() == "2025-08-15T12:00:01+00:00"
    assert (job.progress, job.user, job.workflow) == (1 / 3, "j.doe", "release")


def test_get_missing_job_is_job_not_found(hub) -> None:
    error = sync_error(hub, "prunner/get.yaml", "get", f"ci:{MISSING}")
    assert isinstance(error, JobNotFound)
    assert (error.backend, error.status_code) == ("ci", 404)
    assert "Job not found" in str(error) and "retention" in str(error)


def test_get_non_uuid_id_is_invalid_ref(hub) -> None:
    error = sync_error(hub, "prunner/get.yaml", "get", f"ci:{NOT_A_UUID}")
    assert isinstance(error, InvalidRef)
    assert (error.backend, error.status_code) == ("ci", 400)


@pytest.mark.anyio
async def test_async_get_missing_job_is_job_not_found(ahub) -> None:
    error = await async_error(ahub, "prunner/get.yaml", "get", f"ci:{MISSING}")
    assert isinstance(error, JobNotFound)
    assert (error.backend, error.status_code) == ("ci", 404)


# -- list ---------------------------------------------------------------------------------------


def listed(hub: Hub, **filters: Any) -> list[Job]:
    with cassettes.use_cassette("prunner/list.yaml"):
        return list(hub.list("ci", **filters))


async def alisted(hub: AsyncHub, **filters: Any) -> list[Job]:
    with cassettes.use_cassette("prunner/list.yaml"):
        return [job async for job in hub.list("ci", **filters)]


def test_list_returns_every_job_newest_first(hub) -> None:
    ids = [job.id for job in listed(hub)]
    assert ids == [QUEUED, RUNNING, CANCELLED, FAILED, SUCCEEDED]


def test_list_by_workflow_returns_that_pipeline_only(hub) -> None:
    assert [job.id for job in listed(hub, workflow="release")] == [QUEUED, RUNNING, FAILED]


def test_list_by_state(hub) -> None:
    assert [job.id for job in listed(hub, state="cancelled")] == [CANCELLED]


def test_list_with_limit(hub) -> None:
    assert [job.id for job in listed(hub, limit=2)] == [QUEUED, RUNNING]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "filters",
    [{}, {"workflow": "release"}, {"state": JobState.RUNNING}, {"limit": 3}],
    ids=["all", "workflow", "state", "limit"],
)
async def test_async_list_equals_sync_list(hub, ahub, filters) -> None:
    assert await alisted(ahub, **filters) == listed(hub, **filters)


def test_listed_job_equals_the_job_read_alone(hub) -> None:
    jobs = {job.id: job for job in listed(hub)}
    with cassettes.use_cassette("prunner/get.yaml"):
        for job_id, job in jobs.items():
            assert hub.get(f"ci:{job_id}") == job


def test_refresh_reads_every_job_in_one_request(hub) -> None:
    adapter = hub.adapter("ci")
    with cassettes.use_cassette("prunner/list.yaml") as cassette:
        jobs = hub._run(adapter, adapter.refresh_jobs())
        assert cassette.play_count == 1
    assert len(jobs) == 5


# -- cancel -------------------------------------------------------------------------------------


def test_cancel_running_job_twice_succeeds(hub) -> None:
    with cassettes.use_cassette("prunner/cancel.yaml") as cassette:
        hub.cancel(f"ci:{RUNNING}")
        hub.cancel(f"ci:{RUNNING}")
        assert cassette.play_count == 4  # each cancel, and the job read back after it


@pytest.mark.anyio
async def test_async_cancel_running_job_twice_succeeds(ahub) -> None:
    with cassettes.use_cassette("prunner/cancel.yaml") as cassette:
        await ahub.cancel(f"ci:{RUNNING}")
        await ahub.cancel(f"ci:{RUNNING}")
        assert cassette.play_count == 4


def test_cancel_finished_job_is_job_already_finished(hub) -> None:
    error = sync_error(hub, "prunner/cancel.yaml", "cancel", f"ci:{SUCCEEDED}")
    assert isinstance(error, JobAlreadyFinished)
    assert (error.backend, error.status_code) == ("ci", 500)
    assert "job has already finished" in str(error)


@pytest.mark.anyio
async def test_async_cancel_finished_job_is_job_already_finished(ahub) -> None:
    error = await async_error(ahub, "prunner/cancel.yaml", "cancel", f"ci:{SUCCEEDED}")
    assert isinstance(error, JobAlreadyFinished)
    assert (error.backend, error.status_code) == ("ci", 500)


def test_cancel_failed_fast_job_reads_like_a_completed_failed_one(hub) -> None:
    """prunner answers 200 for a fail-fast job (it is `canceled`), 500 for a job that failed
    with nothing else running: both have failed, and both are JobAlreadyFinished."""
    error = sync_error(hub, "prunner/cancel.yaml", "cancel", f"ci:{FAILED}")
    assert isinstance(error, JobAlreadyFinished)
    assert "already failed" in str(error) and error.backend == "ci"


@pytest.mark.anyio
async def test_async_cancel_failed_fast_job_is_job_already_finished(ahub) -> None:
    error = await async_error(ahub, "prunner/cancel.yaml", "cancel", f"ci:{FAILED}")
    assert isinstance(error, JobAlreadyFinished)


def test_cancel_missing_job_is_job_not_found(hub) -> None:
    error = sync_error(hub, "prunner/cancel.yaml", "cancel", f"ci:{MISSING}")
    assert isinstance(error, JobNotFound)


def test_cancel_non_uuid_id_is_invalid_ref(hub) -> None:
    error = sync_error(hub, "prunner/cancel.yaml", "cancel", f"ci:{NOT_A_UUID}")
    assert isinstance(error, InvalidRef)


# -- errors and secrets -------------------------------------------------------------------------

AUTH_CASSETTES = [
    ("prunner/auth_no_token.yaml", "no token found"),
    ("prunner/auth_unauthorized.yaml", "token is unauthorized"),
    ("prunner/auth_expired.yaml", "token is expired"),
]


@pytest.mark.parametrize(("cassette", "words"), AUTH_CASSETTES)
def test_401_is_auth_error_with_prunner_words_and_a_hint(hub, cassette, words) -> None:
    error = sync_error(hub, cassette, "get", f"ci:{RUNNING}")
    assert isinstance(error, AuthError)
    assert (error.backend, error.status_code) == ("ci", 401)
    assert str(error) == (
        f"prunner backend 'ci': 401 {words} — check jwt_secret / token and the clock"
    )


@pytest.mark.anyio
@pytest.mark.parametrize(("cassette", "words"), AUTH_CASSETTES)
async def test_async_401_is_the_same_auth_error(hub, ahub, cassette, words) -> None:
    expected = sync_error(hub, cassette, "get", f"ci:{RUNNING}")
    error = await async_error(ahub, cassette, "get", f"ci:{RUNNING}")
    assert (type(error), str(error), error.status_code) == (
        type(expected),
        str(expected),
        expected.status_code,
    )


def test_429_is_rate_limited_with_retry_after(hub) -> None:
    with cassettes.use_cassette("prunner/rate_limited.yaml"), pytest.raises(RateLimited) as caught:
        list(hub.list("ci"))
    assert (caught.value.retry_after, caught.value.status_code) == (7.0, 429)
    assert caught.value.backend == "ci"


def test_503_is_backend_unavailable_without_the_proxy_page(hub) -> None:
    error = sync_error(hub, "prunner/unavailable.yaml", "get", f"ci:{RUNNING}")
    assert isinstance(error, BackendUnavailable)
    assert (error.backend, error.status_code) == ("ci", 503)
    assert "<html" not in str(error)


@pytest.mark.parametrize(
    ("cassette", "action", "job_id"),
    [
        *[(cassette, "get", RUNNING) for cassette, _ in AUTH_CASSETTES],
        ("prunner/get.yaml", "get", MISSING),
        ("prunner/get.yaml", "get", NOT_A_UUID),
        ("prunner/cancel.yaml", "cancel", SUCCEEDED),
        ("prunner/unavailable.yaml", "get", RUNNING),
    ],
)
def test_errors_and_logs_hold_no_secret(hub, secret_watch, cassette, action, job_id) -> None:
    error = sync_error(hub, cassette, action, f"ci:{job_id}")
    assert_no_secret(error, error.args, error.raw, hub.adapter("ci"))
    secret_watch.assert_clean(error)
    for record in secret_watch.caplog.records:
        assert "eyJ" not in record.getMessage()


def test_successful_calls_log_no_secret(hub, secret_watch) -> None:
    with cassettes.use_cassette("prunner/get.yaml"):
        job = hub.get(f"ci:{RUNNING}")
    secret_watch.assert_clean(job, hub, hub.adapter("ci"))
    assert_no_secret(job, hub.adapter("ci"), hub.adapter("ci").settings)


def test_cassettes_hold_no_credential() -> None:
    files = sorted((CASSETTES / "prunner").glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text
        assert "eyJ" not in text
        assert "authorization" not in text.lower()
        assert "bearer" not in text.lower()
