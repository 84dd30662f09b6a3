"""`jobhub demo`: every job it submits ends as planned — the steered failures fail, the one it
cancels mid-run is cancelled — shown live, or as a JobEvent stream with --json.

These run the demo over the built-in emulators that answer at once (JOBHUB_LOAD_PLUGINS): the
WES one runs a real cwltool process per job, tens of seconds of a loaded machine per demo, and
its part of the demo is tested once, in tests/test_wes_emulator.py.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from jobhub.backend import Capability
from jobhub.demo import Submission, plan, run
from jobhub.model import JobEvent, JobState
from jobhub.plugins import get_registry

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

JOBHUB = str(Path(sys.executable).parent / "jobhub")
FAST = 20.0  # emulated seconds per real second: the demo in about two seconds
TYPES = ["pixxel", "prunner", "sieve"]
QUICK = {"JOBHUB_LOAD_PLUGINS": ",".join(TYPES)}  # every built-in but the WES one


@pytest.fixture
def quick_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo over the emulators of `TYPES`, in this process (its registry is fresh per test)
    and in the commands it starts."""
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)


def served() -> tuple[list[str], list[str]]:
    """The backend types the demo runs (every registered emulator) and those that can cancel."""
    registry = get_registry()
    types = sorted(registry.emulators)
    return types, [t for t in types if Capability.CANCEL in registry.adapters[t].capabilities]


def planned_counts(jobs: list[Submission]) -> Counter[tuple[str, str]]:
    return Counter(
        (job.type, "cancelled" if job.cancel else job.outcome)
        for job in jobs  # what each job is steered to
    )


def final_counts(lines: list[str]) -> Counter[tuple[str, str]]:
    last: dict[str, JobEvent] = {}
    for line in lines:
        event = JobEvent.model_validate_json(line)
        last[event.ref] = event
    assert all(event.job.state.terminal for event in last.values())
    return Counter((event.job.backend, event.job.state.value) for event in last.values())


def test_plan_steers_a_quarter_of_each_backends_jobs_to_fail() -> None:
    jobs = plan(TYPES, 12)
    for backend_type in TYPES:
        outcomes = Counter(job.outcome for job in jobs if job.type == backend_type)
        assert outcomes == {"succeeded": 9, "failed": 3}


def test_plan_cancels_one_long_job_on_the_first_backend_that_can_cancel() -> None:
    jobs = plan(TYPES, 12, cancellable=["prunner", "sieve"])
    cancelled = [job for job in jobs if job.cancel]
    assert len(cancelled) == 1
    assert cancelled[0].type == "prunner"
    assert cancelled[0].duration == max(job.duration for job in jobs)


def test_plan_cancels_nothing_when_no_backend_can() -> None:
    assert not any(job.cancel for job in plan(TYPES, 3))


def test_plan_is_repeatable_for_a_seed() -> None:
    assert plan(TYPES, 5, seed=7) == plan(TYPES, 5, seed=7)
    assert plan(TYPES, 5, seed=7) != plan(TYPES, 5, seed=8)


@pytest.mark.usefixtures("quick_plugins")
def test_every_job_ends_as_planned_failures_fail_and_one_is_cancelled() -> None:
    types, cancellable = served()
    assert types == TYPES
    out = io.StringIO()
    status = run(json_output=True, speed=FAST, jobs_per_backend=4, console=Console(file=out))
    assert status == 0  # and 0 means each job's end agreed with the emulator's truth
    expected = planned_counts(plan(types, 4, cancellable=cancellable))
    assert final_counts(out.getvalue().splitlines()) == expected
    assert sum(n for (_, state), n in expected.items() if state == "cancelled") == 1
    assert sum(n for (_, state), n in expected.items() if state == "failed") == len(types)


@pytest.mark.usefixtures("quick_plugins")
def test_the_live_view_ends_with_a_summary_by_backend_and_state() -> None:
    types, cancellable = served()
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    assert run(speed=FAST, jobs_per_backend=2, console=console) == 0
    text = out.getvalue()
    assert text.startswith(f"jobhub demo: {2 * len(types)} jobs on {', '.join(types)}")
    live, summary_text = text.split("by backend and state")
    assert " mid-run" in live  # the cancel, as it happens
    summary = [line.split() for line in summary_text.splitlines() if line.strip()]
    expected = Counter(
        state
        for (_, state), n in planned_counts(plan(types, 2, cancellable=cancellable)).items()
        for _ in range(n)
    )
    assert summary[0] == ["backend", "succeeded", "failed", "cancelled", "total"]
    assert summary[-1] == [
        "all",
        str(expected["succeeded"]),
        str(expected["failed"]),
        str(expected["cancelled"]),
        str(2 * len(types)),
    ]


@pytest.mark.usefixtures("quick_plugins")
def test_the_console_script_prints_the_event_stream() -> None:
    types, cancellable = served()
    result = subprocess.run(
        [JOBHUB, "demo", "--json", "--speed", str(FAST), "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert final_counts(lines) == planned_counts(plan(types, 2, cancellable=cancellable))
    assert {JobEvent.model_validate_json(line).kind for line in lines} >= {"state", "task"}
    assert JobState.CANCELLED.value in result.stdout


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_on_a_short_terminal_failures_show_their_reason_and_the_final_board_every_job() -> None:
    # A terminal of 12 lines: the live board is cut to fit, the final one is not.
    result = subprocess.run(
        [JOBHUB, "demo", "--speed", str(FAST), "--jobs", "4", "--utc"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "FORCE_COLOR": "1",
            "COLUMNS": "120",
            "LINES": "12",
            "JOBHUB_LOAD_PLUGINS": "sieve,prunner",
        },
    )
    assert result.returncode == 0, result.stderr
    shown = ANSI.sub("", result.stdout)
    final = shown.rsplit("by backend and state", 1)[0]
    board = final.rsplit("ref ", 1)[1]  # the last table: the final board
    rows = [line.split() for line in board.splitlines()[1:] if ":" in line]
    assert len(rows) == 8 and {row[0].split(":")[0] for row in rows} == {"sieve", "prunner"}
    assert "…" not in board  # whole refs: the terminal is wide enough
    assert "UTC" in final
    # Each failure's reason, printed above the live board as it happened.
    failures = [
        line for line in final.splitlines() if "→ failed" in line or " failed  after" in line
    ]
    assert len(failures) == 2 and all("  after " in line for line in failures)
    assert any("CUDA out of memory" in line for line in failures)
    assert "mid-run" in final
