"""The WES emulator: the GA4GH reference server behind the emulator at /wes, opt-in for
`Emulator(...)`, in `jobhub demo` whenever `wes-server` is installed, left out with one warning
when it is not.

Its runs are real cwltool processes (a few seconds each on real time): at 20x speed a run of
10 emulated seconds sleeps half a real second.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Iterator

import httpx
import jobhub_wes.emulator
import pytest
from jobhub_wes.emulator import WesEmulator
from rich.console import Console

from jobhub import Hub
from jobhub.demo import plan, run
from jobhub.emulator import Emulator, Faults, SteeringError
from jobhub.errors import ConfigError
from jobhub.model import JobEvent
from jobhub.plugins import get_registry

# One worker runs the module: its runs are cwltool processes, so the reference server is started
# and the runs are submitted once, not once per worker.

SPEED = 20.0  # emulated seconds per real second
TIMEOUT = 90.0  # real seconds: a cwltool run takes a few, more when several share two cores


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["wes"], seed=3, speed=SPEED) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def refs(emu: Emulator) -> dict[str, str]:
    """Runs submitted at once through the emulator, by the outcome they are steered to."""
    return {
        outcome: f"wes:{emu.submit('wes', duration=10, outcome=outcome)}"
        for outcome in ("succeeded", "failed")
    }


@pytest.fixture
def hub(emu: Emulator) -> Iterator[Hub]:
    settings = {"poll_interval": 0.2, "poll_max": 1.0}
    config = {name: {**entry, **settings} for name, entry in emu.hub_config().items()}
    with Hub(config, env={}) as hub:
        yield hub


@pytest.fixture
def no_wes_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without the reference server."""
    monkeypatch.setattr(jobhub_wes.emulator, "find_wes_server", lambda: None)


def left_out_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "jobhub.emulator" and record.levelno == logging.WARNING
    ]


def ended(lines: list[str]) -> dict[str, JobEvent]:
    """The last event of each job in a JSON Lines event stream."""
    last: dict[str, JobEvent] = {}
    for line in lines:
        event = JobEvent.model_validate_json(line)
        last[event.ref] = event
    return last


# -- served through the emulator ----------------------------------------------------------------


def test_default_emulator_leaves_wes_out_as_opt_in() -> None:
    emu = Emulator(speed=0)
    assert "wes" not in emu.backends
    assert "opt-in" in emu.skipped["wes"]


def test_hub_config_points_at_the_wes_service_base_under_wes(emu: Emulator) -> None:
    assert emu.urls == {"wes": f"{emu.url}/wes"}
    assert emu.hub_config() == {"wes": {"type": "wes", "url": f"{emu.url}/wes/ga4gh/wes/v1"}}


def test_the_proxy_answers_what_the_reference_server_answers(
    emu: Emulator, refs: dict[str, str]
) -> None:
    server = emu.backends["wes"]
    assert isinstance(server, WesEmulator) and server.server is not None
    path = f"/runs/{refs['failed'].partition(':')[2]}/status"
    direct = httpx.get(f"{server.server.url}{path}")
    proxied = httpx.get(f"{emu.hub_config()['wes']['url']}{path}")
    assert (proxied.status_code, proxied.headers["content-type"]) == (
        direct.status_code,
        direct.headers["content-type"],
    )
    assert proxied.json()["run_id"] == direct.json()["run_id"]


def test_hub_gets_a_run_with_the_script_it_was_submitted_with(
    hub: Hub, refs: dict[str, str]
) -> None:
    job = hub.get(refs["failed"])
    assert (job.ref, job.type) == (refs["failed"], "wes")
    assert job.inputs["script"].startswith("sleep 0.500;")  # 10 emulated seconds at 20x
    assert job.workflow is not None and job.workflow.endswith("/tool.cwl")


def test_hub_lists_every_submitted_run(hub: Hub, refs: dict[str, str]) -> None:
    assert set(refs.values()) <= {job.ref for job in hub.list("wes")}


def test_runs_end_in_the_state_they_were_submitted_to_end_in(
    emu: Emulator, hub: Hub, refs: dict[str, str]
) -> None:
    jobs = hub.wait_all(list(refs.values()), timeout=TIMEOUT)
    assert [job.state.value for job in jobs] == list(refs)
    assert [emu.final_state("wes", job.id) for job in jobs] == list(refs)


