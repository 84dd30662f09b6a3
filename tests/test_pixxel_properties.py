"""Whatever Pixxel sends, `normalize` answers with a `Job` or `InvalidPayload` — nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobhub_pixxel.adapter import PixxelAdapter

from jobhub import Hub
from jobhub.errors import InvalidPayload
from jobhub.model import Job
from tests import specs
from tests.conftest import SECRET

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=16,
)
# Values that look like what Pixxel sends, so generated payloads get past the first checks.
WORDS = st.sampled_from(["running", "TaskFailed", "created", "completed", "", "?"])
TIMES = st.sampled_from(["", "2025-03-04T09:15:01.993847Z", "0001-01-01T00:00:00Z", "x"])
ALMOST = JSON | WORDS | TIMES | st.lists(st.integers(-1, 300), max_size=8)
TASK_FIELDS = ["id", "name", "status", "progress", "depends_on", "created_at", "finished_at"]
TASK_FIELDS += ["block_inf_start_time", "block_inf_end_time", "err_msg", "failure_type"]
TASK_FIELDS += ["result", "inputs", "info_logs"]
JOB_FIELDS = ["status", "progress", "cost", "created_by", "created_at", "exec_created_at"]
JOB_FIELDS += ["finished_at", "time_taken", "spec", "inputs", "val_errors"]
TASK_LIKE = st.fixed_dictionaries({}, optional=dict.fromkeys(TASK_FIELDS, ALMOST))
JOB_LIKE = st.fixed_dictionaries(
    {"id": st.text(max_size=8) | JSON, "workflow_id": st.text(max_size=8) | JSON},
    optional={**dict.fromkeys(JOB_FIELDS, ALMOST), "tasks": st.lists(TASK_LIKE, max_size=4)},
)


@pytest.fixture(scope="module")
def adapter() -> PixxelAdapter:
    pixxel = Hub({"pixxel": {"api_key": SECRET}}, env={}).backends["pixxel"]
    assert isinstance(pixxel, PixxelAdapter)
    return pixxel


def job_or_invalid(adapter: PixxelAdapter, payload: Any, **kwargs: Any) -> Job | None:
    try:
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
