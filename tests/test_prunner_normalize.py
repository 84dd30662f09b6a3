"""prunner payloads → canonical Jobs: every prunner row of the state table and each field."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from jobhub_prunner.adapter import PrunnerAdapter

from jobhub.errors import InvalidPayload
from jobhub.model import JobState

JOB_ID = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"
CREATED = "2025-08-15T12:00:00Z"
STARTED = "2025-08-15T12:00:01Z"
ENDED = "2025-08-15T12:04:35Z"

# prunner's job flags for each way a job can be (REFERENCE.md lifecycle facts).
QUEUED = {"start": None}
RUNNING = {"start": STARTED}
SUCCEEDED = {"start": STARTED, "end": ENDED, "completed": True}
FAILED = {"start": STARTED, "end": ENDED, "completed": True, "errored": True}
FAILED_FAST = {"start": STARTED, "end": ENDED, "completed": True, "errored": True, "canceled": True}
CANCELLED_RUNNING = {"start": STARTED, "end": ENDED, "completed": True, "canceled": True}
CANCELLED_BEFORE_START = {"start": None, "end": None, "completed": False, "canceled": True}
# What a restart makes of a job that was running: cancelled, not completed, no end.
RESTORED = {"start": STARTED, "end": None, "completed": False, "canceled": True}


def job(flags: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A prunner job payload, by default a queued one without tasks."""
    payload: dict[str, Any] = {
        "id": JOB_ID,
        "pipeline": "release",
        "tasks": [],
        "completed": False,
        "canceled": False,
        "errored": False,
        "created": CREATED,
        "start": None,
        "end": None,
        "variables": {"tag_name": "v1.17.4"},
        "user": "j.doe",
    }
    payload.update(flags or {})
    payload.update(fields)
    return payload


def task(name: str = "build", status: str = "waiting", **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": name,
        "status": status,
        "start": None,
        "end": None,
        "skipped": False,
        "exitCode": -1,
        "errored": False,
    }
    payload.update(fields)
    return payload


@pytest.fixture
def adapter() -> PrunnerAdapter:
    return PrunnerAdapter("ci", PrunnerAdapter.settings_from("ci", {}, env={}))


# -- job states ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        pytest.param(QUEUED, JobState.QUEUED, id="not started, not cancelled -> queued"),
        pytest.param(RUNNING, JobState.RUNNING, id="started, not ended -> running"),
        pytest.param(SUCCEEDED, JobState.SUCCEEDED, id="completed -> succeeded"),
        pytest.param(FAILED, JobState.FAILED, id="completed and errored -> failed"),
        pytest.param(FAILED_FAST, JobState.FAILED, id="errored wins over canceled"),
        pytest.param(CANCELLED_RUNNING, JobState.CANCELLED, id="cancelled while running"),
        pytest.param(CANCELLED_BEFORE_START, JobState.CANCELLED, id="cancelled before start"),
    ],
)
def test_job_state_follows_prunner_flags(adapter, flags, state) -> None:
    assert adapter.normalize(job(flags)).state is state


def test_errored_job_still_running_its_tasks_is_running(adapter) -> None:
    # With continue_running_tasks_after_failure (or an on_error task running) prunner reports
    # errored before the job has ended; it becomes failed when it ends.
    payload = job(RUNNING, errored=True, tasks=[task("a", "error"), task("b", "running")])
    assert adapter.normalize(payload).state is JobState.RUNNING


def test_job_restored_as_cancelled_after_a_server_restart_is_cancelled(adapter) -> None:
    # prunner marks a job that was running when it stopped: canceled, never completed, no end.
    payload = job(RUNNING, canceled=True)
    assert adapter.normalize(payload).state is JobState.CANCELLED


def test_job_has_no_status_word(adapter) -> None:
    assert adapter.normalize(job(RUNNING)).status is None


# -- task states --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("waiting", JobState.PENDING),
        ("running", JobState.RUNNING),
        ("done", JobState.SUCCEEDED),
        ("error", JobState.FAILED),
        ("canceled", JobState.CANCELLED),
        ("skipped", JobState.SKIPPED),
    ],
)
def test_task_word_maps_to_state_and_is_kept(adapter, word, state) -> None:
    result = adapter.normalize(job(RUNNING, tasks=[task("build", word)])).tasks[0]
    assert (result.state, result.status) == (state, word)


def test_task_words_match_case_insensitively(adapter) -> None:
    result = adapter.normalize(job(RUNNING, tasks=[task("build", "Done")])).tasks[0]
    assert result.state is JobState.SUCCEEDED


