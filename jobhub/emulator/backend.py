"""The contract an emulated backend implements, and the machinery every emulator shares.

A plugin ships an emulator for its backend by subclassing `EmulatedBackend` and registering the
class through the ``jobhub_register_emulators`` hook (see ``jobhub.hookspecs``)::

    from jobhub import hookimpl
    from jobhub.emulator import EmulatedBackend

    class AcmeEmulator(EmulatedBackend):
        type = "acme"                      # the adapter type it stands in for
        credential_names = ("api_key",)    # settings the hub needs; values are generated

        def routes(self): ...              # starlette routes, relative to the backend's root
        def submit(self, client, *, duration=None, outcome=None, workflow=None): ...

    @hookimpl
    def jobhub_register_emulators(register):
        register(AcmeEmulator)

`jobhub.emulator.Emulator` then serves it at ``/<type>`` next to the built-in ones, and
``jobhub demo``, ``jobhub emulator`` and the testing kit pick it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jobhub.emulator.clock import Clock
from jobhub.emulator.dag import Graph, schedule
from jobhub.emulator.lifecycle import Planner, Run

__all__ = ["EmulatedBackend", "Endpoint", "json_response"]

Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Compact UTF-8 JSON, as the vendors' servers send it."""
    return JSONResponse(data, status_code=status, headers=dict(headers or {}))


