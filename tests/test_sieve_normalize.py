"""Sieve job payloads → the canonical `Job`: the state table and every field."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from jobhub_sieve.adapter import SieveAdapter

from jobhub.errors import InvalidPayload
from jobhub.model import JobState
from tests.conftest import CASSETTES, SECRET


def documented_job() -> dict[str, Any]:
    """The job from Sieve's "List Function Jobs" page (docs/001), as its cassette holds it."""
    cassette = yaml.safe_load((CASSETTES / "sieve" / "list_function_jobs.yaml").read_text())
    jobs: list[dict[str, Any]] = json.loads(
        cassette["interactions"][0]["response"]["body"]["string"]
    )
    return jobs[0]


DOCUMENTED = documented_job()


def payload(**changes: Any) -> dict[str, Any]:
    """The documented job with some fields changed (a fresh copy each time)."""
    job = copy.deepcopy(DOCUMENTED)
    job.update(changes)
    return job


@pytest.fixture
def sieve() -> SieveAdapter:
    return SieveAdapter("sieve", SieveAdapter.settings_from("sieve", {"api_key": SECRET}, {}))


# -- the state table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", JobState.QUEUED),
        ("processing", JobState.RUNNING),
        ("started", JobState.RUNNING),
        ("running", JobState.RUNNING),
        ("finished", JobState.SUCCEEDED),
        ("error", JobState.FAILED),
        ("cancelled", JobState.CANCELLED),
        ("canceled", JobState.CANCELLED),
    ],
)
def test_each_sieve_status_word_maps_to_its_canonical_state(
    sieve: SieveAdapter, word: str, state: JobState
) -> None:
    job = sieve.normalize(payload(status=word))
    assert job.state is state
    assert job.status == word


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("FINISHED", JobState.SUCCEEDED),
        ("Processing", JobState.RUNNING),
        ("CanCelled", JobState.CANCELLED),
    ],
)
def test_status_words_match_whatever_their_case(
    sieve: SieveAdapter, word: str, state: JobState
) -> None:
    job = sieve.normalize(payload(status=word))
    assert job.state is state
    assert job.status == word