def test_unknown_task_word_is_unknown_with_the_word_kept(adapter) -> None:
    result = adapter.normalize(job(RUNNING, tasks=[task("build", "paused-by-operator")])).tasks[0]
    assert (result.state, result.status) == (JobState.UNKNOWN, "paused-by-operator")


def test_unknown_task_word_is_logged_once(adapter, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="jobhub")
    payload = job(RUNNING, tasks=[task("a", "hibernating"), task("b", "hibernating")])
    adapter.normalize(payload)
    adapter.normalize(payload)
    warnings = [r for r in caplog.records if "hibernating" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(FAILED_FAST, id="failed fast"),
        pytest.param(CANCELLED_RUNNING, id="cancelled while running"),
        pytest.param(CANCELLED_BEFORE_START, id="cancelled before start"),
        pytest.param(SUCCEEDED, id="succeeded"),
    ],
)
def test_never_started_task_in_an_ended_job_is_cancelled(adapter, flags) -> None:
    result = adapter.normalize(job(flags, tasks=[task("deploy", "waiting")])).tasks[0]
    assert (result.state, result.status) == (JobState.CANCELLED, "waiting")


@pytest.mark.parametrize("flags", [QUEUED, RUNNING], ids=["queued", "running"])
def test_waiting_task_of_a_job_not_ended_is_pending(adapter, flags) -> None:
    result = adapter.normalize(job(flags, tasks=[task("deploy", "waiting")])).tasks[0]
    assert result.state is JobState.PENDING


def test_waiting_task_of_an_errored_job_still_running_stays_pending(adapter) -> None:
    payload = job(RUNNING, errored=True, tasks=[task("a", "error"), task("b", "waiting")])
    assert adapter.normalize(payload).tasks[1].state is JobState.PENDING


# -- tasks --------------------------------------------------------------------------------------


def test_tasks_keep_prunner_order(adapter) -> None:
    names = ["lint", "e2e", "test", "deploy"]
    result = adapter.normalize(job(RUNNING, tasks=[task(name) for name in names]))
    assert [t.name for t in result.tasks] == names


def test_task_depends_on_comes_from_depends_on(adapter) -> None:
    payload = job(RUNNING, tasks=[task("deploy", dependsOn=["e2e", "test"])])
    assert adapter.normalize(payload).tasks[0].depends_on == ["e2e", "test"]


def test_task_without_depends_on_has_no_dependencies(adapter) -> None:
    assert adapter.normalize(job(RUNNING, tasks=[task("lint")])).tasks[0].depends_on == []


@pytest.mark.parametrize(
    ("reported", "exit_code"),
    [(0, 0), (2, 2), (137, 137), (-1, None), (None, None)],
    ids=["zero", "two", "killed", "minus one means none", "null"],
)
def test_task_exit_code(adapter, reported, exit_code) -> None:
    payload = job(RUNNING, tasks=[task("build", "error", exitCode=reported)])
    assert adapter.normalize(payload).tasks[0].exit_code == exit_code


def test_done_task_with_exit_code_minus_one_succeeded_with_zero(adapter) -> None:
    """prunner publishes a task's last change before it sets its 0: a done task reads -1."""
    result = adapter.normalize(job(SUCCEEDED, tasks=[task("cleanup", "done", exitCode=-1)]))
    assert (result.tasks[0].state, result.tasks[0].exit_code) == (JobState.SUCCEEDED, 0)


@pytest.mark.parametrize("flags", [RUNNING, FAILED, CANCELLED_BEFORE_START], ids=str)
def test_task_that_never_ran_has_no_exit_code(adapter, flags) -> None:
    """prunner keeps a never-run task's exitCode at Go's zero value, 0."""
    result = adapter.normalize(job(flags, tasks=[task("later", "waiting", exitCode=0)]))
    assert result.tasks[0].exit_code is None


def test_task_a_restart_marked_canceled_without_running_has_no_exit_code(adapter) -> None:
    payload = job(RESTORED, tasks=[task("next", "canceled", exitCode=0)])
    assert adapter.normalize(payload).tasks[0].exit_code is None


def test_running_task_has_no_exit_code_yet(adapter) -> None:
    payload = job(RUNNING, tasks=[task("a", "running", start=STARTED, exitCode=0)])
    assert adapter.normalize(payload).tasks[0].exit_code is None


def test_allow_failure_task_that_failed_keeps_its_exit_code(adapter) -> None:
    """prunner reads such a task `done`, not errored, with the code it exited with."""
    flaky = task("flaky", "done", start=STARTED, end=ENDED, exitCode=5)
    result = adapter.normalize(job(SUCCEEDED, tasks=[flaky])).tasks[0]
    assert (result.state, result.exit_code, result.error) == (JobState.SUCCEEDED, 5, None)


