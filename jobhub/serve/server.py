"""Running `jobhub serve`: the listening socket, uvicorn, signals, the exit code.

The socket is bound before anything else, so a port in use is a one-line error and `--port 0`
knows its port at once. SIGTERM stops the server with exit 0 and Ctrl-C (SIGINT) with 130;
either way the service stops first: watches end, received events are committed, the store is
closed. A second signal skips waiting for open streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from jobhub.errors import ConfigError
from jobhub.serve.app import create_app
from jobhub.serve.service import Service

__all__ = ["Server"]

GRACE = 3  # seconds open streams get to end on shutdown


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}) — pick another --port "
            "or --host"
        ) from None
    sock.setblocking(False)
    return sock


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.interrupted = False

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would re-raise the signal once stopped; jobhub exits with its own codes.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signalled, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _signalled(self, sig: int) -> None:
        self.interrupted = self.interrupted or sig == signal.SIGINT
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


class Server:
    """`jobhub serve` over `service`, listening on `host`:`port` (0: any free port)."""

    def __init__(self, service: Service, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.service = service
        self.socket = _bind(host, port)
        bound_port = self.socket.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound_port}"
        config = uvicorn.Config(
            create_app(service),
            log_level="warning",
            access_log=False,
            lifespan="off",  # the service is started and stopped here, around uvicorn
            timeout_graceful_shutdown=GRACE,
            proxy_headers=False,
        )
        self._uvicorn = _Uvicorn(config)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, announce: Callable[[str], Any] = print) -> bool:
        """Serve until stopped; returns True when stopped by Ctrl-C (SIGINT)."""
        self._loop = asyncio.get_running_loop()
        try:
            await self.service.start()
            announce(f"jobhub serve: listening on {self.url}")
            await self._uvicorn.serve(sockets=[self.socket])
        finally:
            try:
                await self.service.stop()
            finally:
                self.socket.close()
        return self._uvicorn.interrupted

    def stop(self) -> None:
        """Ask the server to stop, from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(setattr, self._uvicorn, "should_exit", True)
        else:
            self._uvicorn.should_exit = True
