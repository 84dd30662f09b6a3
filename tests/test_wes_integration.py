"""WES end to end against the GA4GH reference server, `wes-service`, running real CWL workflows
with cwltool on this machine: runs are submitted with plain httpx, then got, listed, waited for
and cancelled through jobhub.

The server comes from the test extra (`wes-service[cwltool]`): `wes-server` is looked for next
to this Python, on PATH, or at `$JOBHUB_WES_SERVER`. It listens on a free loopback port, in a
temporary directory that holds its runs. That server accepts a cancel but lets the run go on:
these tests check what jobhub sends and how it follows the run, not what the server does next.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import WaitTimeout
from jobhub.plugins import Registry
from tests.conftest import ROOT

try:
    import jobhub_wes
except ModuleNotFoundError:  # an install made before the package existed: use the checkout's
    sys.path.insert(0, str(ROOT / "plugins"))
    import jobhub_wes

SERVER_VARIABLE = "JOBHUB_WES_SERVER"
START_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0  # a cwltool run of one `sh -c` step takes a few seconds
# One CWL tool that runs its `script` input with sh; stdout becomes its output file.
TOOL = """\
cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c]
inputs:
  script:
    type: string
    inputBinding: {position: 1}
outputs:
  out:
    type: stdout
stdout: out.txt
"""
SCRIPTS = {
    "succeeds": "echo hello",
    "fails": "echo oops >&2; exit 3",
    "long": "sleep 300",
}


def find_wes_server() -> Path:
    configured = os.environ.get(SERVER_VARIABLE)
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(sys.executable).parent / "wes-server")
    on_path = shutil.which("wes-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            if not (candidate.parent / "cwltool").exists():
                pytest.fail(
                    f"{candidate} has no cwltool beside it — install wes-service with its "
                    "cwltool extra: pip install 'wes-service[cwltool]'",
                    pytrace=False,
                )
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    pytest.fail(
        f"wes-server (the GA4GH WES reference server) was not found (looked at: {looked}). "
        "The WES integration tests need it: install jobhub's test extra "
        "(pip install -e '.[test]', which brings wes-service[cwltool]) or set "
        f"{SERVER_VARIABLE} to a wes-server executable.",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def wes_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a reference server on a free loopback port, stopped (with every run
    it started) after the module."""
    executable = find_wes_server()
    workdir = tmp_path_factory.mktemp("wes-server")
    (workdir / "tmp").mkdir()
    env = {
        **os.environ,
        "PATH": f"{executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TMPDIR": str(workdir / "tmp"),
    }
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [executable, "--backend=wes_service.cwl_runner", "--opt", "runner=cwltool", "--port=0"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the runs it starts stop with it
        )
    try:
        port = _wait_for_port(server, log_path)
        yield f"http://127.0.0.1:{port}/ga4gh/wes/v1"
    finally:
        _stop(server)


def _wait_for_port(server: subprocess.Popen[bytes], log_path: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(rb"running on http://127\.0\.0\.1:(\d+)", log_path.read_bytes())
        if found:
            return int(found.group(1))
        if server.poll() is not None:
            break
        time.sleep(0.05)
    tail = log_path.read_bytes()[-2000:].decode("utf-8", "replace")
    _stop(server)
    pytest.fail(
        f"wes-server did not start within {START_TIMEOUT:g} s; its log ends:\n{tail}",
        pytrace=False,
    )


def _stop(server: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig is signal.SIGTERM:
            # the server has gone; its runs (same process group) may not have
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
        return


def submit(url: str, script: str, purpose: str) -> str:
    """Start a run of `TOOL` the way any WES client does: a multipart POST /runs."""
    data = {
        "workflow_url": "tool.cwl",
        "workflow_type": "CWL",
        "workflow_type_version": "v1.2",
        "workflow_params": json.dumps({"script": script}),
        "tags": json.dumps({"purpose": purpose}),
    }
    files = [("workflow_attachment", ("tool.cwl", TOOL.encode()))]
    response = httpx.post(f"{url}/runs", data=data, files=files, timeout=30.0)
    response.raise_for_status()
    run_id: str = response.json()["run_id"]
    return run_id


@pytest.fixture(scope="module")
def refs(wes_url: str) -> dict[str, str]:
    """One run of each kind, submitted at once: purpose → ref."""
    return {
        purpose: f"wes:{submit(wes_url, script, purpose)}" for purpose, script in SCRIPTS.items()
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
