"""`PixxelAdapter.normalize`: every row of the state table for jobs and tasks, progress, times,
duration, inputs/outputs, errors, and the payloads it must refuse with `InvalidPayload`."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from jobhub_pixxel.adapter import PixxelAdapter

from jobhub import Hub, JobState
from jobhub.errors import InvalidPayload
from jobhub.model import Job
from tests.conftest import SECRET

S = JobState

# The design's state table, Pixxel column.
STATE_TABLE = [
    ("created", S.PENDING),
    ("pending", S.PENDING),
    ("queued", S.QUEUED),
    ("running", S.RUNNING),
    ("inprogress", S.RUNNING),
    ("in_progress", S.RUNNING),
    ("started", S.RUNNING),
    ("TaskStarted", S.RUNNING),
    ("TaskInprogress", S.RUNNING),
    ("completed", S.SUCCEEDED),
    ("success", S.SUCCEEDED),
    ("succeeded", S.SUCCEEDED),
    ("done", S.SUCCEEDED),
    ("TaskCompleted", S.SUCCEEDED),
    ("failed", S.FAILED),
    ("error", S.FAILED),
    ("TaskFailed", S.FAILED),
    ("cancelled", S.CANCELLED),
    ("canceled", S.CANCELLED),
    ("stopped", S.CANCELLED),
    ("aborted", S.CANCELLED),
]
CASE_VARIANTS = [(word.upper(), state) for word, state in STATE_TABLE] + [
    (word.swapcase(), state) for word, state in STATE_TABLE if word.startswith("Task")
]


@pytest.fixture
def adapter() -> PixxelAdapter:
    pixxel = Hub({"pixxel": {"api_key": SECRET}}, env={}).backends["pixxel"]
    assert isinstance(pixxel, PixxelAdapter)
    return pixxel


def job(**fields: Any) -> dict[str, Any]:
    return {"id": "job-1", "workflow_id": "wf-1", "status": "running", **fields}


def task(name: str = "ingest", **fields: Any) -> dict[str, Any]:
    return {"id": f"id-{name}", "name": name, "status": "inprogress", **fields}


# -- states -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "state"), STATE_TABLE + CASE_VARIANTS)
def test_job_status_maps_to_canonical_state(
    adapter: PixxelAdapter, word: str, state: JobState
) -> None:
    normalized = adapter.normalize(job(status=word))
    assert (normalized.state, normalized.status) == (state, word)


@pytest.mark.parametrize(("word", "state"), STATE_TABLE + CASE_VARIANTS)
def test_task_status_maps_to_canonical_state(
    adapter: PixxelAdapter, word: str, state: JobState
) -> None:
    normalized = adapter.normalize(job(tasks=[task(status=word)]))
    assert (normalized.tasks[0].state, normalized.tasks[0].status) == (state, word)


def test_unknown_status_is_unknown_keeping_the_word(
    adapter: PixxelAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        normalized = adapter.normalize(job(status="Hibernating-7f3a"))
    assert (normalized.state, normalized.status) == (S.UNKNOWN, "Hibernating-7f3a")
    assert "Hibernating-7f3a" in caplog.text


def test_missing_status_is_unknown(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize({"id": "job-1", "workflow_id": "wf-1"})
    assert (normalized.state, normalized.status) == (S.UNKNOWN, None)


@pytest.mark.parametrize("job_status", ["completed", "failed", "aborted"])
@pytest.mark.parametrize("task_status", ["created", "pending", "queued"])
def test_unstarted_task_in_an_ended_job_is_cancelled(
    adapter: PixxelAdapter, job_status: str, task_status: str
) -> None:
    normalized = adapter.normalize(job(status=job_status, tasks=[task(status=task_status)]))
    assert (normalized.tasks[0].state, normalized.tasks[0].status) == (S.CANCELLED, task_status)


@pytest.mark.parametrize(("task_status", "state"), [("created", S.PENDING), ("queued", S.QUEUED)])
def test_unstarted_task_in_a_running_job_keeps_waiting(
    adapter: PixxelAdapter, task_status: str, state: JobState
) -> None:
    normalized = adapter.normalize(job(status="running", tasks=[task(status=task_status)]))
    assert normalized.tasks[0].state is state


def test_started_task_in_an_ended_job_keeps_its_state(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(status="failed", tasks=[task(status="TaskFailed")]))
    assert normalized.tasks[0].state is S.FAILED


# -- progress -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "fraction"),
    [("45", 0.45), ("45.5", 0.455), ("45%", 0.45), ("", None), ("n/a", None), ("120", 1.0)],
)
def test_job_progress_string_becomes_a_fraction(
    adapter: PixxelAdapter, reported: str, fraction: float | None
) -> None:
    assert adapter.normalize(job(progress=reported)).progress == fraction


@pytest.mark.parametrize(
    ("reported", "fraction"), [(0, 0.0), (42.5, 0.425), (100, 1.0), (None, None), ("x", None)]
)
def test_task_progress_number_becomes_a_fraction(
    adapter: PixxelAdapter, reported: Any, fraction: float | None
) -> None:
    normalized = adapter.normalize(job(tasks=[task(progress=reported)]))
    assert normalized.tasks[0].progress == fraction


def test_succeeded_task_is_complete_whatever_it_reported(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(tasks=[task(status="success", progress=0)]))
    assert normalized.tasks[0].progress == 1.0


def test_succeeded_job_is_complete_whatever_it_reported(adapter: PixxelAdapter) -> None:
    assert adapter.normalize(job(status="completed", progress="40")).progress == 1.0


def test_job_without_a_figure_counts_ended_tasks(adapter: PixxelAdapter) -> None:
    tasks = [
        task("a", status="completed"),
        task("b", status="failed"),
        task("c", status="inprogress"),
        task("d", status="created"),
    ]
    assert adapter.normalize(job(progress="", tasks=tasks)).progress == 0.5


def test_ended_job_progress_does_not_count_tasks_it_never_ran(adapter: PixxelAdapter) -> None:
    tasks = [task("a", status="completed"), task("b", status="failed"), task("c", status="created")]
    normalized = adapter.normalize(job(status="failed", progress="", tasks=tasks))
    assert normalized.progress == pytest.approx(2 / 3)


def test_job_without_figure_or_tasks_has_no_progress(adapter: PixxelAdapter) -> None:
    assert adapter.normalize(job(status="running")).progress is None


# -- times and duration -------------------------------------------------------------------------


def test_job_times_come_from_created_exec_created_and_finished(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(
            created_at="2025-03-02T13:59:57.8Z",
            exec_created_at="2025-03-02T14:00:02.05+00:00",
            finished_at="2025-03-02T19:36:10.25+05:30",
        )
    )
    assert normalized.created_at == datetime(2025, 3, 2, 13, 59, 57, 800000, tzinfo=UTC)
    assert normalized.started_at == datetime(2025, 3, 2, 14, 0, 2, 50000, tzinfo=UTC)
    assert normalized.finished_at == datetime(2025, 3, 2, 14, 6, 10, 250000, tzinfo=UTC)


def test_empty_times_are_null(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(created_at="", exec_created_at="", finished_at=""))
    assert (normalized.created_at, normalized.started_at, normalized.finished_at) == (
        None,
        None,
        None,
    )


def test_duration_prefers_execution_timestamps_over_time_taken(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(
            exec_created_at="2025-03-02T14:00:00Z",
            finished_at="2025-03-02T14:01:30Z",
            time_taken="9h",
        )
    )
    assert normalized.duration == 90.0


@pytest.mark.parametrize(
    ("time_taken", "duration"),
    [("1h2m3.5s", 3723.5), ("1m2.5s", 62.5), ("150ms", 0.15), ("12.5", 12.5), ("00:03:41", 221.0)],
)
def test_duration_falls_back_to_time_taken(
    adapter: PixxelAdapter, time_taken: str, duration: float
) -> None:
    normalized = adapter.normalize(job(finished_at="2025-03-02T14:01:30Z", time_taken=time_taken))
    assert normalized.duration == pytest.approx(duration)


def test_unreadable_time_taken_is_null_and_stays_in_raw(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(time_taken="about a minute"))
    assert normalized.duration is None
    assert normalized.raw["time_taken"] == "about a minute"


def test_finish_before_start_falls_back_to_time_taken(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(
            exec_created_at="2025-03-02T14:05:00Z",
            finished_at="2025-03-02T14:00:00Z",
            time_taken="5m",
        )
    )
    assert normalized.duration == 300.0


def test_task_times_prefer_inference_start_and_finished_at(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(
            tasks=[
                task(
                    status="completed",
                    created_at="2025-03-02T14:00:00Z",
                    block_inf_start_time="2025-03-02T14:00:05Z",
                    block_inf_end_time="2025-03-02T14:01:00Z",
                    finished_at="2025-03-02T14:01:01Z",
                )
            ]
        )
    )
    started, finished = normalized.tasks[0].started_at, normalized.tasks[0].finished_at
    assert started == datetime(2025, 3, 2, 14, 0, 5, tzinfo=UTC)
    assert finished == datetime(2025, 3, 2, 14, 1, 1, tzinfo=UTC)


def test_task_times_fall_back_to_created_and_inference_end(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(
            tasks=[
                task(
                    status="completed",
                    created_at="2025-03-02T14:00:00Z",
                    block_inf_start_time="",
                    block_inf_end_time="2025-03-02T14:01:00Z",
                    finished_at="",
                )
            ]
        )
    )
    started, finished = normalized.tasks[0].started_at, normalized.tasks[0].finished_at
    assert started == datetime(2025, 3, 2, 14, 0, tzinfo=UTC)
    assert finished == datetime(2025, 3, 2, 14, 1, tzinfo=UTC)


def test_pending_task_has_no_start_even_when_created(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(tasks=[task(status="created", created_at="2025-03-02T14:00:00Z")])
    )
    assert normalized.tasks[0].started_at is None


# -- inputs and outputs -------------------------------------------------------------------------

SPEC = {"name": "ndvi", "blocks": [{"name": "ingest", "params": {"cloud_max": 0.2}}]}
SPEC_BYTES = json.dumps(SPEC).encode()


@pytest.mark.parametrize(
    "spec",
    [SPEC, list(SPEC_BYTES), base64.b64encode(SPEC_BYTES).decode()],
    ids=["json-value", "byte-list", "base64"],
)
def test_inputs_are_the_decoded_spec(adapter: PixxelAdapter, spec: Any) -> None:
    assert adapter.normalize(job(spec=spec)).inputs == SPEC


@pytest.mark.parametrize(
    "spec", [[999, 1], "not base64!", list(b"not json")], ids=["not-bytes", "text", "bytes"]
)
def test_undecodable_spec_is_kept_as_given(adapter: PixxelAdapter, spec: Any) -> None:
    assert adapter.normalize(job(spec=spec)).inputs == spec


def test_job_inputs_field_wins_over_spec(adapter: PixxelAdapter) -> None:
    inputs = {"aoi": "bengaluru"}
    normalized = adapter.normalize(
        job(spec=list(SPEC_BYTES), inputs=base64.b64encode(json.dumps(inputs).encode()).decode())
    )
    assert normalized.inputs == inputs


def test_outputs_map_task_names_to_decoded_results(adapter: PixxelAdapter) -> None:
    tasks = [
        task("ingest", result=list(b'{"scenes": 2}')),
        task("mask", result=base64.b64encode(b'{"cloud": 0.1}').decode()),
        task("ndvi", result=None),
        task("export", result=[]),
    ]
    assert adapter.normalize(job(tasks=tasks)).outputs == {
        "ingest": {"scenes": 2},
        "mask": {"cloud": 0.1},
    }


def test_no_task_results_means_no_outputs(adapter: PixxelAdapter) -> None:
    assert adapter.normalize(job(tasks=[task()])).outputs is None


# -- errors -------------------------------------------------------------------------------------


def test_val_errors_become_a_readable_message(adapter: PixxelAdapter) -> None:
    val_error = {
        "from": "cloud_mask",
        "to": "ndvi",
        "err": "band B08 missing",
        "reason": "ndvi needs B04 and B08",
        "component_name": "ndvi",
    }
    assert adapter.normalize(job(val_errors=[val_error])).error == (
        "validation error in ndvi (cloud_mask → ndvi): band B08 missing (ndvi needs B04 and B08)"
    )


def test_several_val_errors_are_joined(adapter: PixxelAdapter) -> None:
    errors = [{"err": "unknown block pixxel/foo"}, {"err": "cycle", "component_name": "b"}]
    assert adapter.normalize(job(val_errors=errors)).error == (
        "validation error: unknown block pixxel/foo; validation error in b: cycle"
    )


def test_empty_val_errors_are_no_error(adapter: PixxelAdapter) -> None:
    empty = {"from": "", "to": "", "err": "", "reason": "", "component_name": ""}
    assert adapter.normalize(job(val_errors=[empty])).error is None


@pytest.mark.parametrize(
    ("err_msg", "failure_type", "message"),
    [
        ("CUDA out of memory", "runtime_exception", "CUDA out of memory (runtime_exception)"),
        ("AOI is empty", "", "AOI is empty"),
        ("", "bad_request", "bad_request"),
        ("", "", None),
    ],
)
def test_task_error_joins_err_msg_and_failure_type(
    adapter: PixxelAdapter, err_msg: str, failure_type: str, message: str | None
) -> None:
    normalized = adapter.normalize(
        job(tasks=[task("mask", status="failed", err_msg=err_msg, failure_type=failure_type)])
    )
    assert normalized.tasks[0].error == message
    assert normalized.error == (f"task mask: {message}" if message else None)


def test_job_error_lists_validation_then_task_errors(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(
            status="failed",
            val_errors=[{"err": "bad edge"}],
            tasks=[task("a", err_msg="boom"), task("b", err_msg="bang", failure_type="unknown")],
        )
    )
    assert normalized.error == "validation error: bad edge; task a: boom; task b: bang (unknown)"


def test_non_text_error_fields_are_rendered_as_text(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(tasks=[task(err_msg={"code": 137}, failure_type=3)]))
    assert normalized.tasks[0].error == '{"code": 137} (3)'


# -- other fields -------------------------------------------------------------------------------


def test_user_cost_and_workflow(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(created_by="user-7", cost=12))
    assert (normalized.user, normalized.cost, normalized.workflow) == ("user-7", 12.0, "wf-1")


@pytest.mark.parametrize("cost", ["lots", True, None, [1]])
def test_unreadable_cost_is_null(adapter: PixxelAdapter, cost: Any) -> None:
    assert adapter.normalize(job(cost=cost)).cost is None


def test_task_fields(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(
        job(tasks=[task("ndvi", id="t-9", status="TaskStarted", depends_on=["mask", "ingest"])])
    )
    (only,) = normalized.tasks
    assert (only.name, only.id, only.depends_on, only.exit_code) == (
        "ndvi",
        "t-9",
        ["mask", "ingest"],
        None,
    )


def test_task_without_name_is_named_by_id_then_position(adapter: PixxelAdapter) -> None:
    tasks = [{"id": "t-1", "status": "created"}, {"status": "created"}]
    assert [t.name for t in adapter.normalize(job(tasks=tasks)).tasks] == ["t-1", "task-2"]


def test_task_raw_is_the_task_object_sent(adapter: PixxelAdapter) -> None:
    sent = task(block_info={"name": "ndvi", "version": "1.0.7"})
    assert adapter.normalize(job(tasks=[sent])).tasks[0].raw is sent


def test_raw_is_the_payload_itself(adapter: PixxelAdapter) -> None:
    payload = job(estimated_duration=420, exec_updated_at="")
    assert adapter.normalize(payload).raw is payload


def test_list_item_without_workflow_id_uses_the_given_workflow(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize({"id": "job-1", "status": "queued"}, workflow_id="wf-9")
    assert (normalized.id, normalized.workflow) == ("wf-9/job-1", "wf-9")


def test_normalized_job_serializes_to_json(adapter: PixxelAdapter) -> None:
    normalized = adapter.normalize(job(spec=list(b'{"x": NaN}'), tasks=[task()]))
    dumped = normalized.model_dump_json()
    assert Job.model_validate_json(dumped).id == "wf-1/job-1"


# -- refused payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "job",
        42,
        {},
        {"workflow_id": "wf-1", "status": "running"},
        job(id=""),
        job(id=7),
        job(id="  "),
        {"id": "job-1", "status": "running"},
        job(workflow_id="a/b"),
        job(workflow_id=["wf"]),
        job(status=3),
        job(tasks="ingest"),
        job(tasks=[1, 2]),
        job(tasks=[task(depends_on="ingest")]),
        job(tasks=[task(depends_on=[1])]),
        job(val_errors={"err": "x"}),
        job(created_by=5),
    ],
    ids=lambda p: json.dumps(p)[:40],
)
def test_unreadable_payload_is_invalid_payload(adapter: PixxelAdapter, payload: Any) -> None:
    with pytest.raises(InvalidPayload) as caught:
        adapter.normalize(payload)
    assert caught.value.backend == "pixxel"
    assert caught.value.raw is payload


def test_invalid_payload_names_the_field(adapter: PixxelAdapter) -> None:
    with pytest.raises(InvalidPayload, match=r"tasks\.0\.depends_on"):
        adapter.normalize(job(tasks=[task(depends_on="ingest")]))
