"""`jobhub serve` as the command: its first line, its exit codes on SIGTERM and Ctrl-C, a
restart on the same store that records no event twice, refusing to listen openly."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobhub.emulator import Emulator, config_toml
from tests.serve_helpers import eventually, serve_command

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["sieve", "prunner"], seed=3, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture
def config(emu: Emulator, tmp_path: Path) -> Path:
    path = tmp_path / "jobhub.toml"
    path.write_text(config_toml(emu.hub_config()))
    path.chmod(0o600)
    return path


def start(config: Path, db: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    process = serve_command(
        "--config", str(config), "--db", f"sqlite:///{db}", "--port", "0", *extra
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("jobhub serve: listening on http://127.0.0.1:"), first + (
        process.stderr.read() if process.poll() is not None and process.stderr else ""
    )
    return process, first.split(" on ", 1)[1].strip()


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=30)
    finally:
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def events_by_job(url: str) -> dict[str, list[tuple[str, object]]]:
    jobs = httpx.get(f"{url}/api/v1/jobs", params={"limit": 1000}, timeout=30).json()["jobs"]
    history = {}
    for job in jobs:
        events = httpx.get(f"{url}/api/v1/jobs/{job['ref']}/events", timeout=30).json()["events"]
        history[job["ref"]] = [(event["kind"], event["new"]) for event in events]
    return history


def test_sigterm_exits_0_and_a_restart_on_the_same_store_records_nothing_twice(
    emu: Emulator, config: Path, tmp_path: Path
) -> None:
    db = tmp_path / "serve.db"
    ids = [emu.submit("prunner", duration=10, outcome="succeeded") for _ in range(3)]
    process, url = start(config, db)
    refs = {f"prunner:{job_id}" for job_id in ids}
    eventually(lambda: refs <= set(events_by_job(url)), timeout=30)
    emu.clock.advance(3)  # each job moves on while the server is down
    assert stop(process, signal.SIGTERM) == 0
    emu.clock.advance(60)
    process, url = start(config, db)
    try:

        def ended() -> bool:
            history = events_by_job(url)
            return all(history[ref][-1] == ("state", "succeeded") for ref in refs)

        eventually(ended, timeout=30)
        history = events_by_job(url)
    finally:
        assert stop(process, signal.SIGINT) == 130
    for ref in refs:
        states = [new for kind, new in history[ref] if kind == "state"]
        assert states[0] in ("queued", "running") and states[-1] == "succeeded"
        assert len(states) == len(set(states)), history[ref]  # no state recorded twice
    process, url = start(config, db)
    try:
        assert events_by_job(url) == history  # nothing changed: nothing new recorded
    finally:
        assert stop(process, signal.SIGTERM) == 0


def test_listening_beyond_loopback_without_a_token_is_refused(config: Path, tmp_path: Path) -> None:
    process = serve_command(
        "--config",
        str(config),
        "--db",
        f"sqlite:///{tmp_path / 's.db'}",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
    )
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert out == ""
    assert err.strip().startswith("jobhub: --host 0.0.0.0: anyone who can reach it could read")
    assert "--no-auth" in err


def test_a_port_in_use_is_a_one_line_error(config: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        db = f"sqlite:///{tmp_path / 'serve.db'}"
        other = serve_command("--config", str(config), "--db", db, "--port", port)
        _, err = other.communicate(timeout=60)
    assert other.returncode == 2
    assert err.startswith(f"jobhub: cannot listen on 127.0.0.1:{port}")
    assert len(err.strip().splitlines()) == 1