class EmulatedBackend(ABC):
    """A local stand-in for one backend type, speaking its wire format over HTTP.

    **What a subclass provides**

    - ``type`` (class attribute): the adapter type it emulates; it is served at ``/<type>``.
    - ``credential_names`` (class attribute): the settings keys holding credentials
      (``api_key``, ``jwt_secret``, ``token``); the emulator generates a value for each (from
      the seed, so a fixed seed keeps a config file valid across restarts) unless given one.
    - ``routes()``: the starlette routes of the vendor's API, paths relative to the backend's
      root (``/v2/jobs/{job_id}``). Wrap each endpoint with ``self.guard`` (or check
      credentials yourself) and answer in the vendor's own shapes, status codes and error bodies.
    - ``submit(client, *, duration, outcome, workflow)``: create a job through the vendor's own
      create endpoint with ``client`` (an ``httpx.Client`` whose base URL is this backend's root)
      and return the id a hub ref uses. ``duration`` (seconds from start to end) and ``outcome``
      (``"succeeded"``/``"failed"``) steer the job; ``workflow`` picks what it is a run of.
    - ``authenticate(request)``: None when the credentials are good, else the vendor's refusal.
    - ``error_response(status, message)``: the vendor's error body; injected faults use it too.

    **What it gets**

    - ``clock`` (emulated time; a job's state must be a function of its plan and
      ``clock.now()``, never of background threads), ``planner`` (seeded ids, durations and
      outcomes), ``runs`` (every job's `Run`, by id, oldest first), ``new_run(...)`` (plan
      and store a job, tasks and steering included).
    - ``final_state(job_id)``: the canonical word the job ends in, from its `Run`; override
      ``find`` if the ids a hub uses differ from the keys of ``runs``.
    - ``hold(run, seconds)``: for long-poll endpoints, waits until the job ends (True) or the
      hold runs out (False), waking at once when the clock jumps or ``notify()`` is called
      (call it after anything that changes a job, such as a cancel).
    - ``hub_settings()``: the entry ``Hub(...)`` needs for this backend.

    Knobs for the seeded plans (class attributes): ``queue_range`` (seconds a job waits before
    it starts), ``duration_range`` (seconds it runs), ``failure_rate`` (share that fail when the
    submitter does not say).

    **Optional, for emulators that are heavy or need something installed** (such as one that
    fronts a real server it starts):

    - ``default`` (class attribute, True): False leaves it out of ``Emulator()`` unless named
      in ``types``; ``jobhub demo`` still serves it when it is available.
    - ``unavailable()`` (classmethod): why it cannot run on this machine (a program it needs is
      missing), or None. ``Emulator`` leaves an unavailable emulator out with one warning.
    - ``start()`` / ``stop()``: start what it needs beyond its routes before the server serves,
      stop it after the server has stopped.
    - ``demo_jobs`` (class attribute, None): at most this many jobs in ``jobhub demo``.
    - ``cancels`` (class attribute, True): False when a cancel through its API does not end the
      job, so the demo does not pick it for its mid-run cancel.
    """

    type: ClassVar[str]
    credential_names: ClassVar[tuple[str, ...]] = ("api_key",)
    queue_range: ClassVar[tuple[float, float]] = (0.2, 1.5)
    duration_range: ClassVar[tuple[float, float]] = (3.0, 15.0)
    failure_rate: ClassVar[float] = 0.2
    default: ClassVar[bool] = True
    demo_jobs: ClassVar[int | None] = None
    cancels: ClassVar[bool] = True

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        await_hold: float = 600.0,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.seed = seed
        self.await_hold = await_hold
        self.planner = Planner(
            f"{seed}/{self.type}",
            queue=self.queue_range,
            duration=self.duration_range,
            failure_rate=self.failure_rate,
        )
        minted = random.Random(f"{seed}/{self.type}/credentials")
        self.credentials: dict[str, str] = {
            name: f"emu-{self.type}-{minted.getrandbits(96):024x}" for name in self.credential_names
        }
        unknown = set(credentials or {}) - set(self.credential_names)
        if unknown:
            raise ValueError(
                f"{self.type} emulator: unknown credential setting(s) {sorted(unknown)}; "
                f"it uses {list(self.credential_names)}"
            )
        self.credentials.update(credentials or {})
        self.runs: dict[str, Run] = {}
        self.url = ""  # set by the Emulator once it serves
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._change: asyncio.Event | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"<{type(self).__name__} {self.url or '(not serving)'} jobs={len(self.runs)}>"

    # -- the contract ---------------------------------------------------------------------------

    @abstractmethod
    def routes(self) -> Sequence[BaseRoute]:
        """The vendor API's routes, relative to this backend's root."""

    @abstractmethod
    def submit(
        self,
        client: httpx.Client,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        """Create a job through the vendor's create endpoint; return its hub id."""

    def authenticate(self, request: Request) -> Response | None:
        """None when the request carries good credentials, else the vendor's refusal."""
        return None

    def error_response(self, status: int, message: str) -> Response:
        """The vendor's error body for ``status``; the default is ``{"error": message}``."""
        return json_response({"error": message}, status)

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this emulator cannot run on this machine, or None when it can (the default)."""
        return None

    def start(self) -> None:  # noqa: B027 — an optional hook; most emulators need none
        """Start what the emulator needs besides its routes (a server it fronts, say).
        ``Emulator.start`` calls it before serving; an exception stops the emulator starting."""

    def stop(self) -> None:  # noqa: B027 — an optional hook, as start
        """Stop what ``start`` started. ``Emulator.stop`` calls it once the server has stopped;
        it may come without a ``start`` before it, or twice."""

    # -- provided -------------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The ASGI app serving ``routes()``; unknown paths and methods get the vendor's error
        body through ``error_response``."""

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            response = self.error_response(exc.status_code, str(exc.detail))
            for key, value in (exc.headers or {}).items():
                response.headers[key] = value
            return response

        return Starlette(routes=list(self.routes()), exception_handlers={HTTPException: http_error})

    def guard(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` behind ``authenticate``."""

        async def guarded(request: Request) -> Response:
            refusal = self.authenticate(request)
            if refusal is not None:
                return refusal
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "endpoint")
        return guarded

    def route(self, path: str, endpoint: Endpoint, methods: Sequence[str] = ("GET",)) -> Route:
        """A guarded route."""
        return Route(path, self.guard(endpoint), methods=list(methods))

    def hub_settings(self) -> dict[str, Any]:
        """This backend's entry for ``Hub(...)``: type, url and credentials."""
        return {"type": self.type, "url": self.url, **self.credentials}

    def add(self, run: Run) -> Run:
        self.runs[run.id] = run
        return run

    def new_run(
        self,
        workflow: str,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        graph: Graph | None = None,
        fail_fast: bool = True,
        skipped: frozenset[str] = frozenset(),
        user: str = "",
        inputs: Any = None,
    ) -> Run:
        """Plan a new job created now and store it. Without steering, the planner's seeded
        random picks its queue time, run time and outcome. With a ``graph``, a failing job's
        failing task is picked among the steps not ``skipped``, and its end follows from
        `schedule` (``fail_fast`` as the backend behaves)."""
        now = self.now()
        plan = self.planner.plan(duration=duration, outcome=outcome)
        started = now + plan.queued_for
        final, failing, finished = plan.outcome, None, started + plan.duration
        if graph is not None and final == "failed":
            candidates = [name for name in graph.names if name not in skipped]
            if candidates:
                failing = candidates[plan.bits % len(candidates)]
                _, finished = schedule(
                    graph,
                    started=started,
                    duration=plan.duration,
                    failing=failing,
                    fail_fast=fail_fast,
                    skipped=skipped,
                )
            else:  # nothing runs, so nothing can fail
                final = "succeeded"
        run = Run(
            id=self.planner.new_id(),
            workflow=workflow,
            created=now,
            started=started,
            duration=plan.duration,
            finished=finished,
            outcome=final,
            bits=plan.bits,
            user=user,
            inputs=inputs,
            failing=failing,
        )
        return self.add(run)

    def find(self, job_id: str) -> Run | None:
        """The `Run` behind a hub id, or None."""
        return self.runs.get(job_id)

    def final_state(self, job_id: str) -> str:
        """The canonical word the job ends (or ended) in: ``succeeded``, ``failed`` or
        ``cancelled``. A job that has not ended yet may still be cancelled, which changes it."""
        run = self.find(job_id)
        if run is None:
            raise LookupError(f"{self.type} emulator has no job {job_id!r}")
        return run.final_state

    def now(self) -> float:
        return self.clock.now()

    # -- waking long-polls ----------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every ``hold`` so it re-checks its job (safe from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self._change = self._change, None
        if event is not None:
            event.set()

    async def wait_for_change(self, timeout: float) -> None:
        """Sleep up to ``timeout`` real seconds, less if ``notify`` is called."""
        self._loop = asyncio.get_running_loop()
        if self._change is None:
            self._change = asyncio.Event()
        event = self._change
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def hold(self, run: Run, seconds: float) -> bool:
        """Wait until ``run`` has ended (True) or ``seconds`` real seconds pass (False)."""
        deadline = time.monotonic() + seconds
        while True:
            now = self.clock.now()
            if run.ended(now):
                return True
            left = deadline - time.monotonic()
            if left <= 0 or self.closing:
                return False
            until_end = self.clock.real_delay(run.ends - now)
            await self.wait_for_change(min(left, until_end + 0.001))

    def open(self) -> None:
        """Get ready to serve (again): held requests wait, and wake on the new event loop."""
        self.closing = False
        self._loop = None
        self._change = None

    def close(self) -> None:
        """Release every held request (the server is stopping)."""
        self.closing = True
        self.notify()
