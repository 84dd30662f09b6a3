"""Round trips through jobhub's own adapters: a `Hub` configured by `emu.hub_config()` reads what
the emulator writes, and agrees with the emulator's truth about how each job ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobhub import Hub, JobState
from jobhub.emulator import Emulator
from jobhub.errors import NotSupported

TYPES = ["sieve", "pixxel", "prunner"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(TYPES, seed=2, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def hub(emu: Emulator) -> Iterator[Hub]:
    with Hub(emu.hub_config()) as configured:
        yield configured


@pytest.mark.parametrize("backend", TYPES)
@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_hub_sees_each_job_end_as_the_emulator_planned(
    emu: Emulator, hub: Hub, backend: str, outcome: str
) -> None:
    job_id = emu.submit(backend, duration=6, outcome=outcome)
    assert hub.get(f"{backend}:{job_id}").state is JobState.QUEUED
    emu.clock.advance(30)
    job = hub.get(f"{backend}:{job_id}")
    assert job.state == JobState(emu.backends[backend].final_state(job_id)) == JobState(outcome)
    assert (job.error is not None) is (outcome == "failed")


@pytest.mark.parametrize("backend", ["sieve", "prunner"])
def test_hub_cancel_ends_the_job_cancelled(emu: Emulator, hub: Hub, backend: str) -> None:
    job_id = emu.submit(backend, duration=20, outcome="succeeded")
    emu.clock.advance(5)
    hub.cancel(f"{backend}:{job_id}")
    assert hub.get(f"{backend}:{job_id}").state is JobState.CANCELLED
    assert emu.backends[backend].final_state(job_id) == "cancelled"


def test_hub_cancel_on_pixxel_is_not_supported(emu: Emulator, hub: Hub) -> None:
    with pytest.raises(NotSupported):
        hub.cancel(f"pixxel:{emu.submit('pixxel', duration=5)}")


@pytest.mark.parametrize("backend", TYPES)
def test_hub_lists_every_job_the_emulator_holds(emu: Emulator, hub: Hub, backend: str) -> None:
    for _ in range(3):
        emu.submit(backend, duration=5)
    listed = [job.id for job in hub.list(backend)]
    held = emu.backends[backend].runs
    assert len(listed) == len(set(listed)) == len(held)
