"""jobhub's pytest plugin: fixtures for testing code that uses jobhub, and adapters.

Registered under the `pytest11` entry point, so it loads in every pytest run where jobhub is
installed; it only defines a marker and fixtures, imports nothing heavy until a fixture is
used, and changes nothing in a run that does not use them.

    def test_dashboard_shows_failed_jobs(jobhub_hub, jobhub_emulator):
        job_id = jobhub_emulator.submit("sieve", duration=1, outcome="failed")
        ...

    @pytest.mark.jobhub_emulator(types=["prunner"], speed=50)
    def test_only_prunner(jobhub_emulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jobhub.emulator import Emulator
    from jobhub.hub import Hub

__all__ = ["jobhub_emulator", "jobhub_hub", "jobhub_secret"]

# Emulated seconds per real second unless a test's marker says otherwise: jobs of a few
# emulated seconds end within a fraction of a real one.
DEFAULT_SPEED = 20.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "jobhub_emulator(types=None, speed=20.0, seed=0, **options): how the jobhub_emulator "
        "fixture is set up (types: backend types to serve, default every registered one; "
        "other options go to jobhub.emulator.Emulator)",
    )


@pytest.fixture
def jobhub_secret() -> str:
    """A sentinel credential: set every credential to it and assert it shows up nowhere."""
    from jobhub.testing.checks import SECRET

    return SECRET


@pytest.fixture
def jobhub_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running `jobhub.emulator.Emulator` on a free loopback port, stopped after the test.
    Set it up with `@pytest.mark.jobhub_emulator(types=[...], speed=..., seed=...)`."""
    from jobhub.emulator import Emulator

    options = emulator_options(request.node.get_closest_marker("jobhub_emulator"))
    with Emulator(host="127.0.0.1", port=0, **options) as emulator:
        yield emulator


def emulator_options(marker: pytest.Mark | None) -> dict[str, Any]:
    """`Emulator` arguments from a `jobhub_emulator` marker: its first positional argument
    is `types`; keywords pass through; `speed` defaults to `DEFAULT_SPEED`, `seed` to 0."""
    options: dict[str, Any] = {"speed": DEFAULT_SPEED, "seed": 0}
    if marker is not None:
        if marker.args:
            options["types"] = marker.args[0]
        options.update(marker.kwargs)
    return options


@pytest.fixture
def jobhub_hub(jobhub_emulator: Emulator) -> Iterator[Hub]:
    """A `Hub` over every backend `jobhub_emulator` serves (each named for its type)."""
    from jobhub.hub import Hub

    with Hub(jobhub_emulator.hub_config(), env={}) as hub:
        yield hub