@pytest.mark.parametrize("status", ["error", "canceled"])
def test_failed_or_cancelled_task_ends_with_its_job(adapter, status) -> None:
    """prunner leaves `end` null on such tasks; the job's end bounds when they stopped."""
    payload = job(FAILED_FAST, tasks=[task("t", status, start=STARTED, exitCode=3)])
    assert adapter.normalize(payload).tasks[0].finished_at == datetime(
        2025, 8, 15, 12, 4, 35, tzinfo=UTC
    )


def test_failed_task_of_a_job_still_running_has_no_end(adapter) -> None:
    payload = job(RUNNING, errored=True, tasks=[task("t", "error", start=STARTED, exitCode=3)])
    assert adapter.normalize(payload).tasks[0].finished_at is None


def test_task_that_never_ran_has_no_end_even_when_its_job_ended(adapter) -> None:
    assert adapter.normalize(job(FAILED_FAST, tasks=[task("t")])).tasks[0].finished_at is None


def test_task_error_is_kept(adapter) -> None:
    payload = job(FAILED, tasks=[task("test", "error", errored=True, error="exit status 2")])
    assert adapter.normalize(payload).tasks[0].error == "exit status 2"


@pytest.mark.parametrize("error", [None, ""], ids=["null", "empty"])
def test_task_without_error_message_has_no_error(adapter, error) -> None:
    assert adapter.normalize(job(RUNNING, tasks=[task(error=error)])).tasks[0].error is None


def test_task_times_are_read(adapter) -> None:
    payload = job(RUNNING, tasks=[task("lint", "done", start=STARTED, end="2025-08-15T12:00:09Z")])
    result = adapter.normalize(payload).tasks[0]
    assert result.started_at == datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC)
    assert result.finished_at == datetime(2025, 8, 15, 12, 0, 9, tzinfo=UTC)


def test_task_raw_is_the_task_payload_itself(adapter) -> None:
    payload = job(RUNNING, tasks=[task("lint", "done", retries=0)])
    assert adapter.normalize(payload).tasks[0].raw is payload["tasks"][0]


@pytest.mark.parametrize("tasks", [None, []], ids=["null", "empty"])
def test_job_without_tasks_has_an_empty_task_list(adapter, tasks) -> None:
    assert adapter.normalize(job(RUNNING, tasks=tasks)).tasks == []


def test_job_without_tasks_field_has_an_empty_task_list(adapter) -> None:
    payload = job(RUNNING)
    del payload["tasks"]
    assert adapter.normalize(payload).tasks == []


# -- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2025-08-15T12:00:01Z", "2025-08-15T12:00:01+00:00", "2025-08-15T14:00:01+02:00"],
    ids=["Z", "+00:00", "+02:00"],
)
def test_times_are_aware_utc(adapter, text) -> None:
    started = adapter.normalize(job(start=text)).started_at
    assert started == datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC)
    assert started is not None and started.utcoffset() is not None
    assert started.tzinfo is UTC


def test_naive_time_is_read_as_utc(adapter) -> None:
    result = adapter.normalize(job(created="2025-08-15T12:00:00"))
    assert result.created_at == datetime(2025, 8, 15, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, ""], ids=["null", "empty"])
def test_unset_time_is_none(adapter, value) -> None:
    assert adapter.normalize(job(created=value)).created_at is None


def test_created_start_and_end_map_to_created_started_finished(adapter) -> None:
    result = adapter.normalize(job(SUCCEEDED))
    assert result.created_at == datetime(2025, 8, 15, 12, 0, 0, tzinfo=UTC)
    assert result.started_at == datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC)
    assert result.finished_at == datetime(2025, 8, 15, 12, 4, 35, tzinfo=UTC)


def test_duration_is_seconds_from_start_to_end(adapter) -> None:
    assert adapter.normalize(job(SUCCEEDED)).duration == 274.0


def test_running_job_has_no_duration(adapter) -> None:
    assert adapter.normalize(job(RUNNING)).duration is None


def test_end_before_start_gives_no_duration(adapter) -> None:
    payload = job(SUCCEEDED, start=ENDED, end=STARTED)
    assert adapter.normalize(payload).duration is None


# -- progress -----------------------------------------------------------------------------------


def test_progress_is_the_share_of_terminal_tasks(adapter) -> None:
    tasks = [task("a", "done"), task("b", "skipped"), task("c", "running"), task("d", "waiting")]
    assert adapter.normalize(job(RUNNING, tasks=tasks)).progress == 0.5