def test_an_unknown_status_word_is_unknown_and_kept(
    sieve: SieveAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jobhub")
    job = sieve.normalize(payload(status="hibernating-for-winter"))
    assert job.state is JobState.UNKNOWN
    assert job.status == "hibernating-for-winter"
    assert any("hibernating-for-winter" in r.getMessage() for r in caplog.records)


def test_a_job_without_a_status_is_unknown(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(status=None))
    assert job.state is JobState.UNKNOWN
    assert job.status is None


# -- identity and workflow -----------------------------------------------------------------------


def test_the_job_is_addressed_by_backend_name_and_id(sieve: SieveAdapter) -> None:
    job = sieve.normalize(DOCUMENTED)
    assert job.id == "34196fe0-6fc9-4cc7-a716-48861ef15c86"
    assert job.ref == "sieve:34196fe0-6fc9-4cc7-a716-48861ef15c86"
    assert (job.backend, job.type) == ("sieve", "sieve")


def test_the_workflow_is_the_functions_owner_and_name(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(function={"name": "retalker", "owner_name": "sieve"}))
    assert job.workflow == "sieve/retalker"


def test_a_null_function_leaves_the_workflow_unknown(sieve: SieveAdapter) -> None:
    assert sieve.normalize(DOCUMENTED).workflow is None


def test_a_function_missing_its_owner_leaves_the_workflow_unknown(sieve: SieveAdapter) -> None:
    assert sieve.normalize(payload(function={"name": "retalker"})).workflow is None


# -- times ---------------------------------------------------------------------------------------


def test_zone_less_times_are_utc(sieve: SieveAdapter) -> None:
    job = sieve.normalize(DOCUMENTED)
    assert job.created_at == datetime(2023, 10, 3, 19, 6, 59, 863000, tzinfo=UTC)
    assert job.started_at == datetime(2023, 10, 3, 19, 6, 59, 912000, tzinfo=UTC)
    assert job.finished_at == datetime(2023, 10, 3, 19, 13, 26, 469000, tzinfo=UTC)


def test_times_with_an_offset_are_converted_to_utc(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(started_at="2023-10-03T21:06:59+02:00"))
    assert job.started_at == datetime(2023, 10, 3, 19, 6, 59, tzinfo=UTC)
    assert job.started_at is not None and job.started_at.utcoffset() == timedelta(0)


def test_empty_or_null_times_are_null(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(started_at="", completed_at=None))
    assert (job.started_at, job.finished_at) == (None, None)


def test_duration_is_the_seconds_from_start_to_completion(sieve: SieveAdapter) -> None:
    assert sieve.normalize(DOCUMENTED).duration == pytest.approx(386.557)


def test_a_job_not_yet_completed_has_no_duration(sieve: SieveAdapter) -> None:
    assert sieve.normalize(payload(status="processing", completed_at=None)).duration is None


def test_a_completion_before_the_start_gives_no_duration(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(completed_at="2023-10-03T19:00:00"))
    assert job.duration is None


# -- progress and error --------------------------------------------------------------------------


def test_a_succeeded_job_is_fully_done(sieve: SieveAdapter) -> None:
    assert sieve.normalize(payload(status="finished")).progress == 1.0


@pytest.mark.parametrize("word", ["queued", "processing", "error", "cancelled"])
def test_other_jobs_report_no_progress(sieve: SieveAdapter, word: str) -> None:
    assert sieve.normalize(payload(status=word)).progress is None


def test_sieves_empty_error_is_null(sieve: SieveAdapter) -> None:
    assert sieve.normalize(DOCUMENTED).error is None


def test_an_error_message_is_kept(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(status="error", error="RuntimeError: CUDA out of memory."))
    assert job.error == "RuntimeError: CUDA out of memory."
    assert job.state is JobState.FAILED


# -- inputs, outputs, children, restarts, labels, raw ---------------------------------------------


def test_inputs_are_each_inputs_data_by_name(sieve: SieveAdapter) -> None:
    job = sieve.normalize(DOCUMENTED)
    video_url = DOCUMENTED["inputs"]["video"]["data"]["url"]
    assert job.inputs == {"video": {"url": video_url}, "slow_factor": 2}


def test_an_input_that_is_not_an_input_record_is_kept_as_is(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(inputs={"prompt": "a cat", "options": {"seed": 1}}))
    assert job.inputs == {"prompt": "a cat", "options": {"seed": 1}}


def test_outputs_are_each_outputs_data_in_order(sieve: SieveAdapter) -> None:
    job = sieve.normalize(DOCUMENTED)
    assert job.outputs == [DOCUMENTED["outputs"][0]["data"]]


def test_a_generator_yield_of_several_outputs_stays_a_list(sieve: SieveAdapter) -> None:
    outputs = [{"name": "a", "data": 1}, [{"name": "b", "data": 2}, {"name": "c", "data": 3}]]
    assert sieve.normalize(payload(outputs=outputs)).outputs == [1, [2, 3]]


def test_an_output_record_without_data_is_null_beside_the_others(sieve: SieveAdapter) -> None:
    outputs = [{"name": "a", "data": 1}, {"name": "b"}, {"name": "c", "data": None}]
    assert sieve.normalize(payload(outputs=outputs)).outputs == [1, None, None]


def test_missing_inputs_and_outputs_are_empty(sieve: SieveAdapter) -> None:
    job = payload()
    del job["inputs"], job["outputs"]
    normalized = sieve.normalize(job)
    assert (normalized.inputs, normalized.outputs) == ({}, [])


def test_children_are_flattened_to_child_job_ids(sieve: SieveAdapter) -> None:
    children = {"sieve/face-detect": ["c1", {"id": "c2", "status": "finished"}], "other": ["c3"]}
    assert sieve.normalize(payload(children=children)).children == ["c1", "c2", "c3"]


def test_a_child_listed_twice_appears_once(sieve: SieveAdapter) -> None:
    assert sieve.normalize(payload(children={"a": ["c1"], "b": ["c1"]})).children == ["c1"]


def test_null_children_are_none(sieve: SieveAdapter) -> None:
    assert sieve.normalize(payload(children=None)).children == []


def test_children_as_a_plain_list_of_ids_are_read(sieve: SieveAdapter) -> None:
    # the older "job" concept page (docs/002) shows `"children": ["string"]`
    assert sieve.normalize(payload(children=["c1", "c2"])).children == ["c1", "c2"]


def test_restarts_count_the_restart_records(sieve: SieveAdapter) -> None:
    record = {
        "timestamp": "2024-12-15T01:41:59.195000",
        "reason": "x",
        "type": "OOM",
        "run_id": None,
    }
    assert sieve.normalize(payload(restarts=[record, record])).restarts == 2


def test_null_restarts_are_zero(sieve: SieveAdapter) -> None:
    assert sieve.normalize(payload(restarts=None)).restarts == 0


def test_restarts_given_as_a_number_are_that_number(sieve: SieveAdapter) -> None:
    # the older "job" concept page (docs/002) shows `"restarts": number`
    assert sieve.normalize(payload(restarts=3)).restarts == 3


def test_labels_hold_visibility_and_the_function_and_organization_ids(
    sieve: SieveAdapter,
) -> None:
    job = sieve.normalize(payload(organization_id="org-1"))
    assert job.labels == {
        "visibility": "private",
        "function_id": "f7de8467-17f3-4599-8f9d-ef601b172f71",
        "organization_id": "org-1",
    }


def test_sieve_names_no_user_or_cost_and_has_no_tasks(sieve: SieveAdapter) -> None:
    job = sieve.normalize(DOCUMENTED)
    assert (job.user, job.cost, job.tasks) == (None, None, [])


def test_raw_is_the_payload_itself(sieve: SieveAdapter) -> None:
    job_payload = payload()
    assert sieve.normalize(job_payload).raw is job_payload


def test_unknown_fields_are_ignored_and_kept_in_raw(sieve: SieveAdapter) -> None:
    job = sieve.normalize(payload(priority=5, tags=["x"]))
    assert job.raw["priority"] == 5


# -- payloads that cannot be read ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, [], "a job", 42, True, [DOCUMENTED]])
def test_a_payload_that_is_not_an_object_is_invalid(sieve: SieveAdapter, bad: Any) -> None:
    with pytest.raises(InvalidPayload, match="must be a JSON object"):
        sieve.normalize(bad)


def test_a_job_without_an_id_is_invalid(sieve: SieveAdapter) -> None:
    job = payload()
    del job["id"]
    with pytest.raises(InvalidPayload, match="id"):
        sieve.normalize(job)


def test_a_job_with_an_empty_id_is_invalid(sieve: SieveAdapter) -> None:
    with pytest.raises(InvalidPayload, match="empty id"):
        sieve.normalize(payload(id=""))


def test_a_timestamp_that_is_not_text_is_invalid(sieve: SieveAdapter) -> None:
    with pytest.raises(InvalidPayload):
        sieve.normalize(payload(created_at=1696360019))


@pytest.mark.parametrize("when", ["yesterday", "2023-13-45T00:00:00", "  "])
def test_an_unreadable_timestamp_is_null_and_the_job_kept(sieve: SieveAdapter, when: str) -> None:
    job = sieve.normalize(payload(created_at=when))
    assert job.created_at is None and job.raw["created_at"] == when


@pytest.mark.parametrize(
    "changes",
    [
        {"id": 34196},
        {"status": 3},
        {"function": "sieve/retalker"},
        {"function": {"name": 7, "owner_name": "sieve"}},
        {"inputs": ["video"]},
        {"outputs": {"data": 1}},
        {"outputs": ["not an output record"]},
        {"error": False},
        {"children": "c1"},
        {"children": {"key": "c1"}},
        {"restarts": -1},
        {"restarts": True},
        {"visibility": 1},
    ],
    ids=repr,
)
def test_a_field_of_the_wrong_type_is_invalid(sieve: SieveAdapter, changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        sieve.normalize(payload(**changes))


def test_an_invalid_payload_names_the_backend_and_keeps_what_was_sent(
    sieve: SieveAdapter,
) -> None:
    bad = payload(status=3)
    with pytest.raises(InvalidPayload) as caught:
        sieve.normalize(bad)
    assert "sieve backend 'sieve'" in str(caught.value)
    assert "status" in str(caught.value)
    assert caught.value.backend == "sieve"
    assert caught.value.raw is bad
    assert caught.value.excerpt and caught.value.excerpt.startswith('{"id": "34196fe0')
