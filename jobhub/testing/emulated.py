"""`EmulatorConformance`: the end-to-end part of the conformance suite, for a plugin that ships
an emulator: jobs submitted through the emulated vendor API are got, listed, waited for and
cancelled by a real hub."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from jobhub.backend import Adapter, Capability
from jobhub.errors import NotSupported
from jobhub.hub import AsyncHub, Hub
from jobhub.model import Job, JobState
from jobhub.testing import checks

__all__ = ["EmulatorConformance"]


class EmulatorConformance:
    """Checks an adapter end to end against its plugin's emulator: jobs submitted through the
    emulated vendor API are got, listed, waited for (ending as the emulator says) and
    cancelled. Mix it into an `AdapterConformance` subclass whose plugin registers an emulator
    (the `plugin` fixture), or provide `emulator_class`."""

    @pytest.fixture
    def emulator_class(self, adapter_class: type[Adapter], plugin: object | None) -> Any:
        """The `EmulatedBackend` subclass; default: the one `plugin` registers for the type."""
        registry = checks.make_registry(adapter_class, plugin)
        found = registry.emulators.get(adapter_class.type)
        if found is None:
            pytest.fail(
                f"no emulator is registered for {adapter_class.type!r}: set the `plugin` "
                "fixture to a plugin whose jobhub_register_emulators registers one, or "
                "provide `emulator_class`"
            )
        return found

    @pytest.fixture
    def emulator_options(self) -> dict[str, Any]:
        """More `Emulator(...)` arguments. Default: 50x speed, seed 0."""
        return {"speed": 50.0, "seed": 0}

    @pytest.fixture
    def emulator(self, emulator_class: Any, emulator_options: dict[str, Any]) -> Iterator[Any]:
        from jobhub.emulator import Emulator

        with Emulator(types=[emulator_class], host="127.0.0.1", port=0, **emulator_options) as emu:
            yield emu

    @pytest.fixture
    def emulated_hub(
        self, emulator: Any, adapter_class: type[Adapter], plugin: object | None
    ) -> Iterator[Hub]:
        registry = checks.make_registry(adapter_class, plugin)
        settings = {"poll_interval": 0.02, "poll_max": 0.1}
        config = {name: {**entry, **settings} for name, entry in emulator.hub_config().items()}
        with Hub(config, registry=registry, env={}) as hub:
            yield hub

    def test_a_submitted_job_is_got_and_listed(
        self, emulator: Any, emulated_hub: Hub, adapter_class: type[Adapter]
    ) -> None:
        kind = adapter_class.type
        job_id = emulator.submit(kind, duration=600.0)
        job = emulated_hub.get(f"{kind}:{job_id}")
        assert (job.id, job.backend, job.terminal) == (job_id, kind, False)
        assert job_id in [listed.id for listed in emulated_hub.list(kind)]

    def test_listed_jobs_are_whole_when_the_adapter_says_so(
        self, emulator: Any, emulated_hub: Hub, adapter_class: type[Adapter]
    ) -> None:
        """`lists_whole_jobs`: a wait takes an end it sees listed without a GET, so each job a
        listing shows must be the job a GET of it gives."""
        if not adapter_class.lists_whole_jobs:
            return
        kind = adapter_class.type
        refs = [
            f"{kind}:{emulator.submit(kind, duration=0.5, outcome=outcome)}"
            for outcome in ("succeeded", "failed")
        ]
        ended = {job.id: job for job in emulated_hub.wait_all(refs, timeout=30)}
        listed = {job.id: job for job in emulated_hub.list(kind) if job.id in ended}
        assert listed == ended, "a listed job differs from the job a GET gives"

    @pytest.mark.parametrize("outcome", ["succeeded", "failed"])
    def test_waits_end_as_the_emulator_says(
        self, emulator: Any, emulated_hub: Hub, adapter_class: type[Adapter], outcome: str
    ) -> None:
        kind = adapter_class.type
        job_id = emulator.submit(kind, duration=2.0, outcome=outcome)
        job = emulated_hub.wait(f"{kind}:{job_id}", timeout=30)
        assert job.state == emulator.final_state(kind, job_id) == outcome

    def test_async_hub_waits_for_the_same_end(
        self,
        emulator: Any,
        emulated_hub: Hub,
        adapter_class: type[Adapter],
        plugin: object | None,
    ) -> None:
        kind = adapter_class.type
        ref = f"{kind}:{emulator.submit(kind, duration=1.0, outcome='succeeded')}"
        registry = checks.make_registry(adapter_class, plugin)

        async def wait() -> Job:
            async with AsyncHub(emulator.hub_config(), registry=registry, env={}) as hub:
                return await hub.wait(ref, timeout=30)

        assert asyncio.run(wait()) == emulated_hub.get(ref)

    def test_a_cancelled_job_ends_cancelled(
        self, emulator: Any, emulated_hub: Hub, adapter_class: type[Adapter]
    ) -> None:
        kind = adapter_class.type
        job_id = emulator.submit(kind, duration=600.0)
        if Capability.CANCEL not in adapter_class.capabilities:
            with pytest.raises(NotSupported):
                emulated_hub.cancel(f"{kind}:{job_id}")
            return
        emulated_hub.cancel(f"{kind}:{job_id}")
        job = emulated_hub.wait(f"{kind}:{job_id}", timeout=30)
        assert job.state == emulator.final_state(kind, job_id) == JobState.CANCELLED