def test_progress_of_a_queued_job_is_zero(adapter) -> None:
    assert adapter.normalize(job(QUEUED, tasks=[task("a"), task("b")])).progress == 0.0


def test_progress_of_a_succeeded_job_is_one(adapter) -> None:
    assert adapter.normalize(job(SUCCEEDED)).progress == 1.0


def test_progress_of_a_failed_fast_job_counts_only_tasks_that_ended(adapter) -> None:
    tasks = [
        task("a", "done"),
        task("b", "error"),
        task("c", "canceled", start=STARTED),
        task("d"),
        task("e"),
    ]
    normalized = adapter.normalize(job(FAILED_FAST, tasks=tasks))
    assert [t.state for t in normalized.tasks][-2:] == [JobState.CANCELLED, JobState.CANCELLED]
    assert normalized.progress == 0.6


def test_progress_without_tasks_is_unknown(adapter) -> None:
    assert adapter.normalize(job(RUNNING)).progress is None


# -- other fields -------------------------------------------------------------------------------


def test_identity_fields(adapter) -> None:
    result = adapter.normalize(job())
    assert (result.ref, result.backend, result.type, result.id) == (
        f"ci:{JOB_ID}",
        "ci",
        "prunner",
        JOB_ID,
    )


def test_workflow_is_the_pipeline(adapter) -> None:
    assert adapter.normalize(job(pipeline="nightly_backup")).workflow == "nightly_backup"


def test_user_is_who_scheduled_the_job(adapter) -> None:
    assert adapter.normalize(job(user="m.muster")).user == "m.muster"


def test_empty_user_is_none(adapter) -> None:
    assert adapter.normalize(job(user="")).user is None


def test_inputs_are_the_variables(adapter) -> None:
    variables = {"databases": ["mysql", "postgresql"], "tag_name": "v1.17.4"}
    assert adapter.normalize(job(variables=variables)).inputs == variables


@pytest.mark.parametrize("variables", [None, {}], ids=["null", "empty"])
def test_job_without_variables_has_empty_inputs(adapter, variables) -> None:
    assert adapter.normalize(job(variables=variables)).inputs == {}


def test_job_with_variables_omitted_has_empty_inputs(adapter) -> None:
    payload = job()
    del payload["variables"]
    assert adapter.normalize(payload).inputs == {}


def test_error_names_the_failing_task_and_its_own_error(adapter) -> None:
    tasks = [task("lint", "done"), task("test", "error", errored=True, error="exit status 3")]
    payload = job(FAILED, lastError="exit status 3", tasks=tasks)
    assert adapter.normalize(payload).error == "task test: exit status 3"


def test_fail_fast_error_is_the_failing_task_not_context_canceled(adapter) -> None:
    """prunner's lastError of a job whose failure cancelled running tasks is the cancellation."""
    tasks = [
        task("bad", "error", start=STARTED, errored=True, exitCode=3, error="exit status 3"),
        task("slow", "canceled", start=STARTED),
        task("after"),
    ]
    result = adapter.normalize(job(FAILED_FAST, lastError="context canceled", tasks=tasks))
    assert (result.state, result.error) == (JobState.FAILED, "task bad: exit status 3")


def test_error_of_a_job_still_running_after_a_failure_names_the_task(adapter) -> None:
    tasks = [task("bad", "error", errored=True, error="exit status 4"), task("good", "running")]
    result = adapter.normalize(job(RUNNING, errored=True, tasks=tasks))
    assert (result.state, result.error) == (JobState.RUNNING, "task bad: exit status 4")


def test_every_failing_task_is_named(adapter) -> None:
    tasks = [
        task("a", "error", errored=True, error="exit status 4"),
        task("b", "error", errored=True, exitCode=2),
    ]
    assert adapter.normalize(job(FAILED, tasks=tasks)).error == (
        "task a: exit status 4; task b: exit status 2"
    )


@pytest.mark.parametrize("flags", [CANCELLED_RUNNING, CANCELLED_BEFORE_START, RESTORED], ids=str)
def test_job_cancelled_by_its_user_has_no_error(adapter, flags) -> None:
    result = adapter.normalize(job(flags, lastError="context canceled", tasks=[task("a")]))
    assert (result.state, result.error) == (JobState.CANCELLED, None)


def test_job_that_could_not_start_is_failed_with_the_reason(adapter) -> None:
    reason = "variable name __jobID is reserved for internal use"
    result = adapter.normalize(job(CANCELLED_BEFORE_START, lastError=reason, tasks=[task("a")]))
    assert (result.state, result.error, result.progress) == (JobState.FAILED, reason, 0.0)


