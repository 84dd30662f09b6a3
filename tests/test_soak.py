"""The soak at CI size (`benchmarks/soak.py` runs it at full size): 60 jobs on the emulated
Sieve, Pixxel and prunner, every fault kind on at a third of answers, a sync `wait_all` in a
thread and an async `as_completed` on the main loop at once — then the same jobs without
faults, to compare."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from benchmarks.soak import Result, parser, run
from jobhub.emulator import FAULT_KINDS, Emulator, Faults

ARGS = ["--jobs", "60", "--rounds", "1", "--speed", "20", "--span", "30", "--seed", "3"]


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    args = parser().parse_args(ARGS)
    return {"faulty": run(args, faulty=True), "clean": run(args, faulty=False)}


@pytest.fixture(scope="module")
def faulty(runs: dict[str, Result]) -> Result:
    return runs["faulty"]


@pytest.fixture(scope="module")
def clean(runs: dict[str, Result]) -> Result:
    return runs["clean"]


@pytest.mark.slow
def test_the_faults_were_many_and_of_every_kind(faulty: Result) -> None:
    injected = faulty.injected
    assert sum(injected.values()) >= 0.2 * faulty.requests
    assert len(injected) >= len(FAULT_KINDS) - 2, injected


def test_every_job_ends_in_its_true_state_through_the_faults(faulty: Result) -> None:
    assert faulty.jobs == 60
    assert faulty.mismatched == []
    assert faulty.matched == faulty.jobs


def test_every_job_ends_in_its_true_state_without_faults(clean: Result) -> None:
    assert clean.mismatched == []
    assert clean.matched == clean.jobs == 60


def test_nothing_goes_unhandled(faulty: Result, clean: Result) -> None:
    assert faulty.unhandled == []
    assert clean.unhandled == []


def test_faults_cost_at_most_twice_the_requests(faulty: Result, clean: Result) -> None:
    assert clean.requests > 0
    assert faulty.requests <= 2 * clean.requests, (faulty.requests, clean.requests)


def test_a_slow_answer_whose_client_gave_up_does_not_hold_the_emulator_stopping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server_log = logging.getLogger("uvicorn.error")  # uvicorn's loggers do not propagate
    server_log.addHandler(caplog.handler)
    emu = Emulator(["sieve"], faults={"sieve": Faults(rate=1.0, kinds=("slow",), delay=30)})
    try:
        emu.start()
        with httpx.Client(timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
            client.get(f"{emu.urls['sieve']}/v2/jobs")
        started = time.monotonic()
        emu.stop()
        stopping = time.monotonic() - started
    finally:
        emu.stop()
        server_log.removeHandler(caplog.handler)
    assert stopping < 1.5
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
