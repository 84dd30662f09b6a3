"""The real prunner server for tests: started on a free loopback port with a temporary data
directory and the pipelines below, stopped by its process (and its tasks' process groups).

The binary is `$PRUNNER_BIN`, else `prunner` on `PATH`. Without one the real-server tests skip
saying how to get one — unless `JOBHUB_REQUIRE_PRUNNER=1` (set by `.ci/run`), when they fail.

    go install github.com/Flowpack/prunner/cmd/prunner@b692da9     # or ../shared/prunner/build.sh
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

HOW_TO_GET_ONE = (
    "the real prunner server is not installed: `go install "
    "github.com/Flowpack/prunner/cmd/prunner@b692da9` (or run ../shared/prunner/build.sh) and "
    "put it on PATH or in $PRUNNER_BIN"
)
SECRET = "real-prunner-test-secret-0123456789abcdef"  # 40 characters: no key-length warning
READY_TIMEOUT = 20.0  # seconds for the server to answer its first request

# The pipelines every real-server test (and the differential test) runs, in prunner's YAML keys.
# Each task sleeps first, so every state the tests look at lasts a few tenths of a second.
PIPELINES: dict[str, Any] = {
    "pipelines": {
        # a diamond that succeeds: a -> (b, c) -> d; b is done 0.7 s before c (at 0.3 s, the
        # differential test's samples of the real server once missed it under load)
        "ok": {
            "concurrency": 4,
            "tasks": {
                "a": {"script": ["sleep 0.3", "echo a"]},
                "b": {"script": ["sleep 0.3", "echo b"], "depends_on": ["a"]},
                "c": {"script": ["sleep 1.0", "echo c >&2"], "depends_on": ["a"]},
                "d": {"script": ["sleep 0.3", "echo d"], "depends_on": ["b", "c"]},
            },
        },
        # fail-fast: 'bad' fails while 'slow' still runs; 'after' never starts
        "fail_fast": {
            "concurrency": 4,
            "tasks": {
                "setup": {"script": ["sleep 0.3"]},
                "bad": {"script": ["sleep 0.3", "exit 3"], "depends_on": ["setup"]},
                "slow": {"script": ["sleep 10"], "depends_on": ["setup"]},
                "after": {"script": ["echo after"], "depends_on": ["bad", "slow"]},
            },
        },
        # one task fails with nothing else running; its dependent stays waiting
        "fail_single": {
            "concurrency": 4,
            "tasks": {
                "first": {"script": ["sleep 0.3", "exit 2"]},
                "second": {"script": ["echo second"], "depends_on": ["first"]},
            },
        },
        # one job at a time: a second job waits in the queue
        "slow": {
            "concurrency": 1,
            "tasks": {
                "sleeper": {"script": ["sleep 30"]},
                "next": {"script": ["echo next"], "depends_on": ["sleeper"]},
            },
        },
        # queueing with concurrency 1 and short jobs
        "queue": {
            "concurrency": 1,
            "tasks": {"only": {"script": ["sleep 0.5"]}},
        },
        # allow_failure: the failing task does not fail the job
        "allow_fail": {
            "concurrency": 4,
            "tasks": {
                "flaky": {"script": ["sleep 0.3", "exit 5"], "allow_failure": True},
                "then": {"script": ["sleep 0.3"], "depends_on": ["flaky"]},
            },
        },
        # continue_running_tasks_after_failure: other branches keep going after a failure
        "keep_going": {
            "concurrency": 4,
            "continue_running_tasks_after_failure": True,
            "tasks": {
                "bad": {"script": ["sleep 0.3", "exit 4"]},
                "good": {"script": ["sleep 0.9"]},
                "after_bad": {"script": ["echo never"], "depends_on": ["bad"]},
            },
        },
        # start_delay with a queue limit: a job waits (start null) first; one more is refused
        "delayed": {
            "start_delay": "1s",
            "queue_limit": 1,
            "tasks": {"quick": {"script": ["sleep 0.3"]}},
        },
        # on_error: a handler task appended to the job when it fails
        "with_handler": {
            "concurrency": 4,
            "tasks": {"bad": {"script": ["sleep 0.3", "exit 7"]}},
            "on_error": {"script": ["sleep 0.3", "echo handling {{.failedTaskName}}"]},
        },
    }
}


def binary() -> str:
    """The prunner binary to run; skips (or fails, where it is required) without one."""
    found = os.environ.get("PRUNNER_BIN") or shutil.which("prunner")
    if found and os.access(found, os.X_OK):
        return found
    if os.environ.get("JOBHUB_REQUIRE_PRUNNER") == "1":
        pytest.fail(f"JOBHUB_REQUIRE_PRUNNER=1 but {HOW_TO_GET_ONE}")
    pytest.skip(HOW_TO_GET_ONE)


def pipelines_yaml(pipelines: dict[str, Any]) -> str:
    """The pipelines file: JSON is YAML, so no YAML writer is needed."""
    return json.dumps(pipelines, indent=2)


class RealPrunner:
    """One real prunner process. `url`, `secret`; `start()`, `stop()`, `restart()` (same data
    directory), `client()` (httpx with a fresh token per request), `hub_settings()`."""

    def __init__(self, program: str, root: Path, pipelines: dict[str, Any] = PIPELINES) -> None:
        self.program = program
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        (root / "pipelines.yml").write_text(pipelines_yaml(pipelines))
        self.secret = SECRET
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "prunner.log"

    def start(self) -> RealPrunner:
        for _ in range(3):  # a free port can be taken between asking and listening
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        self.program,
                        "--address",
                        f"127.0.0.1:{self.port}",
                        "--jwt-secret",
                        self.secret,
                        "--path",
                        str(self.root),
                        "--pattern",
                        "pipelines.yml",
                        "--data",
                        str(self.data),
                        "--config",
                        str(self.data / ".prunner.yml"),
                        "--env-files",
                        "",
                        "--disable-ansi",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._ready():
                return self
            self.stop()
        pytest.fail(f"prunner did not start; its log:\n{self.log.read_text()[-2000:]}")

    def _ready(self) -> bool:
        """True once `GET /pipelines/` answers (401 without a token); False if it exited."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{self.url}/pipelines/", timeout=1.0)
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the server and every task it runs. prunner puts each task in its own process
        group, and a killed server leaves them running: it is paused first, so that no task
        starts meanwhile, its tasks' groups are found and killed, then it is."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGSTOP)
            groups = {_group(child) for child in _children(process.pid)}
            os.kill(process.pid, signal.SIGKILL)
            for group in groups - {None, os.getpgid(0)}:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)  # type: ignore[arg-type]
        process.wait(timeout=10)

    def restart(self) -> None:
        """Kill it as a crash would and start it again on the same data directory."""
        self.stop()
        self.start()

    def wait_persisted(self, job_id: str, *, started: bool, timeout: float = 10.0) -> None:
        """Until the store holds `job_id` (started, when asked): prunner writes it at most
        every 3 seconds."""
        deadline = time.monotonic() + timeout
        store = self.data / "data.json"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                jobs = json.loads(store.read_text()).get("Jobs") or []
                for job in jobs:
                    if job.get("ID") == job_id and (not started or job.get("Start")):
                        return
            time.sleep(0.1)
        pytest.fail(f"prunner did not write job {job_id} to its store in {timeout} s")

    def token(self, sub: str = "tester", **claims: Any) -> str:
        payload = {"sub": sub, "exp": int(time.time()) + 60, **claims}
        with warnings.catch_warnings():  # PyJWT's about a short secret, which some tests use
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return jwt.encode(payload, self.secret, algorithm="HS256")

    def client(self, sub: str = "tester") -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=_Bearer(self, sub), timeout=10)

    def hub_settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "type": "prunner",
            "url": self.url,
            "jwt_secret": self.secret,
            "poll_interval": 0.05,
            "poll_max": 0.2,
            **extra,
        }


class _Bearer(httpx.Auth):
    def __init__(self, server: RealPrunner, sub: str) -> None:
        self.server, self.sub = server, sub

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self.server.token(self.sub)}"
        yield request


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # the field after the state is the parent's pid
                found.append(int(entry.name))
    return found


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


@contextlib.contextmanager
def running(root: Path, pipelines: dict[str, Any] = PIPELINES) -> Iterator[RealPrunner]:
    server = RealPrunner(binary(), root, pipelines).start()
    try:
        yield server
    finally:
        server.stop()
