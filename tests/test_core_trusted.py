"""Jobs and Tasks built without validation (`trusted`) behave as validated ones do, and with
model checking on (as in this test suite) a wrong value fails loudly."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from jobhub.model import Job, JobState, ModelCheckError, Task, check_models

START = datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC)
END = datetime(2025, 8, 15, 12, 4, 35, tzinfo=UTC)


def task_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "build",
        "state": JobState.SUCCEEDED,
        "status": "done",
        "started_at": START,
        "finished_at": END,
        "depends_on": ["lint"],
        "exit_code": 0,
        "raw": {"name": "build", "status": "done"},
    }
    return {**fields, **changes}


def job_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ref": "ci:1",
        "backend": "ci",
        "type": "prunner",
        "id": "1",
        "workflow": "release",
        "state": JobState.SUCCEEDED,
        "started_at": START,
        "finished_at": END,
        "duration": 274.0,
        "progress": 1.0,
        "user": "j.doe",
        "inputs": {"tag": "v1"},
        "labels": {"team": "ci"},
        "raw": {"id": "1"},
    }
    return {**fields, **changes}


def trusted_job(**changes: Any) -> Job:
    return Job.trusted(**job_fields(tasks=[Task.trusted(**task_fields())], **changes))


def validated_job(**changes: Any) -> Job:
    return Job(**job_fields(tasks=[Task(**task_fields())], **changes))


@pytest.fixture
def unchecked() -> Iterator[None]:
    check_models(False)
    yield
    check_models(True)


def test_a_trusted_job_equals_the_validated_one() -> None:
    assert trusted_job() == validated_job()
    assert validated_job() == trusted_job()


def test_a_trusted_job_dumps_the_same_json() -> None:
    assert trusted_job().model_dump_json() == validated_job().model_dump_json()
    assert trusted_job().model_dump() == validated_job().model_dump()


def test_a_trusted_job_reads_back_through_validation() -> None:
    job = trusted_job()
    assert Job.model_validate_json(job.model_dump_json()) == job


def test_every_field_of_a_trusted_job_counts_as_set() -> None:
    assert trusted_job().model_fields_set == set(Job.model_fields)


def test_changing_the_fields_set_of_one_trusted_job_changes_no_other() -> None:
    first, second = trusted_job(), trusted_job()
    first.model_fields_set.add("extra")
    assert second.model_fields_set == set(Job.model_fields)


def test_a_trusted_job_copies_with_an_update() -> None:
    job = trusted_job()
    copied = job.model_copy(update={"outputs": ["a"]})
    assert copied.outputs == ["a"] and job.outputs is None
    assert copied.tasks == job.tasks


def test_a_trusted_job_survives_copy_and_pickle() -> None:
    job = trusted_job()
    assert copy.copy(job) == job
    assert copy.deepcopy(job) == job
    assert pickle.loads(pickle.dumps(job)) == job


def test_a_trusted_job_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        trusted_job().state = JobState.FAILED  # type: ignore[misc]


def test_a_trusted_job_keeps_its_raw_payload_itself() -> None:
    raw = {"id": "1", "big": list(range(100))}
    assert trusted_job(raw=raw).raw is raw


def test_a_missing_attribute_of_a_trusted_job_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        trusted_job().colour  # type: ignore[attr-defined]  # noqa: B018


def test_trusted_defaults_are_fresh_for_each_job() -> None:
    first = Job.trusted(ref="ci:1", backend="ci", type="t", id="1", state=JobState.QUEUED)
    second = Job.trusted(ref="ci:2", backend="ci", type="t", id="2", state=JobState.QUEUED)
    assert first.tasks == [] and first.tasks is not second.tasks
    assert first.labels == {} and first.labels is not second.labels


def test_checking_refuses_a_naive_time() -> None:
    with pytest.raises(ModelCheckError, match="started_at"):
        Task.trusted(**task_fields(started_at=datetime(2025, 1, 1)))


def test_checking_refuses_progress_past_one() -> None:
    with pytest.raises(ModelCheckError, match="progress"):
        trusted_job(progress=45.0)


def test_checking_refuses_a_value_validation_would_convert() -> None:
    with pytest.raises(ModelCheckError, match="duration"):
        trusted_job(duration=274)


def test_checking_refuses_a_plain_string_for_a_state() -> None:
    with pytest.raises(ModelCheckError, match="state"):
        Task.trusted(**task_fields(state="done"))


@pytest.mark.usefixtures("unchecked")
def test_without_checking_values_are_taken_as_given() -> None:
    task = Task.trusted(**task_fields(progress=45.0))
    assert task.progress == 45.0