def test_a_cancel_reaches_the_server_and_the_run_still_ends_as_planned(
    emu: Emulator, hub: Hub
) -> None:
    run_id = emu.submit("wes", duration=10, outcome="succeeded")
    hub.cancel(f"wes:{run_id}")
    backend = emu.backends["wes"]
    assert isinstance(backend, WesEmulator) and run_id in backend.cancel_requests
    # the reference server lets a cancelled run go on; final_state says what it ends in
    job = hub.wait(f"wes:{run_id}", timeout=TIMEOUT)
    assert job.state.value == emu.final_state("wes", run_id) == "succeeded"


def test_a_run_submitted_while_the_clock_is_held_sleeps_at_the_speed_it_resumes_at(
    emu: Emulator,
) -> None:
    # `jobhub demo` holds the clock while it submits: a WES run's real sleep must not take
    # the held clock's speed 0 for "no speed at all" and sleep the whole emulated duration.
    with emu.clock.held():
        run_id = emu.submit("wes", duration=10, outcome="succeeded")
    run = emu.backends["wes"].find(run_id)
    assert run is not None
    assert run.inputs["script"].startswith("sleep 0.500;")  # 10 emulated seconds at 20x


def test_a_workflow_name_a_file_cannot_carry_is_refused(emu: Emulator) -> None:
    with pytest.raises(SteeringError, match="workflow names the CWL file"):
        emu.submit("wes", workflow="../escape")


def test_stopping_the_emulator_stops_the_reference_server() -> None:
    with Emulator(["wes"], speed=SPEED) as emu:
        backend = emu.backends["wes"]
        assert isinstance(backend, WesEmulator) and backend.server is not None
        server_url = backend.server.url
        assert httpx.get(f"{server_url}/runs").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server_url}/runs")


def test_faults_for_every_registered_backend_skip_the_opt_in_one() -> None:
    faults = {name: Faults(rate=0.1) for name in get_registry().emulators}
    emu = Emulator(speed=0, faults=faults)  # what `jobhub emulator --faults` asks for
    assert "wes" in faults and set(emu.faults) == set(emu.backends)


# -- without the reference server ---------------------------------------------------------------


@pytest.mark.usefixtures("no_wes_server")
def test_without_wes_server_the_emulator_is_unavailable_and_left_out_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reason = WesEmulator.unavailable()
    assert reason is not None and "wes-server" in reason and "wes-service[cwltool]" in reason
    emu = Emulator(["sieve", "wes"], speed=0)
    assert (list(emu.backends), emu.skipped) == (["sieve"], {"wes": reason})
    assert left_out_warnings(caplog) == [f"the wes emulator is left out: {reason}"]


@pytest.mark.usefixtures("no_wes_server")
def test_submitting_to_the_left_out_emulator_says_why() -> None:
    with (
        Emulator(["sieve", "wes"], speed=0) as emu,
        pytest.raises(ConfigError, match="does not serve 'wes': wes-server"),
    ):
        emu.submit("wes")


@pytest.mark.usefixtures("no_wes_server")
def test_the_demo_runs_without_wes_when_its_server_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = io.StringIO()
    status = run(json_output=True, speed=SPEED, jobs_per_backend=1, console=Console(file=out))
    assert status == 0
    backends = {event.job.backend for event in ended(out.getvalue().splitlines()).values()}
    assert "wes" not in backends and backends
    assert len(left_out_warnings(caplog)) == 1


# -- in the demo --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_runs_a_few_wes_jobs_that_end_as_planned() -> None:
    out = io.StringIO()
    status = run(json_output=True, speed=SPEED, jobs_per_backend=4, console=Console(file=out))
    assert status == 0  # every job, WES runs included, ended as the emulator said
    wes = Counter(
        event.job.state.value
        for event in ended(out.getvalue().splitlines()).values()
        if event.job.backend == "wes"
    )
    planned = Counter(job.outcome for job in plan(["wes"], 4) if job.type == "wes")
    assert wes == planned
    assert sum(wes.values()) == WesEmulator.demo_jobs < 4
    assert wes["failed"] >= 1 and "cancelled" not in wes
