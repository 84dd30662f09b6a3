"""Whatever prunner (or anything at its url) sends, normalize gives a Job or InvalidPayload."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobhub_prunner.adapter import PrunnerAdapter

from jobhub.backend import Page
from jobhub.errors import InvalidPayload
from jobhub.model import Job
from tests import specs

ADAPTER = PrunnerAdapter("ci", PrunnerAdapter.settings_from("ci", {}, env={}))
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=8,
)
# A field's value of the wrong type: the reader looks at its type, not far into it (deep and
# huge values are tests/test_fuzz_adapters.py's), and a small one costs less to draw.
FIELD_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=3,
)
# prunner's field names with any JSON as values: wrong types where prunner's are expected.
TASK_KEYS = ["name", "status", "start", "end", "dependsOn", "exitCode", "errored", "error"]
JOB_KEYS = ["id", "pipeline", "completed", "canceled", "errored", "created", "start", "end"]
MISTYPED = st.fixed_dictionaries(
    {},
    optional={
        **{key: FIELD_JSON for key in [*JOB_KEYS, "lastError", "variables", "user"]},
        "tasks": st.lists(
            st.fixed_dictionaries({}, optional={key: FIELD_JSON for key in TASK_KEYS}), max_size=3
        ),
    },
)
# prunner's swagger, corrected: `start` and `end` are null until set.
JOB_PAYLOADS = specs.strategy(specs.allow_null(specs.schema("prunner", "job"), "start", "end"))
LISTINGS = specs.strategy(specs.response_schema("prunner", "/pipelines/jobs", "get", 200))


def normalized(payload: Any) -> Job | InvalidPayload:
    try:
        return ADAPTER.normalize(payload)
    except InvalidPayload as exc:
        return exc


def assert_canonical(job: Job, payload: Any) -> None:
    assert job.raw is payload
    assert job.backend == "ci" and job.ref == f"ci:{job.id}"
    for when in (job.created_at, job.started_at, job.finished_at):
        assert when is None or when.utcoffset() is not None
    assert job.progress is None or 0.0 <= job.progress <= 1.0
    if job.state.terminal:
        assert not any(task.state.value == "pending" for task in job.tasks)


@EXAMPLES
@given(JSON | MISTYPED)
def test_arbitrary_json_gives_a_job_or_invalid_payload(payload: Any) -> None:
    result = normalized(payload)
    if isinstance(result, Job):
        assert_canonical(result, payload)
    else:
        assert result.backend == "ci"


@EXAMPLES
@given(JOB_PAYLOADS)
def test_schema_payloads_give_a_job_or_invalid_payload(payload: Any) -> None:
    result = normalized(payload)
    if isinstance(result, Job):
        assert_canonical(result, payload)
    else:
        assert result.backend == "ci"


def _identified_job() -> dict[str, Any]:
    """The swagger marks every field optional; a job needs an id and each task a name."""
    job = specs.allow_null(specs.schema("prunner", "job"), "start", "end")
    job["required"] = ["id"]
    job["properties"]["tasks"]["items"]["required"] = ["name"]
    return job


IDENTIFIED_JOBS = specs.strategy(_identified_job()).filter(lambda payload: payload["id"] != "")


@EXAMPLES
@given(IDENTIFIED_JOBS)
def test_schema_payloads_with_id_and_task_names_are_jobs(payload: Any) -> None:
    # Types and times (ISO 8601 or "") follow the schema, so nothing else can be unreadable.
    assert isinstance(normalized(payload), Job)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LISTINGS | JSON)
def test_any_listing_gives_jobs_or_invalid_payload(body: Any) -> None:
    # `parse` directly: `interpret` would turn a stray exception into InvalidPayload itself.
    response = httpx.Response(200, content=json.dumps(body).encode())  # NaN/inf as Python writes
    try:
        page = ADAPTER.list_jobs().parse(response)
    except InvalidPayload:
        return
    assert isinstance(page, Page)
    assert all(isinstance(job, Job) for job in page.jobs)
