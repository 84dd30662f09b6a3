"""WES end to end against the GA4GH reference server, `wes-service`, running real CWL workflows
with cwltool on this machine: runs are submitted with plain httpx (`ReferenceServer.submit`),
then got, listed, waited for and cancelled through jobhub.

The server comes from the test extra (`wes-service[cwltool]`): `wes-server` is looked for at
`$JOBHUB_WES_SERVER`, next to this Python, or on PATH (`jobhub_wes.reference`). It listens on a
free loopback port, in a temporary directory that holds its runs. That server accepts a cancel
but lets the run go on: these tests check what jobhub sends and how it follows the run, not
what the server does next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jobhub_wes
import pytest
from jobhub_wes.reference import ReferenceServer

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import ConfigError, WaitTimeout
from jobhub.plugins import Registry

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

# One worker runs the module: its runs are cwltool processes, so the reference server is started
# and the runs are submitted once, not once per worker.

RUN_TIMEOUT = 120.0  # a cwltool run of one `sh -c` step takes a few seconds
SCRIPTS = {
    "succeeds": "echo hello",
    "fails": "echo oops >&2; exit 3",
    "long": "sleep 300",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceServer]:
    """A reference server on a free loopback port, stopped (with its runs) after the module."""
    try:
        with ReferenceServer(tmp_path_factory.mktemp("wes-server")) as server:
            yield server
    except ConfigError as exc:
        pytest.fail(f"the WES integration tests need the reference server: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def wes_url(server: ReferenceServer) -> str:
    return server.url


@pytest.fixture(scope="module")
def refs(server: ReferenceServer) -> dict[str, str]:
    """One run of each kind, submitted at once: purpose → ref."""
    return {
        purpose: f"wes:{server.submit(script, tags={'purpose': purpose})}"
        for purpose, script in SCRIPTS.items()
    }


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register(jobhub_wes, name="wes")
    return registry


class Recording(httpx.HTTPTransport):
    """The real transport, remembering what was sent: (method, path)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return super().handle_request(request)


@pytest.fixture
def transport() -> Recording:
    return Recording()


def config(url: str) -> dict[str, Any]:
    return {"wes": {"url": url, "poll_interval": 0.2, "poll_max": 1.0}}


@pytest.fixture
def hub(wes_url: str, registry: Registry, transport: Recording) -> Iterator[Hub]:
    with Hub(config(wes_url), registry=registry, env={}, transport=transport) as hub:
        yield hub


def run_path(ref: str) -> str:
    return f"/ga4gh/wes/v1/runs/{ref.partition(':')[2]}"


# -- get and list ----------------------------------------------------------------------------


def test_get_reads_what_the_run_was_started_with(hub: Hub, refs: dict[str, str]) -> None:
    job = hub.get(refs["succeeds"])
    assert (job.ref, job.type, job.inputs) == (refs["succeeds"], "wes", {"script": "echo hello"})
    assert job.workflow is not None and job.workflow.endswith("/tool.cwl")
    assert job.labels == {"purpose": "succeeds"}


def test_list_shows_every_submitted_run(hub: Hub, refs: dict[str, str]) -> None:
    listed = {job.ref: job for job in hub.list("wes")}
    assert set(refs.values()) <= set(listed)
    assert all(job.status in {"RUNNING", "COMPLETE", "EXECUTOR_ERROR"} for job in listed.values())


# -- waiting ---------------------------------------------------------------------------------


def test_wait_follows_a_run_to_success(hub: Hub, refs: dict[str, str]) -> None:
    job = hub.wait(refs["succeeds"], timeout=RUN_TIMEOUT)
    assert (job.state, job.status, job.progress, job.error) == (
        JobState.SUCCEEDED,
        "COMPLETE",
        1.0,
        None,
    )
    assert job.outputs["out"]["basename"] == "out.txt"


def test_wait_follows_a_run_that_exits_non_zero_to_failed(hub: Hub, refs: dict[str, str]) -> None:
    job = hub.wait(refs["fails"], timeout=RUN_TIMEOUT)
    assert (job.state, job.status) == (JobState.FAILED, "EXECUTOR_ERROR")
    assert job.error == "EXECUTOR_ERROR: a step of the workflow failed; exit code 1"


def test_wait_all_returns_the_runs_in_the_order_asked(hub: Hub, refs: dict[str, str]) -> None:
    jobs = hub.wait_all([refs["fails"], refs["succeeds"]], timeout=RUN_TIMEOUT)
    assert [(job.ref, job.state) for job in jobs] == [
        (refs["fails"], JobState.FAILED),
        (refs["succeeds"], JobState.SUCCEEDED),
    ]


def test_list_filters_ended_runs_by_state(hub: Hub, refs: dict[str, str]) -> None:
    hub.wait_all([refs["fails"], refs["succeeds"]], timeout=RUN_TIMEOUT)
    failed = [job.ref for job in hub.list("wes", state="failed")]
    assert refs["fails"] in failed and refs["succeeds"] not in failed


@pytest.mark.anyio
async def test_async_hub_waits_for_the_same_job(
    wes_url: str, registry: Registry, refs: dict[str, str]
) -> None:
    async with AsyncHub(config(wes_url), registry=registry, env={}) as hub:
        job = await hub.wait(refs["succeeds"], timeout=RUN_TIMEOUT)
    with Hub(config(wes_url), registry=registry, env={}) as sync_hub:
        assert job == sync_hub.get(refs["succeeds"])


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_posts_once_to_the_runs_cancel_endpoint(
    hub: Hub, refs: dict[str, str], transport: Recording
) -> None:
    hub.cancel(refs["long"])
    assert transport.sent == [("POST", f"{run_path(refs['long'])}/cancel")]


def test_after_a_cancel_the_run_is_followed_until_the_deadline(
    hub: Hub, refs: dict[str, str]
) -> None:
    hub.cancel(refs["long"])
    with pytest.raises(WaitTimeout) as caught:
        hub.wait(refs["long"], timeout=2.0)
    last = caught.value.pending[refs["long"]]
    # this server lets a cancelled run go on: the last view is the run as it reports it
    assert last is not None and not last.terminal
    assert last.status in {"RUNNING", "CANCELING"}


def test_a_wait_that_times_out_can_cancel_the_run(
    hub: Hub, refs: dict[str, str], transport: Recording
) -> None:
    with pytest.raises(WaitTimeout):
        hub.wait(refs["long"], timeout=1.0, cancel_on_timeout=True)
    path = run_path(refs["long"])
    assert ("POST", f"{path}/cancel") in transport.sent
    assert transport.sent[0] == ("GET", path)
