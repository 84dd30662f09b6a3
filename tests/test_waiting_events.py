"""`job_events`: the pure diff between two views of a job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobhub.model import Job, JobState, Task
from jobhub.waiting import job_events, new_outputs

AT = datetime(2025, 8, 15, 12, 0, tzinfo=UTC)


def job(state: str = "running", **fields: Any) -> Job:
    return Job(ref="ci:1", backend="ci", type="prunner", id="1", state=JobState(state), **fields)


def tasks(**states: str) -> list[Task]:
    return [Task(name=name, state=JobState(state)) for name, state in states.items()]


def kinds(old: Job | None, new: Job) -> list[tuple[str, Any, Any, str | None]]:
    return [(e.kind, e.old, e.new, e.task) for e in job_events(old, new, at=AT)]


def test_first_sight_is_one_state_event_from_none() -> None:
    new = job("running", tasks=tasks(build="running"), progress=0.5, outputs=["x"])
    assert kinds(None, new) == [("state", None, JobState.RUNNING, None)]


def test_no_change_makes_no_event() -> None:
    view = job("running", tasks=tasks(build="running"), progress=0.5, outputs=["x"])
    assert job_events(view, view.model_copy(), at=AT) == []


def test_a_state_change_is_reported_with_old_and_new() -> None:
    assert kinds(job("queued"), job("running")) == [
        ("state", JobState.QUEUED, JobState.RUNNING, None)
    ]


def test_each_changed_task_is_reported_once_in_task_order() -> None:
    old = job(tasks=tasks(build="succeeded", test="running", deploy="pending"))
    new = job(tasks=tasks(build="succeeded", test="succeeded", deploy="running"))
    assert kinds(old, new) == [
        ("task", JobState.RUNNING, JobState.SUCCEEDED, "test"),
        ("task", JobState.PENDING, JobState.RUNNING, "deploy"),
    ]


def test_a_task_seen_for_the_first_time_has_old_none() -> None:
    old = job(tasks=tasks(build="running"))
    new = job(tasks=tasks(build="running", test="pending"))
    assert kinds(old, new) == [("task", None, JobState.PENDING, "test")]


def test_progress_change_is_reported() -> None:
    assert kinds(job(progress=0.25), job(progress=0.5)) == [("progress", 0.25, 0.5, None)]


def test_only_the_new_outputs_are_reported() -> None:
    assert kinds(job(outputs=["a"]), job(outputs=["a", "b", "c"])) == [
        ("output", None, ["b", "c"], None)
    ]


def test_an_ending_job_reports_its_final_state_after_everything_else() -> None:
    old = job("running", tasks=tasks(test="running"), progress=0.5, outputs=[])
    new = job("succeeded", tasks=tasks(test="succeeded"), progress=1.0, outputs=["report"])
    assert [e[0] for e in kinds(old, new)] == ["task", "progress", "output", "state"]
    assert kinds(old, new)[-1] == ("state", JobState.RUNNING, JobState.SUCCEEDED, None)


def test_a_starting_job_reports_its_state_before_its_tasks() -> None:
    old = job("queued", tasks=tasks(build="pending"))
    new = job("running", tasks=tasks(build="running"))
    assert [e[0] for e in kinds(old, new)] == ["state", "task"]


def test_every_event_carries_the_new_view_and_the_time_seen() -> None:
    new = job("succeeded", progress=1.0)
    events = job_events(job("running", progress=0.5), new, at=AT)
    assert {(e.ref, e.job is new, e.at) for e in events} == {("ci:1", True, AT)}


def test_new_outputs_of_mappings_are_the_added_or_changed_keys() -> None:
    assert new_outputs({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b": 3, "c": 4}


def test_outputs_that_shrink_add_nothing() -> None:
    assert new_outputs(["a", "b"], ["a"]) is None


def test_outputs_replaced_wholesale_are_reported_whole() -> None:
    assert new_outputs(["a"], ["z", "y"]) == ["z", "y"]


def test_a_scalar_output_that_changes_is_reported() -> None:
    assert new_outputs(None, "s3://bucket/result") == "s3://bucket/result"
