"""How jobs look in a terminal: figures, tables, the task tree, event lines."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rich.console import Console

from jobhub.commands._follow import follow
from jobhub.model import Job, JobEvent, JobState, Task
from jobhub.render import (
    JobBoard,
    TaskNode,
    event_line,
    format_age,
    format_progress,
    format_seconds,
    job_detail,
    jobs_table,
    summary_line,
    summary_table,
    task_forest,
)

NOW = datetime(2025, 8, 15, 12, 0, 0, tzinfo=UTC)


def job(
    job_id: str = "j1",
    state: JobState = JobState.RUNNING,
    *,
    backend: str = "ci",
    tasks: list[Task] | None = None,
    **fields: object,
) -> Job:
    return Job.model_validate(
        {
            "ref": f"{backend}:{job_id}",
            "backend": backend,
            "type": "prunner",
            "id": job_id,
            "state": state,
            "tasks": tasks or [],
            **fields,
        }
    )


def task(name: str, *depends_on: str, state: JobState = JobState.SUCCEEDED) -> Task:
    return Task(name=name, state=state, depends_on=list(depends_on))


def text(renderable: object, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, ""), (0.44, "0.4s"), (42.9, "42s"), (185, "3m05s"), (7380, "2h03m"), (273600, "3d04h")],
)
def test_durations_are_compact(seconds: float | None, shown: str) -> None:
    assert format_seconds(seconds) == shown


def test_age_is_coarse_like_kubectl() -> None:
    assert format_age(NOW - timedelta(minutes=12, seconds=40), NOW) == "12m"
    assert format_age(NOW - timedelta(seconds=5), NOW) == "5s"
    assert format_age(None, NOW) == ""


def test_age_of_a_time_ahead_of_the_clock_is_zero() -> None:
    assert format_age(NOW + timedelta(seconds=30), NOW) == "0s"


def test_progress_is_a_percentage() -> None:
    assert format_progress(0.456) == "46%"
    assert format_progress(None) == ""


def test_table_has_one_row_per_job_with_its_figures() -> None:
    jobs = [
        job(
            "a",
            JobState.SUCCEEDED,
            workflow="build",
            progress=1.0,
            duration=185.0,
            created_at=NOW - timedelta(hours=2),
        ),
        job("b", JobState.RUNNING, workflow="deploy", started_at=NOW - timedelta(seconds=42)),
    ]
    lines = text(jobs_table(jobs, now=NOW)).splitlines()
    assert lines[0].split() == ["ref", "workflow", "state", "progress", "age", "duration"]
    assert lines[1].split() == ["ci:a", "build", "succeeded", "100%", "2h", "3m05s"]
    # a running job's duration is the time since it started
    assert lines[2].split() == ["ci:b", "deploy", "running", "42s"]


def test_tasks_hang_under_the_dependency_they_wait_for_last() -> None:
    tasks = [
        task("deploy", "test", "lint"),
        task("build"),
        task("lint", "build"),
        task("test", "build"),
    ]
    forest = task_forest(tasks)
    assert [node.task.name for node in forest] == ["build"]
    build = forest[0]
    assert [node.task.name for node in build.children] == ["lint", "test"]
    test = build.children[1]
    assert [node.task.name for node in test.children] == ["deploy"]
    assert test.children[0].after == ["lint"]


def all_names(nodes: list[TaskNode]) -> list[str]:
    return [name for node in nodes for name in [node.task.name, *all_names(node.children)]]


def test_every_task_appears_once_even_with_a_cycle_or_unknown_dependency() -> None:
    tasks = [task("a", "b"), task("b", "a"), task("c", "nowhere")]
    assert sorted(all_names(task_forest(tasks))) == ["a", "b", "c"]


def test_detail_shows_fields_and_the_task_tree_with_states() -> None:
    detail = job(
        "52a5",
        JobState.FAILED,
        status="errored",
        workflow="release",
        error="task test failed",
        tasks=[
            task("build"),
            task("test", "build", state=JobState.FAILED),
            task("deploy", "test", state=JobState.CANCELLED),
        ],
    )
    shown = text(job_detail(detail, now=NOW))
    assert "ci:52a5" in shown
    assert "failed (errored)" in shown
    assert "task test failed" in shown
    tree = shown[shown.index("tasks (3)") :].splitlines()
    assert "build" in tree[1] and "succeeded" in tree[1]
    assert "test" in tree[2] and "failed" in tree[2]
    assert "deploy" in tree[3] and "cancelled" in tree[3]
    # each level indents further: deploy hangs under test, which hangs under build
    indents = [
        line.index(name) for line, name in zip(tree[1:4], ["build", "test", "deploy"], strict=True)
    ]
    assert indents[0] < indents[1] < indents[2]


def test_event_line_says_what_changed() -> None:
    ended = job("a", JobState.FAILED, duration=12.0, error="exit 3")
    event = JobEvent(ref="ci:a", kind="state", old="running", new="failed", job=ended, at=NOW)
    assert (
        text(event_line(event, tz=UTC)).strip()
        == "12:00:00 UTC ci:a  running → failed  after 12s  exit 3"
    )


def test_event_line_for_a_job_first_seen() -> None:
    event = JobEvent(ref="ci:a", kind="state", old=None, new="queued", job=job("a"), at=NOW)
    assert text(event_line(event, tz=UTC)).strip() == "12:00:00 UTC ci:a  queued"


def test_event_line_for_a_task() -> None:
    event = JobEvent(
        ref="ci:a", kind="task", task="build", old="running", new="succeeded", job=job("a"), at=NOW
    )
    assert (
        text(event_line(event, tz=UTC)).strip()
        == "12:00:00 UTC ci:a  task build: running → succeeded"
    )


def test_summary_counts_jobs_by_state() -> None:
    jobs = [job("a", JobState.SUCCEEDED), job("b", JobState.SUCCEEDED), job("c", JobState.FAILED)]
    assert text(summary_line(jobs)).strip() == "3 jobs: 2 succeeded, 1 failed"


def test_summary_table_counts_by_backend_and_state() -> None:
    jobs = [
        job("a", JobState.SUCCEEDED, backend="sieve"),
        job("b", JobState.FAILED, backend="sieve"),
        job("c", JobState.SUCCEEDED, backend="ci"),
    ]
    rows = [line.split() for line in text(summary_table(jobs)).splitlines() if line.strip()]
    assert rows[0] == ["backend", "succeeded", "failed", "total"]
    assert rows[1] == ["sieve", "1", "1", "2"]
    assert rows[2] == ["ci", "1", "1"]
    assert rows[-1] == ["all", "2", "1", "3"]


def test_board_keeps_the_latest_job_per_ref_in_first_seen_order() -> None:
    board = JobBoard(["ci:b"])
    board.update(job("a", JobState.QUEUED))
    board.update(job("b", JobState.RUNNING))
    board.update(job("a", JobState.SUCCEEDED))
    assert [(j.ref, j.state) for j in board.jobs()] == [
        ("ci:b", JobState.RUNNING),
        ("ci:a", JobState.SUCCEEDED),
    ]


# -- following an event stream (wait, watch) ------------------------------------------------------


def events_of_one_job() -> list[JobEvent]:
    queued, done = job("a", JobState.QUEUED), job("a", JobState.SUCCEEDED, duration=3.0)
    return [
        JobEvent(ref="ci:a", kind="state", old=None, new="queued", job=queued, at=NOW),
        JobEvent(ref="ci:a", kind="progress", old=None, new=1.0, job=done, at=NOW),
        JobEvent(ref="ci:a", kind="state", old="queued", new="succeeded", job=done, at=NOW),
    ]


def test_piped_output_is_one_line_per_change() -> None:
    out = io.StringIO()
    board = JobBoard(["ci:a"])
    follow(events_of_one_job(), board, fmt="table", out=Console(file=out, width=100), tz=UTC)
    assert out.getvalue().splitlines() == [
        "12:00:00 UTC ci:a  queued",
        "12:00:00 UTC ci:a  progress — → 100%",
        "12:00:00 UTC ci:a  queued → succeeded  after 3.0s",
    ]
    assert board.get("ci:a") == events_of_one_job()[-1].job


def test_a_terminal_gets_a_table_updated_in_place_below_the_changes() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    follow(events_of_one_job(), JobBoard(), fmt="table", out=console, tz=UTC)
    shown = out.getvalue()
    assert "ci:a  queued → succeeded" in shown
    assert "progress —" not in shown  # progress shows in the table, not as a line
    final_frame = shown.rsplit("workflow", 1)[1]
    assert "succeeded" in final_frame and "3.0s" in final_frame


def test_json_output_is_one_event_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    follow(events_of_one_job(), JobBoard(), fmt="jsonl", out=Console(file=io.StringIO()), tz=UTC)
    lines = capsys.readouterr().out.splitlines()
    assert [JobEvent.model_validate_json(line) for line in lines] == events_of_one_job()


# -- copyable refs, times with their zone, no empty progress steps --------------------------------

LONG_ID = "58849859-63c4-47d6-8209-738b33ef7bdb/f7c21c84-afef-4b73-ab57-d5c97d5dce6f"


def test_a_live_board_shows_whole_refs_when_the_terminal_is_wide_enough() -> None:
    jobs = [job(LONG_ID, backend="pixxel", workflow="w" * 40)]
    wide = text(jobs_table(jobs, now=NOW, fit=200), width=200)
    assert f"pixxel:{LONG_ID}" in wide and "w" * 40 in wide
    narrow = text(jobs_table(jobs, now=NOW, fit=80), width=80).splitlines()[1]
    assert len(narrow) <= 80
    ref = narrow.split()[0]  # cut in the middle: the backend and the end of the id stay
    assert ref.startswith("pixxel:58") and ref.endswith("d5dce6f") and "…" in ref


def test_wide_adds_tasks_user_times_with_their_zone_and_the_error() -> None:
    ended = job(
        "a",
        JobState.FAILED,
        user="ana",
        error="exit 3",
        created_at=NOW - timedelta(minutes=5),
        finished_at=NOW,
        tasks=[task("build"), task("test", "build", state=JobState.RUNNING)],
    )
    lines = text(jobs_table([ended], now=NOW, wide=True, tz=UTC), width=200).splitlines()
    assert lines[0].split() == [
        "ref", "workflow", "state", "progress", "tasks", "user", "created", "finished",
        "duration", "error",
    ]  # fmt: skip
    row = lines[1]
    assert "1/2" in row and "ana" in row and "exit 3" in row
    assert "2025-08-15 11:55:00 UTC" in row and "2025-08-15 12:00:00 UTC" in row


def test_times_name_their_zone_in_any_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = JobEvent(ref="ci:a", kind="state", old=None, new="queued", job=job("a"), at=NOW)
    assert text(event_line(event, tz=plus_two)).startswith("14:00:00 UTC+02:00 ci:a")
    detail = text(job_detail(job("a", created_at=NOW), now=NOW, tz=plus_two))
    assert "created  2025-08-15 14:00:00 UTC+02:00 (0s ago)" in detail


def test_a_progress_step_too_small_to_show_is_not_a_line() -> None:
    def step(old: float, new: float) -> JobEvent:
        return JobEvent(ref="ci:a", kind="progress", old=old, new=new, job=job("a"), at=NOW)

    out = io.StringIO()
    follow(
        [step(0.551, 0.554), step(0.554, 0.61)],
        JobBoard(),
        fmt="table",
        out=Console(file=out, width=100),
        tz=UTC,
    )
    assert out.getvalue().splitlines() == ["12:00:00 UTC ci:a  progress 55% → 61%"]
