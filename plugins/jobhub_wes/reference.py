"""The GA4GH reference WES server (`wes-service`, running CWL with cwltool) on a loopback port,
for the demo and the tests:

    with ReferenceServer(workdir) as server:
        hub = Hub({"wes": {"url": server.url}})
        run_id = server.submit("echo hello")
        hub.wait(f"wes:{run_id}")

It needs `pip install 'wes-service[cwltool]'` (jobhub's test extra). `find_wes_server()` says
where `wes-server` is: `$JOBHUB_WES_SERVER`, next to this Python, or on PATH. The server runs in
its own process group, in `workdir` (its runs and temporary files go there), and stops with
every run it started. This module starts a process; the adapter itself does no I/O.
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
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from jobhub.errors import ConfigError

__all__ = ["SERVER_VARIABLE", "TOOL", "ReferenceServer", "find_wes_server"]

SERVER_VARIABLE = "JOBHUB_WES_SERVER"
# One CWL tool that runs its `script` input with `sh -c`; its stdout becomes the output `out`.
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
INSTALL_HINT = (
    "install jobhub's test extra (pip install -e '.[test]', which brings wes-service[cwltool]) "
    f"or set {SERVER_VARIABLE} to a wes-server executable"
)


def find_wes_server(env: Mapping[str, str] | None = None) -> Path | None:
    """The `wes-server` executable: `$JOBHUB_WES_SERVER`, next to this Python, or on PATH."""
    env = os.environ if env is None else env
    configured = env.get(SERVER_VARIABLE)
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(sys.executable).parent / "wes-server")
    on_path = shutil.which("wes-server", path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


RunForm = tuple[dict[str, str], list[tuple[str, tuple[str, bytes]]]]


def run_request(
    script: str, *, name: str = "tool", tags: Mapping[str, str] | None = None
) -> RunForm:
    """The multipart form of a `POST /runs` starting `TOOL` (attached as `<name>.cwl`) with
    `script`: its data fields and its files, as httpx takes them."""
    data = {
        "workflow_url": f"{name}.cwl",
        "workflow_type": "CWL",
        "workflow_type_version": "v1.2",
        "workflow_params": json.dumps({"script": script}),
    }
    if tags:
        data["tags"] = json.dumps(dict(tags))
    return data, [("workflow_attachment", (f"{name}.cwl", TOOL.encode()))]


class ReferenceServer:
    """`wes-server --backend=wes_service.cwl_runner --opt runner=cwltool` on 127.0.0.1, on a
    free port. `url` is its service base (`http://127.0.0.1:PORT/ga4gh/wes/v1`)."""

    def __init__(
        self,
        workdir: Path,
        *,
        executable: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.executable = executable
        self.start_timeout = start_timeout
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<ReferenceServer {self.url or '(stopped)'}>"

    @property
    def log_path(self) -> Path:
        return self.workdir / "wes-server.log"

    def start(self) -> Self:
        executable = self.executable or find_wes_server()
        if executable is None:
            raise ConfigError(
                f"wes-server (the GA4GH WES reference server) was not found — {INSTALL_HINT}"
            )
        if not (executable.parent / "cwltool").exists():
            raise ConfigError(
                f"{executable} has no cwltool beside it — install wes-service with its cwltool "
                "extra: pip install 'wes-service[cwltool]'"
            )
        scratch = self.workdir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PATH": f"{executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "TMPDIR": str(scratch),
        }
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    executable,
                    "--backend=wes_service.cwl_runner",
                    "--opt",
                    "runner=cwltool",
                    "--port=0",
                ],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own: its runs stop with it
            )
        port = self._wait_for_port()
        self.url = f"http://127.0.0.1:{port}/ga4gh/wes/v1"
        return self

    def _wait_for_port(self) -> int:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            found = re.search(rb"running on http://127\.0\.0\.1:(\d+)", self.log_path.read_bytes())
            if found:
                return int(found.group(1))
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log_path.read_bytes()[-2000:].decode("utf-8", "replace")
        self.stop()
        raise ConfigError(
            f"wes-server did not start within {self.start_timeout:g} s; its log ends:\n{tail}"
        )

    def stop(self) -> None:
        """Stop the server and every run it started (its whole process group)."""
        process, self._process = self._process, None
        self.url = ""
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            with contextlib.suppress(ProcessLookupError):  # runs may outlive the server
                os.killpg(process.pid, signal.SIGKILL)
            return

    def submit(self, script: str, *, tags: Mapping[str, str] | None = None) -> str:
        """Start a run of `TOOL` with `script`, the way any WES client does (a multipart
        `POST /runs`); returns its run id."""
        if not self.url:
            raise ConfigError("the reference server is not running: start() it first")
        data, files = run_request(script, tags=tags)
        response = httpx.post(f"{self.url}/runs", data=data, files=files, timeout=30.0)
        response.raise_for_status()
        run_id: str = response.json()["run_id"]
        return run_id

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
