"""`Emulator`: every emulated backend behind one local HTTP server, in a background thread."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TextIO

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from jobhub.emulator.backend import EmulatedBackend
from jobhub.emulator.clock import Clock
from jobhub.emulator.faults import EXEMPT_HEADER, FaultInjector, Faults
from jobhub.errors import ConfigError

__all__ = ["Emulator", "serve"]

_START_TIMEOUT = 10.0

log = logging.getLogger("jobhub.emulator")


class Emulator:
    """Local stand-ins for backends, each mounted at ``/<type>`` on one server on ``host``.

    ::

        with Emulator(seed=0, speed=20) as emu:
            hub = Hub(emu.hub_config())
            job_id = emu.submit("sieve", duration=5, outcome="failed")
            hub.wait(f"sieve:{job_id}")

    ``types`` picks the backends (type names from the ``jobhub_register_emulators`` hook, or
    `EmulatedBackend` subclasses); default: every registered one except those that are opt-in
    (``default = False``). An emulator whose ``unavailable()`` gives a reason (a program it
    needs is missing) is left out with one warning; ``emu.skipped`` says, by type, why each
    registered emulator left out is not served. ``seed`` makes ids, durations,
    outcomes and credentials repeatable. ``speed`` is emulated seconds per real second (0
    freezes time; move it with ``emu.clock.advance``). ``faults`` maps a type to its `Faults`.
    ``await_hold`` is how long (real seconds) a long-poll is held before it times out.
    ``port=0`` picks a free port. ``credentials`` maps a type to credential values to use
    instead of generated ones.

    ``emu.faults`` may be changed while it serves (``emu.faults["sieve"] = Faults(rate=0.2)``,
    ``del emu.faults["sieve"]``); the next request sees the change. Faults for a backend in
    ``skipped`` are dropped (so faults for "every registered backend" work); faults for any
    other backend it does not serve are refused.
    """

    def __init__(
        self,
        types: Iterable[str | type[EmulatedBackend]] | None = None,
        *,
        seed: int = 0,
        speed: float = 1.0,
        faults: Mapping[str, Faults] | None = None,
        await_hold: float = 600.0,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        if await_hold < 0:
            raise ConfigError(f"await_hold must be >= 0 seconds, not {await_hold!r}")
        self.clock = Clock(speed)
        self.host = host
        self.port = port
        self.backends: dict[str, EmulatedBackend] = {}
        chosen, self.skipped = _emulator_classes(types)
        credentials = credentials or {}
        for cls in chosen:
            reason = cls.unavailable()
            if reason is not None:
                log.warning("the %s emulator is left out: %s", cls.type, reason)
                self.skipped[cls.type] = reason
                continue
            self.backends[cls.type] = cls(
                clock=self.clock,
                seed=seed,
                await_hold=await_hold,
                credentials=credentials.get(cls.type),
            )
        unknown = set(faults or {}) - set(self.backends) - set(self.skipped)
        if unknown:
            raise ConfigError(
                f"faults given for {sorted(unknown)}, which this emulator does not serve "
                f"(serving: {', '.join(self.backends) or 'nothing'})"
            )
        self.faults: dict[str, Faults] = {
            name: value for name, value in (faults or {}).items() if name in self.backends
        }
        self.clock.on_change(self._wake_all)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self.url = ""

    def __repr__(self) -> str:
        return f"<Emulator {self.url or '(stopped)'} {list(self.backends)}>"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve in a background thread; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets that say they are TCP,
        # and with it on every answer (headers, then body) stalls ~40 ms on a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"emulator cannot listen on {self.host}:{self.port}: {exc.strerror or exc} — "
                "pick another port (0 picks a free one)"
            ) from None
        self.port = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        for backend in self.backends.values():
            backend.url = f"{self.url}/{backend.type}"
            backend.open()
        try:
            for backend in self.backends.values():
                backend.start()
        except BaseException:
            for backend in self.backends.values():
                backend.stop()
            sock.close()
            raise
        config = uvicorn.Config(
            self.asgi_app(),
            log_level="warning",
            access_log=False,
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="jobhub-emulator", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise ConfigError(f"emulator failed to start on {self.url}")
            time.sleep(0.005)
        return self  # the server owns the socket now and closes it when it stops

    def stop(self) -> None:
        """Stop serving: held long-polls are released, then the server shuts down."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        for backend in self.backends.values():
            backend.close()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        for backend in self.backends.values():
            backend.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def asgi_app(self) -> FaultInjector:
        """The ASGI app: every backend mounted at ``/<type>``, behind fault injection."""

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            for backend in self.backends.values():
                backend.close()

        root = Starlette(
            routes=[Mount(f"/{t}", app=b.app()) for t, b in self.backends.items()],
            lifespan=lifespan,
        )
        errors = {t: b.error_response for t, b in self.backends.items()}
        return FaultInjector(root, self.faults, errors)

    # -- use ------------------------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        """Each backend's root URL."""
        return {t: b.url for t, b in self.backends.items()}

    def hub_config(self) -> dict[str, dict[str, Any]]:
        """A configuration for ``Hub(...)`` with one backend per emulated type, named for it."""
        self._require_running()
        return {t: b.hub_settings() for t, b in self.backends.items()}

    def submit(
        self,
        type: str,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        """Create a job through ``type``'s own create endpoint over HTTP; return its hub id.

        ``duration`` (seconds from start to end) and ``outcome`` (``"succeeded"`` or
        ``"failed"``) steer it; left out, the seeded random picks. ``workflow`` picks the
        Sieve function, Pixxel workflow or prunner pipeline. Never faulted.
        """
        self._require_running()
        backend = self._backend(type)
        with self._lock:  # submit may be called from several threads at once
            client = self._clients.get(type)
            if client is None:
                client = httpx.Client(
                    base_url=backend.url, headers={EXEMPT_HEADER: "off"}, timeout=30
                )
                self._clients[type] = client
        return backend.submit(client, duration=duration, outcome=outcome, workflow=workflow)

    def final_state(self, type: str, job_id: str) -> str:
        """Shorthand for ``emu.backends[type].final_state(job_id)``."""
        return self._backend(type).final_state(job_id)

    def _backend(self, type: str) -> EmulatedBackend:
        try:
            return self.backends[type]
        except KeyError:
            why = f": {self.skipped[type]}" if type in self.skipped else ""
            raise ConfigError(
                f"this emulator does not serve {type!r}{why} "
                f"(serving: {', '.join(self.backends) or 'nothing'})"
            ) from None

    def _require_running(self) -> None:
        if self._thread is None:
            raise ConfigError("the emulator is not running — use `with Emulator() as emu:`")

    def _wake_all(self) -> None:
        for backend in self.backends.values():
            backend.notify()


def _emulator_classes(
    types: Iterable[str | type[EmulatedBackend]] | None,
) -> tuple[list[type[EmulatedBackend]], dict[str, str]]:
    """The classes to serve, and the registered opt-in ones left out (type → why)."""
    from jobhub.plugins import get_registry

    registered: dict[str, Any] = get_registry().emulators
    if types is None:
        every = [registered[name] for name in sorted(registered)]
        opt_in = {
            cls.type: f"it is opt-in: name it in `types` (Emulator(types=[..., {cls.type!r}]))"
            for cls in every
            if not cls.default
        }
        return [cls for cls in every if cls.default], opt_in
    chosen: list[type[EmulatedBackend]] = []
    for item in types:
        if isinstance(item, type) and issubclass(item, EmulatedBackend):
            chosen.append(item)
        elif isinstance(item, str) and item in registered:
            chosen.append(registered[item])
        else:
            known = ", ".join(sorted(registered)) or "none"
            raise ConfigError(
                f"no emulator for backend type {item!r} (registered: {known}) — install the "
                "plugin that ships it, or check JOBHUB_LOAD_PLUGINS"
            )
    return chosen, {}


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 9999,
    seed: int = 0,
    speed: float = 1.0,
    faults: Mapping[str, Faults] | None = None,
    types: Iterable[str] | None = None,
    await_hold: float = 600.0,
    print_config: bool = True,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    ready: Callable[[Emulator], None] | None = None,
) -> None:
    """Serve the emulated backends until interrupted (Ctrl-C) or ``stop`` is set, printing each
    backend's URL and, with ``print_config``, a ready ``jobhub.toml`` (the emulator's own,
    seed-derived credentials: they open nothing but this emulator). ``ready(emulator)`` runs
    once it serves, before "Press Ctrl-C" (to write the config, submit jobs...)."""
    stream = out if out is not None else sys.stdout
    emulator = Emulator(
        types, seed=seed, speed=speed, faults=faults, await_hold=await_hold, host=host, port=port
    )
    with emulator:
        stream.write(f"jobhub emulator serving on {emulator.url} (speed {speed:g}x, seed {seed})\n")
        for name, url in emulator.urls.items():
            stream.write(f"  {name:<10} {url}\n")
        if print_config:
            stream.write("\n# jobhub.toml for this emulator\n")
            stream.write(config_toml(emulator.hub_config()))
        if ready is not None:
            ready(emulator)
        stream.write("\nPress Ctrl-C to stop.\n")
        stream.flush()
        stop = stop if stop is not None else threading.Event()
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass


def config_toml(config: Mapping[str, Mapping[str, Any]]) -> str:
    """A hub configuration as ``[backends.<name>]`` TOML tables."""
    lines: list[str] = []
    for name, entry in config.items():
        lines.append(f"[backends.{name}]")
        for key, value in entry.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
