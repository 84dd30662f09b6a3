"""jobhub against the real prunner server (tests/realprunner.py): get, list, cancel, wait,
wait_all, watch, authentication, and a restart on the same data directory."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobhub import Hub, JobState
from jobhub.errors import AuthError, InvalidRef, JobAlreadyFinished, JobNotFound
from tests.realprunner import RealPrunner, running

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

WAIT = 30.0  # seconds any one job may take to end here, load included
NOT_A_JOB = "6f0e5d4c-3b2a-4190-8f7e-6d5c4b3a2918"


@pytest.fixture(scope="module")
def hub(real_prunner: RealPrunner) -> Iterator[Hub]:
    with Hub({"ci": real_prunner.hub_settings()}, env={}) as hub:
        yield hub


def schedule(server: RealPrunner, pipeline: str, **variables: Any) -> str:
    with server.client() as client:
        response = client.post(
            "/pipelines/schedule", json={"pipeline": pipeline, "variables": variables}
        )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def until(hub: Hub, ref: str, check: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = hub.get(ref)
        if check(job):
            return job
        assert time.monotonic() < deadline, f"{ref} never got there; last seen {job.state}"
        time.sleep(0.05)


# -- get and wait -------------------------------------------------------------------------------


def test_succeeded_job_reads_with_exit_codes_zero_and_every_time(real_prunner, hub) -> None:
    ref = f"ci:{schedule(real_prunner, 'ok', name='x')}"
    job = hub.wait(ref, timeout=WAIT)
    assert (job.state, job.error, job.progress, job.workflow) == (
        JobState.SUCCEEDED,
        None,
        1.0,
        "ok",
    )
    assert [(t.name, t.state, t.exit_code) for t in job.tasks] == [
        (name, JobState.SUCCEEDED, 0) for name in ("a", "b", "c", "d")
    ]
    assert job.user == "tester" and job.inputs == {"name": "x"}
    assert job.started_at and job.finished_at and job.duration is not None


def test_fail_fast_job_names_the_failing_task_not_the_cancellation(real_prunner, hub) -> None:
    job = hub.wait(f"ci:{schedule(real_prunner, 'fail_fast')}", timeout=WAIT)
    assert job.raw["lastError"] == "context canceled"  # what prunner says
    assert (job.state, job.error) == (JobState.FAILED, "task bad: exit status 3")
    tasks = {t.name: t for t in job.tasks}
    assert (tasks["bad"].state, tasks["bad"].exit_code) == (JobState.FAILED, 3)
    assert (tasks["slow"].state, tasks["slow"].exit_code) == (JobState.CANCELLED, None)
    assert (tasks["after"].state, tasks["after"].exit_code) == (JobState.CANCELLED, None)
    # prunner records no end for the failed and the cancelled task: they end with the job
    assert tasks["bad"].finished_at == tasks["slow"].finished_at == job.finished_at
    assert tasks["after"].started_at is None and tasks["after"].finished_at is None
    assert job.progress == 0.75


def test_single_failure_names_the_task_and_leaves_its_dependent_unrun(real_prunner, hub) -> None:
    job = hub.wait(f"ci:{schedule(real_prunner, 'fail_single')}", timeout=WAIT)
    assert (job.state, job.error) == (JobState.FAILED, "task first: exit status 2")
    assert [(t.state, t.exit_code) for t in job.tasks] == [
        (JobState.FAILED, 2),
        (JobState.CANCELLED, None),
    ]


def test_allow_failure_task_keeps_its_exit_code_in_a_succeeded_job(real_prunner, hub) -> None:
    job = hub.wait(f"ci:{schedule(real_prunner, 'allow_fail')}", timeout=WAIT)
    assert (job.state, job.error) == (JobState.SUCCEEDED, None)
    assert [(t.name, t.state, t.exit_code) for t in job.tasks] == [
        ("flaky", JobState.SUCCEEDED, 5),
        ("then", JobState.SUCCEEDED, 0),
    ]


def test_job_running_on_after_a_failure_stays_running_then_fails(real_prunner, hub) -> None:
    ref = f"ci:{schedule(real_prunner, 'keep_going')}"
    seen = until(hub, ref, lambda job: job.task("bad").state is JobState.FAILED)
    if not seen.state.terminal:  # `good` still runs: the wait must not end here
        assert (seen.state, seen.error) == (JobState.RUNNING, "task bad: exit status 4")
    job = hub.wait(ref, timeout=WAIT)
    assert (job.state, job.error) == (JobState.FAILED, "task bad: exit status 4")
    assert job.task("good").state is JobState.SUCCEEDED


def test_on_error_handler_shows_as_a_task_of_the_failed_job(real_prunner, hub) -> None:
    job = hub.wait(f"ci:{schedule(real_prunner, 'with_handler')}", timeout=WAIT)
    assert (job.state, job.error) == (JobState.FAILED, "task bad: exit status 7")
    assert [(t.name, t.state) for t in job.tasks] == [
        ("bad", JobState.FAILED),
        ("on_error", JobState.SUCCEEDED),
    ]


def test_job_that_cannot_start_is_failed_with_prunners_reason(real_prunner, hub) -> None:
    job = hub.wait(f"ci:{schedule(real_prunner, 'ok', __jobID='x')}", timeout=WAIT)
    assert (job.state, job.error, job.started_at, job.progress) == (
        JobState.FAILED,
        "variable name __jobID is reserved for internal use",
        None,
        0.0,
    )


def test_upper_case_id_reads_the_same_job(real_prunner, hub) -> None:
    job_id = schedule(real_prunner, "fail_single")
    assert hub.get(f"ci:{job_id.upper()}").id == job_id


def test_unknown_job_is_job_not_found(hub) -> None:
    with pytest.raises(JobNotFound):
        hub.get(f"ci:{NOT_A_JOB}")


def test_malformed_id_is_invalid_ref(hub) -> None:
    with pytest.raises(InvalidRef, match="UUIDs"):
        hub.get("ci:build-42")


# -- list ---------------------------------------------------------------------------------------


def test_list_by_pipeline_state_and_limit(real_prunner, hub) -> None:
    first = schedule(real_prunner, "fail_single")
    second = schedule(real_prunner, "fail_single")
    hub.wait_all([f"ci:{first}", f"ci:{second}"], timeout=WAIT)
    listed = [job.id for job in hub.list("ci", workflow="fail_single")]
    assert listed[:2] == [second, first] and len(listed) == len(set(listed))
    assert {job.workflow for job in hub.list("ci", workflow="fail_single")} == {"fail_single"}
    assert [job.id for job in hub.list("ci", workflow="fail_single", limit=1)] == [second]
    failed = list(hub.list("ci", state=JobState.FAILED))
    assert {first, second} <= {job.id for job in failed}
    assert {job.state for job in failed} == {JobState.FAILED}


# -- cancel -------------------------------------------------------------------------------------


def test_cancel_running_and_queued_jobs(real_prunner, hub) -> None:
    running_ref = f"ci:{schedule(real_prunner, 'slow')}"
    queued_ref = f"ci:{schedule(real_prunner, 'slow')}"
    until(hub, running_ref, lambda job: job.state is JobState.RUNNING)
    assert hub.get(queued_ref).state is JobState.QUEUED
    hub.cancel(queued_ref)
    queued = hub.get(queued_ref)  # prunner marks a waiting job at once
    assert (queued.state, queued.error, queued.started_at) == (JobState.CANCELLED, None, None)
    hub.cancel(running_ref)
    job = hub.wait(running_ref, timeout=WAIT)  # up to prunner's 2 s kill timeout
    assert (job.state, job.error) == (JobState.CANCELLED, None)
    assert [(t.state, t.exit_code) for t in job.tasks] == [
        (JobState.CANCELLED, None),
        (JobState.CANCELLED, None),
    ]
    assert job.progress == 0.5
    hub.cancel(running_ref)  # a cancelled job: prunner answers 200, and so does jobhub


@pytest.mark.parametrize("pipeline", ["fail_single", "fail_fast", "ok"])
def test_cancelling_a_finished_job_is_job_already_finished(real_prunner, hub, pipeline) -> None:
    """prunner answers 500 for fail_single and ok, 200 for fail_fast (it is `canceled`)."""
    ref = f"ci:{schedule(real_prunner, pipeline)}"
    hub.wait(ref, timeout=WAIT)
    with pytest.raises(JobAlreadyFinished):
        hub.cancel(ref)


def test_cancel_unknown_and_malformed_ids(hub) -> None:
    with pytest.raises(JobNotFound):
        hub.cancel(f"ci:{NOT_A_JOB}")
    with pytest.raises(InvalidRef):
        hub.cancel("ci:not-a-uuid")


# -- many jobs ----------------------------------------------------------------------------------


def test_wait_all_queued_behind_each_other(real_prunner, hub) -> None:
    """`queue` runs one job at a time: the three end one after another."""
    refs = [f"ci:{schedule(real_prunner, 'queue')}" for _ in range(3)]
    assert hub.get(refs[-1]).state is JobState.QUEUED  # for a second at least: two run first
    jobs = hub.wait_all(refs, timeout=WAIT)
    ended = sorted(jobs, key=lambda job: job.finished_at or job.created_at)
    assert [job.ref for job in ended] == refs
    assert {job.state for job in jobs} == {JobState.SUCCEEDED}
    for before, after in itertools.pairwise(ended):
        assert before.finished_at and after.started_at and before.finished_at <= after.started_at


def test_watch_a_ref_sees_its_tasks_and_its_end(real_prunner, hub) -> None:
    ref = f"ci:{schedule(real_prunner, 'ok')}"
    events = []
    for event in hub.watch([ref], timeout=WAIT):
        events.append(event)
        if event.kind == "state" and event.new is not None and event.new.terminal:
            break
    states = [event.new for event in events if event.kind == "state"]
    assert states[-1] is JobState.SUCCEEDED and JobState.SUCCEEDED not in states[:-1]
    assert {event.task for event in events if event.kind == "task"} >= {"a", "d"}


def test_watch_the_backend_sees_a_new_job_end(real_prunner, hub) -> None:
    seen: list[Any] = []
    job_id = None
    for event in hub.watch(backend="ci", timeout=WAIT):
        if job_id is None:
            job_id = schedule(real_prunner, "fail_single")
        if event.ref == f"ci:{job_id}":
            seen.append(event)
            if event.kind == "state" and event.new is JobState.FAILED:
                break
    assert seen and seen[-1].job.error == "task first: exit status 2"


# -- authentication -----------------------------------------------------------------------------


def test_wrong_secret_is_auth_error(real_prunner) -> None:
    settings = real_prunner.hub_settings(jwt_secret="not-the-servers-secret-at-all-00000")
    with Hub({"ci": settings}, env={}) as hub, pytest.raises(AuthError, match="401"):
        hub.get(f"ci:{NOT_A_JOB}")


def test_expired_token_is_auth_error_naming_it(real_prunner) -> None:
    expired = real_prunner.token(exp=int(time.time()) - 5)
    settings = {**real_prunner.hub_settings(), "token": expired}
    del settings["jwt_secret"]
    with Hub({"ci": settings}, env={}) as hub, pytest.raises(AuthError, match="token is expired"):
        hub.get(f"ci:{NOT_A_JOB}")


def test_short_secret_prunner_accepts_works_without_warnings(tmp_path: Path, recwarn) -> None:
    from tests.realprunner import PIPELINES, RealPrunner, binary

    server = RealPrunner(binary(), tmp_path, PIPELINES)
    server.secret = "sixteen-chars-ok"  # prunner's least
    with _started(server), Hub({"ci": server.hub_settings()}, env={}) as hub:
        job = hub.wait(f"ci:{schedule(server, 'fail_single')}", timeout=WAIT)
        assert job.state is JobState.FAILED
    assert not [w for w in recwarn if "HMAC key" in str(w.message)]


# -- restart ------------------------------------------------------------------------------------


def test_restart_on_the_same_data_reads_running_and_queued_jobs_cancelled(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        was_running = schedule(server, "slow")
        was_queued = schedule(server, "slow")
        server.wait_persisted(was_running, started=True)
        server.wait_persisted(was_queued, started=False)
        server.restart()
        with Hub({"ci": server.hub_settings()}, env={}) as hub:
            restored = hub.get(f"ci:{was_running}")
            assert restored.raw["completed"] is False and restored.raw["end"] is None
            # as a live cancel reads: `sleeper` ran and was cancelled, `next` never ran
            assert (restored.state, restored.error, restored.progress) == (
                JobState.CANCELLED,
                None,
                0.5,
            )
            assert [(t.state, t.exit_code) for t in restored.tasks] == [
                (JobState.CANCELLED, None),
                (JobState.CANCELLED, None),
            ]
            queued = hub.get(f"ci:{was_queued}")
            assert (queued.state, queued.started_at) == (JobState.CANCELLED, None)
            assert hub.wait(f"ci:{was_running}", timeout=5).state is JobState.CANCELLED
            hub.cancel(f"ci:{was_running}")  # prunner: 200, it is `canceled`


class _started:
    def __init__(self, server: RealPrunner) -> None:
        self.server = server

    def __enter__(self) -> RealPrunner:
        return self.server.start()

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
