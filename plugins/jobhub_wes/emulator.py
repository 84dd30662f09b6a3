"""The WES emulator is the real thing: the GA4GH reference server (`wes-service`, running CWL
with cwltool) behind the emulator at `/wes`.

    with Emulator(["wes"], speed=20) as emu:       # opt-in: Emulator() leaves it out
        hub = Hub(emu.hub_config())                # url = <emulator>/wes/ga4gh/wes/v1
        run_id = emu.submit("wes", duration=10, outcome="failed")
        hub.wait(f"wes:{run_id}")                  # failed, as emu.final_state("wes", run_id)

`start()` launches `ReferenceServer` on a free loopback port in a temporary directory; every
request under `/wes` is passed on to it (method, path, query, body, content type) and its
answer comes back as it is (status, body, content type). `submit` posts a one-step CWL run
through that same path, the way any WES client creates a run.

Unlike the other emulators, jobs here are real processes on real time: a run sleeps for the
real seconds its `duration` takes on the emulator's clock at submission (`duration / pace`:
the clock's speed, or while it is held the speed it will run at again; `duration` itself when
the clock is frozen at speed 0), plus the few seconds cwltool needs, and later changes to the
clock do not reach it. The reference server has no authentication, so neither
has this emulator. It accepts a cancel but lets the run go on; `final_state` is the outcome
the run was submitted to end in, which is what the server reports in the end, and
`cancel_requests` remembers the cancels that reached it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from jobhub.emulator import Clock, EmulatedBackend, Run, SteeringError, json_response
from jobhub.emulator import parse_steering as read_steering
from jobhub.errors import InvalidPayload
from jobhub_wes.reference import INSTALL_HINT, ReferenceServer, find_wes_server, run_request

__all__ = ["BASE", "WesEmulator"]

BASE = "/ga4gh/wes/v1"  # the service base every WES server publishes its API under
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
FORWARDED = ("content-type", "accept")  # the request headers passed on
PROXY_TIMEOUT = 30.0
DEFAULT_WORKFLOW = "tool"
_CANCEL = re.compile(rf"{BASE}/runs/([^/]+)/cancel")
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class WesEmulator(EmulatedBackend):
    """The reference WES server, fronted at `/wes`. See the module docstring."""

    type = "wes"
    credential_names: ClassVar[tuple[str, ...]] = ()
    default = False  # every run is a cwltool process: served when asked for, and by the demo
    demo_jobs = 3
    cancels = False  # the reference server lets a cancelled run go on

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        await_hold: float = 600.0,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(clock=clock, seed=seed, await_hold=await_hold, credentials=credentials)
        self.server: ReferenceServer | None = None
        self.cancel_requests: set[str] = set()
        self._upstream: httpx.URL | None = None
        self._workdir: Path | None = None
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def unavailable(cls) -> str | None:
        executable = find_wes_server()
        if executable is None:
            return f"wes-server (the GA4GH WES reference server) was not found — {INSTALL_HINT}"
        if not (executable.parent / "cwltool").exists():
            return f"{executable} has no cwltool beside it — pip install 'wes-service[cwltool]'"
        return None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self.server is not None:
            return
        workdir = Path(tempfile.mkdtemp(prefix="jobhub-wes-"))
        try:
            server = ReferenceServer(workdir).start()
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self.server, self._workdir, self._upstream = server, workdir, httpx.URL(server.url)

    def stop(self) -> None:
        server, workdir = self.server, self._workdir
        self.server = self._workdir = self._upstream = None
        self._client = self._client_loop = None  # it keeps no connection open: nothing to close
        if server is not None:
            server.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- the API: whatever the reference server answers ------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        return [self.route("/{path:path}", self.proxy, METHODS)]

    def error_response(self, status: int, message: str) -> Response:
        """WES's `ErrorResponse`."""
        return json_response({"msg": message, "status_code": status}, status)

    def hub_settings(self) -> dict[str, Any]:
        return {**super().hub_settings(), "url": f"{self.url}{BASE}"}

    async def proxy(self, request: Request) -> Response:
        upstream = self._upstream
        if upstream is None:
            return self.error_response(503, "the WES reference server is not running")
        path = _path_below(request)
        query = request.scope.get("query_string", b"")
        target = upstream.copy_with(raw_path=path + b"?" + query if query else path)
        headers = {name: value for name in FORWARDED if (value := request.headers.get(name))}
        try:
            answer = await self._http().request(
                request.method, target, headers=headers, content=await request.body()
            )
        except httpx.HTTPError as exc:
            return self.error_response(
                502, f"the WES reference server did not answer ({type(exc).__name__})"
            )
        cancel = _CANCEL.fullmatch(path.decode("ascii", "replace"))
        if cancel and request.method == "POST" and answer.is_success:
            self.cancel_requests.add(unquote(cancel.group(1)))
        content_type = answer.headers.get("content-type")
        return Response(
            answer.content,
            status_code=answer.status_code,
            headers={"content-type": content_type} if content_type else None,
        )

    def _http(self) -> httpx.AsyncClient:
        """One client per event loop. It keeps no connection alive, so one dropped when the
        loop ends leaves nothing open."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                timeout=PROXY_TIMEOUT,
                trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            self._client_loop = loop
        return self._client

    # -- creating runs --------------------------------------------------------------------------

    def submit(
        self,
        client: httpx.Client,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        """Start a run of a one-step CWL tool through `POST /runs`: it sleeps for `duration`
        (emulated seconds, on the clock's speed now) and then succeeds or exits non-zero, as
        `outcome` says. `workflow` names the attached CWL file (default `tool`)."""
        seconds, word = read_steering(duration, outcome)
        plan = self.planner.plan(duration=seconds, outcome=word)
        name = workflow or DEFAULT_WORKFLOW
        if not _WORKFLOW_NAME.fullmatch(name):
            raise SteeringError(
                f"workflow names the CWL file attached to the run: letters, digits, '.', '_' "
                f"and '-', up to 64, not {name!r}"
            )
        script = _script(self._real_seconds(plan.duration), plan.outcome)
        data, files = run_request(script, name=name)
        response = client.post(f"{BASE}/runs", data=data, files=files)
        response.raise_for_status()
        run_id = response.json().get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise InvalidPayload(
                "the WES reference server created a run without a run_id",
                excerpt=response.text[:200],
                backend=self.type,
            )
        now = self.now()
        self.add(
            Run(
                id=run_id,
                workflow=name,
                created=now,
                started=now,
                duration=plan.duration,
                finished=now + plan.duration,
                outcome=plan.outcome,
                bits=plan.bits,
                inputs={"script": script},
            )
        )
        return run_id

    def _real_seconds(self, emulated: float) -> float:
        pace = self.clock.pace  # while the clock is held, the speed it will run at again
        return emulated / pace if pace > 0 else emulated


def _path_below(request: Request) -> bytes:
    """The request's path below this backend's mount, escapes as they were sent."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    root = request.scope.get("root_path", "").encode()
    return raw[len(root) :] if root and raw.startswith(root) else raw


def _script(seconds: float, outcome: str) -> str:
    """The shell script of a run: sleep, then end as planned."""
    if outcome == "failed":
        return f"sleep {seconds:.3f}; echo 'failing, as planned' >&2; exit 3"
    return f"sleep {seconds:.3f}; echo done"