def test_job_restored_after_a_restart_reads_like_a_live_cancel(adapter) -> None:
    """A restart marks the running job's unfinished tasks canceled, even those never run."""
    restored = job(
        RESTORED,
        tasks=[task("sleeper", "canceled", start=STARTED), task("next", "canceled", exitCode=0)],
    )
    live = job(
        CANCELLED_RUNNING,
        lastError="context canceled",
        tasks=[task("sleeper", "canceled", start=STARTED), task("next", exitCode=0)],
    )
    after, before = adapter.normalize(restored), adapter.normalize(live)
    assert after.state is before.state is JobState.CANCELLED and after.state.terminal
    assert after.progress == before.progress == 0.5
    assert after.error is before.error is None
    assert [(t.state, t.exit_code) for t in after.tasks] == [
        (t.state, t.exit_code) for t in before.tasks
    ]


@pytest.mark.parametrize("last_error", [None, ""], ids=["null", "empty"])
def test_job_without_any_error_has_no_error(adapter, last_error) -> None:
    assert adapter.normalize(job(SUCCEEDED, lastError=last_error)).error is None


def test_fields_jobhub_does_not_know_are_kept_in_raw(adapter) -> None:
    payload = job(RUNNING, startDelay="5s")
    assert adapter.normalize(payload).raw["startDelay"] == "5s"


def test_raw_is_the_payload_itself(adapter) -> None:
    payload = job(FAILED_FAST, tasks=[task("test", "error")])
    assert adapter.normalize(payload).raw is payload


def test_payload_is_not_changed(adapter) -> None:
    payload = job(FAILED_FAST, tasks=[task("test", "error"), task("deploy")])
    before = repr(payload)
    adapter.normalize(payload)
    assert repr(payload) == before


def test_documented_example_normalizes(adapter) -> None:
    # The `GET /job/detail` doc page's example, `Z` variant (docs/004).
    example = {
        "canceled": True,
        "completed": True,
        "created": "2025-05-04T09:42:00Z",
        "end": "2025-05-04T09:42:00Z",
        "errored": True,
        "id": "string",
        "lastError": "string",
        "pipeline": "my_pipeline",
        "start": "2025-05-04T09:42:00Z",
        "tasks": [
            {
                "dependsOn": ["string"],
                "end": "2025-05-04T09:42:00Z",
                "error": "string",
                "errored": True,
                "exitCode": 42,
                "name": "task_name",
                "skipped": True,
                "start": "2025-05-04T09:42:00Z",
                "status": "waiting",
            }
        ],
        "user": "j.doe",
        "variables": {"tags": ["foo", "bar"]},
    }
    result = adapter.normalize(example)
    assert (result.state, result.workflow, result.user) == (JobState.FAILED, "my_pipeline", "j.doe")
    assert result.inputs == {"tags": ["foo", "bar"]}
    assert result.tasks[0].exit_code == 42


# -- unreadable payloads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(None, id="null"),
        pytest.param([job()], id="a list"),
        pytest.param("52a5cb79", id="a string"),
        pytest.param({"pipeline": "release"}, id="no id"),
        pytest.param(job(id=""), id="empty id"),
        pytest.param(job(id=52), id="numeric id"),
        pytest.param(job(tasks={"build": {}}), id="tasks not a list"),
        pytest.param(job(tasks=[{"status": "done"}]), id="task without name"),
        pytest.param(job(tasks=["build"]), id="task not an object"),
        pytest.param(job(start=1755259201), id="numeric time"),
        pytest.param(job(tasks=[task(exitCode=1.5)]), id="fractional exit code"),
        pytest.param(job(variables=["tag"]), id="variables not an object"),
        pytest.param(job(completed="maybe"), id="completed not a boolean"),
    ],
)
def test_unreadable_payload_is_invalid_payload(adapter, payload) -> None:
    with pytest.raises(InvalidPayload) as caught:
        adapter.normalize(payload)
    assert caught.value.backend == "ci"
    assert caught.value.raw is payload
    assert "prunner backend 'ci'" in str(caught.value)


def test_invalid_payload_names_the_unreadable_field(adapter) -> None:
    with pytest.raises(InvalidPayload, match=r"tasks\.0\.name"):
        adapter.normalize(job(tasks=[{"status": "done"}]))


def test_an_unreadable_time_is_null_and_the_job_still_started(adapter) -> None:
    normalized = adapter.normalize(
        job(start="yesterday", tasks=[task("build", "running", end="soon")])
    )
    assert (normalized.started_at, normalized.state) == (None, JobState.RUNNING)
    assert normalized.tasks[0].finished_at is None
    assert normalized.raw["start"] == "yesterday"
