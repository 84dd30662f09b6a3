"""Property tests: whatever Sieve sends, the adapter answers with a `Job` (or a page, or an
error) or raises `InvalidPayload` — never anything else."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobhub_sieve.adapter import SIEVE_STATES, SieveAdapter
from jobhub_sieve.wire import read_job
from pydantic import ValidationError

from jobhub.backend import Page
from jobhub.errors import InvalidPayload, JobHubError
from jobhub.model import Job, JobState
from tests import specs
from tests.conftest import SECRET

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# costlier examples (many fields, or two calls per example): fewer of them
COSTLY = settings(PROPERTY, max_examples=100)
JSON = specs._json_strategy()
FIELD_JSON = specs._json_strategy(max_leaves=4)
JOB_SCHEMA = specs.schema("sieve", "Job")
SPEC_JOBS = specs.strategy(JOB_SCHEMA)
SPEC_PAGES = specs.strategy(specs.schema("sieve", "ListResponse_Job_"))
FIELDS = sorted(JOB_SCHEMA["properties"])

ADAPTER = SieveAdapter("sieve", SieveAdapter.settings_from("sieve", {"api_key": SECRET}, {}))


def read(payload: Any) -> Job | None:
    """normalize → the Job, or None for InvalidPayload; any other exception fails the test."""
    try:
        job = ADAPTER.normalize(payload)
    except InvalidPayload as exc:
        assert exc.backend == "sieve"
        return None
    assert isinstance(job, Job)
    return job


@PROPERTY
@given(JSON)
def test_any_json_is_a_job_or_invalid(payload: Any) -> None:
    read(payload)


@COSTLY
@given(
    st.fixed_dictionaries(
        {"id": st.text() | FIELD_JSON},
        optional={field: FIELD_JSON for field in FIELDS if field != "id"},
    )
)
def test_any_json_in_the_jobs_fields_is_a_job_or_invalid(payload: dict[str, Any]) -> None:
    read(payload)


@COSTLY
@given(SPEC_JOBS)
def test_every_job_the_spec_allows_is_read(payload: dict[str, Any]) -> None:
    job = read(payload)
    if payload["id"] == "":
        assert job is None  # an empty id cannot address a job
        return
    assert job is not None
    assert job.raw is payload
    assert job.id == payload["id"]
    assert job.state is SIEVE_STATES(payload.get("status"))
    assert job.progress == (1.0 if job.state is JobState.SUCCEEDED else None)
    for when in (job.created_at, job.started_at, job.finished_at):
        assert when is None or when.utcoffset() is not None


@COSTLY
@given(SPEC_JOBS, st.sampled_from(FIELDS), JSON)
def test_a_spec_job_with_one_field_replaced_by_any_json_is_a_job_or_invalid(
    payload: dict[str, Any], field: str, value: Any
) -> None:
    read({**payload, field: value})


@COSTLY
@given(SPEC_JOBS, st.sampled_from(FIELDS), JSON)
def test_a_job_is_read_as_the_wire_model_reads_it(
    payload: dict[str, Any], field: str, value: Any
) -> None:
    """The reader takes a payload of JSON's own types straight from its dicts: what it gives
    is what Sieve's schema, strictly validated, gives, and what the schema refuses it refuses."""
    changed = {**payload, field: value}
    try:
        schema_fields = read_job(changed).model_dump()
    except ValidationError:
        assert read(changed) is None
        return
    job, from_schema = read(changed), read(schema_fields)
    assert (job is None) == (from_schema is None)
    if job is not None and from_schema is not None:
        assert job.raw is changed
        assert job.model_copy(update={"raw": None}) == from_schema.model_copy(update={"raw": None})


@COSTLY
@given(SPEC_PAGES | st.lists(SPEC_JOBS, max_size=3) | JSON, st.sampled_from([None, "sieve/x"]))
def test_any_job_list_is_a_page_or_invalid(body: Any, workflow: str | None) -> None:
    call = ADAPTER.list_jobs(workflow=workflow, limit=3)
    response = httpx.Response(200, content=json.dumps(body).encode(), request=call.request)
    try:
        page = call.parse(response)
    except InvalidPayload:
        return
    assert isinstance(page, Page)
    assert all(isinstance(job, Job) for job in page.jobs)


@PROPERTY
@given(
    st.integers(min_value=400, max_value=599),
    JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=300),
)
def test_any_error_answer_maps_to_a_jobhub_error(status: int, content: bytes) -> None:
    response = httpx.Response(status, content=content)
    detail = ADAPTER.error_detail(response)
    assert detail is None or isinstance(detail, str)
    error = ADAPTER.error(response)
    assert isinstance(error, JobHubError)
    assert error.status_code == status


@pytest.mark.parametrize("operation", ["cancel", "await"])
@COSTLY
@given(
    st.integers(min_value=400, max_value=599),
    JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=300),
)
def test_call_specific_error_mappings_accept_any_answer(
    operation: str, status: int, content: bytes
) -> None:
    call = ADAPTER.cancel_job("j") if operation == "cancel" else ADAPTER.await_job("j")
    assert call.on_error is not None
    error = call.on_error(httpx.Response(status, content=content, request=call.request))
    assert error is None or isinstance(error, JobHubError)
