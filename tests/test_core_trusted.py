"""Jobs and Tasks built without validation (`trusted`) behave as validated ones do, and with
model checking on (as in this test suite) a wrong value fails loudly."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from jobhub.model import Job, JobFields, JobState, ModelCheckError, Task, TaskFields, check_models

START = datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC)
END = datetime(2025, 8, 15, 12, 4, 35, tzinfo=UTC)


def task_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "build",
        "id": None,
        "state": JobState.SUCCEEDED,
        "status": "done",
        "started_at": START,
        "finished_at": END,
        "depends_on": ["lint"],
        "exit_code": 0,
        "error": None,
        "progress": None,
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
        "status": None,
        "created_at": None,
        "started_at": START,
        "finished_at": END,
        "duration": 274.0,
        "progress": 1.0,
        "error": None,
        "user": "j.doe",
        "tasks": [],
        "inputs": {"tag": "v1"},
        "outputs": None,
        "children": [],
        "restarts": 0,
        "cost": None,
        "labels": {"team": "ci"},
        "raw": {"id": "1"},
    }
    return {**fields, **changes}


def trusted_task(**changes: Any) -> Task:
    return Task.trusted(task_fields(**changes))  # type: ignore[arg-type]


def trusted_job(**changes: Any) -> Job:
    fields = job_fields(tasks=[trusted_task()], **changes)
    return Job.trusted(fields)  # type: ignore[arg-type]


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


def test_the_shared_fields_set_of_trusted_jobs_refuses_change_so_no_other_changes() -> None:
    first, second = trusted_job(), trusted_job()
    with pytest.raises(TypeError, match="change a copy"):
        first.model_fields_set.add("extra")
    with pytest.raises(TypeError, match="change a copy"):
        first.model_fields_set.update({"extra"})
    assert second.model_fields_set == set(Job.model_fields)
    assert first.model_copy(update={"outputs": ["a"]}).model_fields_set == set(Job.model_fields)


@pytest.mark.parametrize(
    "slot", ["__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"]
)
def test_a_trusted_job_holds_what_model_construct_gives(slot: str) -> None:
    # Read through pydantic's own slot, which raises when a slot was left unset.
    read = vars(BaseModel)[slot].__get__
    fields = job_fields(tasks=[trusted_task()])
    assert read(trusted_job()) == read(Job.model_construct(**fields))
    assert read(trusted_task()) == read(Task.model_construct(**task_fields()))


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


def test_models_built_together_are_those_built_one_by_one() -> None:
    tasks = Task.trusted_all([task_fields(name="a"), task_fields(name="b")])  # type: ignore[list-item]
    assert tasks == [trusted_task(name="a"), trusted_task(name="b")]
    assert [task.model_fields_set for task in tasks] == [set(Task.model_fields)] * 2
    jobs = Job.trusted_all([job_fields(tasks=tasks, id="1"), job_fields(id="2")])  # type: ignore[list-item]
    assert [job.id for job in jobs] == ["1", "2"]
    assert jobs[0].tasks is tasks
    assert jobs[1] == Job.trusted(job_fields(id="2"))  # type: ignore[arg-type]
    assert Job.trusted_all([]) == []


def test_a_job_built_from_a_copy_of_shared_fields_is_the_same_job_in_less_memory() -> None:
    shared = Job.shared_fields({**job_fields(), "tasks": None, "children": None, "labels": None})
    fields = shared.copy()
    fields["tasks"], fields["children"], fields["labels"] = [trusted_task()], [], {"team": "ci"}
    assert Job.trusted(fields) == trusted_job()
    assert Job.trusted(fields).model_dump_json() == trusted_job().model_dump_json()
    assert sys.getsizeof(shared.copy()) < sys.getsizeof(dict(shared))
    task = Task.shared_fields({**task_fields(), "depends_on": None}).copy()
    task["depends_on"] = ["lint"]
    assert Task.trusted(task) == trusted_task()


def test_shared_fields_not_given_hold_their_immutable_default_or_none() -> None:
    shared = Job.shared_fields({"type": "prunner"})
    assert list(shared) == list(Job.model_fields)
    assert (shared["type"], shared["restarts"], shared["tasks"], shared["ref"]) == (
        "prunner",
        0,
        None,
        None,
    )
    with pytest.raises(TypeError, match="colour"):
        Task.shared_fields({"colour": "red"})


def test_checking_refuses_a_copy_of_shared_fields_not_given_its_own_lists() -> None:
    fields = Job.shared_fields({**job_fields(), "tasks": None}).copy()
    with pytest.raises(ModelCheckError, match="tasks"):
        Job.trusted(fields)


def test_checking_refuses_any_of_the_models_built_together() -> None:
    with pytest.raises(ModelCheckError, match="state"):
        Task.trusted_all([task_fields(), task_fields(state="done")])  # type: ignore[list-item]


def test_the_fields_a_trusted_build_takes_are_the_models_fields_in_order() -> None:
    assert list(TaskFields.__annotations__) == list(Task.model_fields)
    assert list(JobFields.__annotations__) == list(Job.model_fields)


def test_checking_refuses_fields_out_of_order() -> None:
    fields = task_fields()
    reordered = {"raw": fields.pop("raw"), **fields}
    with pytest.raises(ModelCheckError, match="in the model's order"):
        Task.trusted(reordered)  # type: ignore[arg-type]


def test_checking_refuses_a_missing_field() -> None:
    fields = task_fields()
    del fields["error"]
    with pytest.raises(ModelCheckError, match="error"):
        Task.trusted(fields)  # type: ignore[arg-type]


def test_checking_refuses_a_naive_time() -> None:
    with pytest.raises(ModelCheckError, match="started_at"):
        trusted_task(started_at=datetime(2025, 1, 1))


def test_checking_refuses_progress_past_one() -> None:
    with pytest.raises(ModelCheckError, match="progress"):
        trusted_job(progress=45.0)


def test_checking_refuses_a_value_validation_would_convert() -> None:
    with pytest.raises(ModelCheckError, match="duration"):
        trusted_job(duration=274)


def test_checking_refuses_a_plain_string_for_a_state() -> None:
    with pytest.raises(ModelCheckError, match="state"):
        trusted_task(state="done")


@pytest.mark.usefixtures("unchecked")
def test_without_checking_values_are_taken_as_given() -> None:
    task = trusted_task(progress=45.0)
    assert task.progress == 45.0
