"""Whatever Pixxel sends, `normalize` answers with a `Job` or `InvalidPayload` — nothing else."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobhub_pixxel.adapter import PixxelAdapter
from jobhub_pixxel.normalize import to_jobs

from jobhub import Hub, JobState
from jobhub.errors import InvalidPayload
from jobhub.http import interpret
from jobhub.model import Job
from tests import specs
from tests.conftest import SECRET

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=16,
)
# A field's value of the wrong type: the reader looks at its type, not far into it (deep and
# huge values are tests/test_fuzz_adapters.py's), and small values halve each example's cost.
FIELD_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=4,
)
# Values that look like what Pixxel sends, so generated payloads get past the first checks.
WORDS = st.sampled_from(["running", "TaskFailed", "created", "completed", "", "?"])
TIMES = st.sampled_from(["", "2025-03-04T09:15:01.993847Z", "0001-01-01T00:00:00Z", "x"])
ALMOST = FIELD_JSON | WORDS | TIMES | st.lists(st.integers(-1, 300), max_size=8)
TASK_FIELDS = ["id", "name", "status", "progress", "depends_on", "created_at", "finished_at"]
TASK_FIELDS += ["block_inf_start_time", "block_inf_end_time", "err_msg", "failure_type"]
TASK_FIELDS += ["result", "inputs", "info_logs"]
JOB_FIELDS = ["status", "progress", "cost", "created_by", "created_at", "exec_created_at"]
JOB_FIELDS += ["finished_at", "time_taken", "spec", "inputs", "val_errors"]
TASK_LIKE = st.fixed_dictionaries({}, optional=dict.fromkeys(TASK_FIELDS, ALMOST))
JOB_LIKE = st.fixed_dictionaries(
    {"id": st.text(max_size=8) | FIELD_JSON, "workflow_id": st.text(max_size=8) | FIELD_JSON},
    optional={**dict.fromkeys(JOB_FIELDS, ALMOST), "tasks": st.lists(TASK_LIKE, max_size=4)},
)


@pytest.fixture(scope="module")
def adapter() -> PixxelAdapter:
    pixxel = Hub({"pixxel": {"api_key": SECRET}}, env={}).backends["pixxel"]
    assert isinstance(pixxel, PixxelAdapter)
    return pixxel


def job_or_invalid(
    adapter: PixxelAdapter, payload: Any, *, listed: bool = False, **kwargs: Any
) -> Job | None:
    """`payload` read as a job answer, or (`listed`) as the one item of a listing."""
    try:
        if listed:
            [job] = to_jobs(adapter, [payload], **kwargs)
        else:
            job = adapter.normalize(payload, **kwargs)
    except InvalidPayload as exc:
        assert exc.backend == "pixxel"
        return None
    assert isinstance(job, Job)
    assert job.raw is payload
    assert job.id.startswith(f"{job.workflow}/")
    job.model_dump_json()  # every normalized job can be printed as JSON
    return job


@given(payload=JSON)
@PROPERTY
def test_arbitrary_json_is_a_job_or_invalid(adapter: PixxelAdapter, payload: Any) -> None:
    job_or_invalid(adapter, payload)


@given(payload=JOB_LIKE)
@PROPERTY
def test_job_shaped_payloads_are_a_job_or_invalid(adapter: PixxelAdapter, payload: Any) -> None:
    job_or_invalid(adapter, payload)


@given(payload=specs.strategy(specs.schema("pixxel", "dexter.GetJobByIdTransformerResponse")))
@PROPERTY
def test_schema_jobs_are_a_job_or_invalid(adapter: PixxelAdapter, payload: Any) -> None:
    job_or_invalid(adapter, payload)


@given(payload=specs.strategy(specs.schema("pixxel", "dexter.ListJobsItem")))
@PROPERTY
def test_schema_list_items_are_a_job_or_invalid(adapter: PixxelAdapter, payload: Any) -> None:
    job_or_invalid(adapter, payload, workflow_id="wf-1")
    job_or_invalid(adapter, payload, listed=True, workflow_id="wf-1")


@given(
    payload=specs.strategy(
        specs.schema("pixxel", "dexter.GetJobByIdTransformerResponse"), optional_fields=False
    )
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_complete_schema_jobs_with_ids_always_normalize(
    adapter: PixxelAdapter, payload: Any
) -> None:
    """With every field present and usable ids, the spec's shape always reads as a Job."""
    payload["id"], payload["workflow_id"] = "job-1", "wf-1"
    assert job_or_invalid(adapter, payload) is not None


LIST_ITEM_FIELDS = ["status", "progress", "cost", "created_by", "created_at", "finished_at"]
LIST_ITEM_FIELDS += ["updated_at", "time_taken", "estimated_duration"]
LIST_ITEM_LIKE = st.fixed_dictionaries(
    {"id": st.text(max_size=8) | FIELD_JSON},
    optional={
        **dict.fromkeys(LIST_ITEM_FIELDS, ALMOST),
        "workflow_id": st.sampled_from(["", "wf-1", "a/b"]) | FIELD_JSON,
        "time_taken": st.sampled_from(["6m12.4s", "1h0m3s", "150ms", "12.5", "", "x"]) | ALMOST,
        "progress": st.sampled_from(["45", "45.5%", "", "100"]) | ALMOST,
    },
)


@given(items=st.lists(LIST_ITEM_LIKE, max_size=4))
@PROPERTY
def test_a_listing_reads_each_item_as_the_full_job_reader_does(
    adapter: PixxelAdapter, items: list[Any]
) -> None:
    """List items take a path of their own; an empty task list sends the same job through the
    reader of full jobs, which must give the same Job (or refuse it the same way)."""
    for item in items:
        listed = job_or_invalid(adapter, item, listed=True, workflow_id="wf-9")
        as_full = job_or_invalid(adapter, {**item, "tasks": []}, workflow_id="wf-9")
        if listed is None or as_full is None:
            assert listed is as_full
            continue
        assert listed.model_dump(exclude={"raw"}) == as_full.model_dump(exclude={"raw"})


def test_a_listing_answer_reads_every_item_in_order(adapter: PixxelAdapter) -> None:
    items = [
        {"id": "a", "status": "completed", "created_at": "2025-08-15T12:00:00Z"},
        {"id": "b", "status": "running", "progress": "40", "tasks": [{"name": "x"}]},
        {"id": "c", "status": "failed", "created_at": "2025-08-15T12:00:00Z", "time_taken": "3s"},
    ]
    call = adapter.list_jobs(workflow="wf-1")
    page = interpret(adapter, call, httpx.Response(200, json={"jobs": items}, request=call.request))
    assert [job.id for job in page.jobs] == ["wf-1/a", "wf-1/b", "wf-1/c"]
    assert [job.raw for job in page.jobs] == items
    assert page.jobs[0].created_at == page.jobs[2].created_at
    assert (page.jobs[1].progress, page.jobs[1].tasks[0].name) == (0.4, "x")
    assert (page.jobs[2].state, page.jobs[2].duration) == (JobState.FAILED, 3.0)
