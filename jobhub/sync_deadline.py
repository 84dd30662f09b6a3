"""Sync sockets cut at the sending request's whole-answer deadline.

A sync httpx client's timeouts bound each socket operation, so a server sending its status
line a byte at a time could hold a request for ever; asyncio wraps a request in one timeout.
`DeadlineTransport` is httpx's own transport over sockets whose every operation (connect, TLS,
write, read) is shortened to what is left of the deadline `sending_until` sets for the thread.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

__all__ = ["DeadlineTransport", "sending_until"]

# The whole-answer deadline of the request this thread is sending (monotonic seconds).
_sending = threading.local()


@contextlib.contextmanager
def sending_until(deadline: float) -> Iterator[None]:
    """Requests this thread sends meanwhile end by `deadline` (`time.monotonic()` seconds)."""
    _sending.deadline = deadline
    try:
        yield
    finally:
        _sending.deadline = None


def _time_left(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    """`timeout` for one socket operation, shortened to what is left of the request's
    whole-answer deadline; `late` is raised once the deadline has passed."""
    deadline: float | None = getattr(_sending, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("response deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    """Sockets whose every operation ends by the sending request's whole-answer deadline.

    A sync client's timeouts bound each socket operation, so a server sending its status line
    a byte at a time could hold a request for ever; asyncio wraps a request in one timeout,
    and this gives sync requests the same bound."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        wait = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(super().connect_tcp(host, port, wait, local_address, socket_options))


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport over `_DeadlineBackend` sockets."""

    def __init__(self, *, verify: bool | ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        # httpx offers no way to give its pool a network backend: the pool is replaced.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )
