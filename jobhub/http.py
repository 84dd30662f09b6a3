"""Runs adapters' `Call`s with httpx: one pooled client per backend, retries of transient
faults (the policy of `jobhub.retry`), a whole-response deadline, a body size cap, and every
failure mapped to a `jobhub.errors` type. `SyncRunner` and `AsyncRunner` are twins over the
same pure pieces (`_Reader`, `interpret`, `jobhub.retry`); their clients' options are
`jobhub.transport`'s.

Redirects are not followed: a 3xx is reported as an error naming where it pointed, so no
credential is ever sent to an origin other than the configured `url`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from jobhub import collector
from jobhub.backend import Adapter, Call, excerpt
from jobhub.errors import (
    AnswerTooLarge,
    BackendError,
    BackendUnavailable,
    ConfigError,
    HubClosed,
    InvalidPayload,
    InvalidRef,
    JobHubError,
    WrongEventLoop,
)
from jobhub.retry import Backoff, is_transient, pause_before_retry
from jobhub.sync_deadline import DeadlineTransport, sending_until
from jobhub.transport import USER_AGENT, client_options

__all__ = ["AsyncRunner", "SyncRunner", "follow_up", "interpret", "is_transient"]

_pause = time.sleep  # the pause between the tries of a sync call

log = logging.getLogger("jobhub.http")

T = TypeVar("T")

# One answer may take this many follow-up requests (`Call.then`), e.g. pages of a job's tasks.
MAX_FOLLOW_UPS = 1000


_UNADDRESSABLE = (
    "an id or paging token in the answer cannot build the request URL for it (too long, or "
    "characters a URL cannot carry)"
)


def interpret(adapter: Adapter, call: Call[T], response: httpx.Response) -> T:
    """A complete response → the call's result, or the right typed error."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")
        raise BackendError(
            f"{adapter.type} backend {adapter.name!r}: {status} redirect to {excerpt(where, 120)} "
            "— jobhub does not follow redirects (credentials stay with the configured url); "
            "set url to the final address",
            backend=adapter.name,
            status_code=status,
        )
    if status >= 400:
        error = call.on_error(response) if call.on_error is not None else None
        raise error or adapter.error(response)
    try:
        # Allocation-heavy and without cycles: see jobhub.collector.
        with collector.paused(len(response.content)):
            return call.parse(response)
    except InvalidRef as exc:  # raised by `Adapter.url` for an id the answer holds
        raise adapter.invalid(_UNADDRESSABLE, response.content) from exc
    except JobHubError:
        raise
    except Exception as exc:  # the adapter's safety net: never a bare KeyError
        raise adapter.invalid(
            f"could not read the answer ({type(exc).__name__}: {exc})", response.content
        ) from exc


def follow_up(adapter: Adapter, call: Call[T], result: T, count: int) -> Call[T] | None:
    """The call that continues `call` (its `then`), or None when `result` is complete.
    `count` follow-ups have been sent already; past `MAX_FOLLOW_UPS` the chain is refused."""
    if call.then is None:
        return None
    try:
        following = call.then(result)
    except InvalidRef as exc:  # raised by `Adapter.url` for an id the answer holds
        raise InvalidPayload(
            f"{adapter.type} backend {adapter.name!r}: {_UNADDRESSABLE}", backend=adapter.name
        ) from exc
    if following is not None and count >= MAX_FOLLOW_UPS:
        where = following.request.url.copy_with(query=None)
        raise InvalidPayload(
            f"{adapter.type} backend {adapter.name!r}: an answer still asked for more after "
            f"{MAX_FOLLOW_UPS} follow-up requests (next: {where}) — the backend's paging "
            "does not end",
            backend=adapter.name,
        )
    return following


def _transport_error(adapter: Adapter, request: httpx.Request, exc: Exception) -> JobHubError:
    where = f"{request.method} {request.url.copy_with(query=None)}"
    if isinstance(exc, httpx.LocalProtocolError):
        # Refused before sending: its message quotes the offending header, which may be a
        # credential with a stray newline, so it is not repeated.
        credentials = " / ".join(adapter.settings.secret_fields()) or "the credentials"
        return ConfigError(
            f"{adapter.type} backend {adapter.name!r}: {where} could not be sent as HTTP (a "
            "header value holds a line break, a control character or surrounding blanks) — "
            f"check {credentials} for stray whitespace",
            backend=adapter.name,
        )
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        what = f"no complete answer to {where} within {adapter.settings.timeout:g} s"
    else:
        what = f"cannot reach {where} ({type(exc).__name__}: {exc or 'connection failed'})"
    return BackendUnavailable(
        f"{adapter.type} backend {adapter.name!r}: {what} — check url and network, "
        "or raise timeout",
        backend=adapter.name,
    )


class _Reader:
    """Accumulates a streamed body, enforcing the size cap and the whole-response deadline."""

    def __init__(self, adapter: Adapter, timeout: float) -> None:
        self.adapter = adapter
        self.deadline = time.monotonic() + timeout
        self.limit = adapter.settings.max_response_bytes
        self.chunks: list[bytes] = []
        self.size = 0

    def check_length(self, response: httpx.Response) -> None:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            raise self._too_big(int(declared))

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise self._too_big(self.size)
        self.chunks.append(chunk)
        if time.monotonic() > self.deadline:
            raise httpx.ReadTimeout("response deadline passed")

    def finish(self, response: httpx.Response) -> httpx.Response:
        body = b"".join(self.chunks)
        headers = httpx.Headers(response.headers)
        headers.pop("Content-Encoding", None)  # the body is already decoded
        headers["Content-Length"] = str(len(body))
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=response.request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    def _too_big(self, size: int) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"{self.adapter.type} backend {self.adapter.name!r}: answer of {size} bytes exceeds "
            f"the {self.limit}-byte cap — raise max_response_bytes if this is expected",
            backend=self.adapter.name,
            size=size,
            limit=self.limit,
        )


def _log(adapter: Adapter, request: httpx.Request, response: httpx.Response, start: float) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s %s -> %s (%.0f ms, %d bytes)",
            adapter.name,
            request.method,
            request.url.copy_with(query=None),
            response.status_code,
            (time.monotonic() - start) * 1000,
            len(response.content),
        )


def _timed(adapter: Adapter, call: Call[Any]) -> tuple[httpx.Request, float]:
    """The call's request carrying its timeouts, and the whole-answer deadline in seconds.

    A request built outside a client has no timeout of its own, so it is set here: connect,
    write and pool waits use the backend's `timeout`; reads wait up to the call's (long-polls
    hold longer)."""
    timeout = call.timeout or adapter.settings.timeout
    request = call.request
    # Adapters build requests outside any client, so the client's default headers never
    # reach them: the User-Agent is set here, on every request sent.
    request.headers.setdefault("User-Agent", USER_AGENT)
    request.extensions["timeout"] = httpx.Timeout(adapter.settings.timeout, read=timeout).as_dict()
    return request, timeout


def _attempts(adapter: Adapter, call: Call[Any], retry: bool) -> int:
    return 1 + (adapter.settings.retries if call.retry and retry else 0)


def _retry_backoff(adapter: Adapter) -> Backoff:
    """Pauses between the tries of one call: from a quarter second (or `poll_interval`, when
    shorter) up to `poll_max`."""
    settings = adapter.settings
    return Backoff(min(0.25, settings.poll_interval), settings.poll_max)


class SyncRunner:
    """Sends calls with one pooled `httpx.Client` per backend."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self.closed = False

    def client(self, adapter: Adapter) -> httpx.Client:
        with self._lock:
            if self.closed:
                raise HubClosed
            client = self._clients.get(adapter.name)
            if client is None:
                options = client_options(adapter)
                transport = self._transport or DeadlineTransport(
                    verify=options["verify"], limits=options["limits"]
                )
                client = httpx.Client(transport=transport, **options)
                self._clients[adapter.name] = client
            return client

    def run(self, adapter: Adapter, call: Call[T], *, retry: bool = True) -> T:
        """Send `call` and the follow-ups its `then` asks for, retrying transient faults
        (`retry=False`: each is sent once, for a caller that retries itself); return the
        final parsed result or raise."""
        result = self._tries(adapter, call, retry)
        count = 0
        while (following := follow_up(adapter, call, result, count)) is not None:
            call, count = following, count + 1
            result = self._tries(adapter, call, retry)
        return result

    def _tries(self, adapter: Adapter, call: Call[T], retry: bool) -> T:
        backoff, left = _retry_backoff(adapter), _attempts(adapter, call, retry)
        while True:
            left -= 1
            try:
                return self.send_once(adapter, call)
            except JobHubError as exc:
                if not left or not is_transient(exc):
                    raise
                _pause(pause_before_retry(exc, backoff))

    def send_once(self, adapter: Adapter, call: Call[T]) -> T:
        request, timeout = _timed(adapter, call)
        reader = _Reader(adapter, timeout)
        start = time.monotonic()
        try:
            with sending_until(reader.deadline):
                response = self.client(adapter).send(
                    request, auth=adapter.auth() or httpx.USE_CLIENT_DEFAULT, stream=True
                )
                try:
                    reader.check_length(response)
                    for chunk in response.iter_bytes():
                        reader.feed(chunk)
                finally:
                    response.close()
        except (httpx.HTTPError, RuntimeError) as exc:
            if self.closed:  # closed by another thread meanwhile
                raise HubClosed from None
            if isinstance(exc, RuntimeError):
                raise
            raise _transport_error(adapter, request, exc) from None
        complete = reader.finish(response)
        _log(adapter, request, complete, start)
        return interpret(adapter, call, complete)

    def close(self) -> None:
        """Close every connection; the runner sends nothing more (`HubClosed`)."""
        with self._lock:
            self.closed = True
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


# Connections per httpx pool. httpcore looks at every connection of a pool each time a request
# starts or ends, so one pool of 512 held long-polls costs 512 checks per request (most of a
# 5,000-job wait's CPU); a backend given more connections gets several pools of at most this
# many, each request sent through the one with the fewest requests in flight.
POOL_CONNECTIONS = 32


class AsyncRunner:
    """The asyncio twin of `SyncRunner`. `connections(adapter)` sizes each backend's pool
    (default: its `concurrency`), split into pools of at most `POOL_CONNECTIONS`."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        connections: Callable[[Adapter], int] | None = None,
    ) -> None:
        self._transport = transport
        self._connections = connections
        self._clients: dict[str, list[httpx.AsyncClient]] = {}
        self._in_flight: dict[str, list[int]] = {}  # per backend, requests in each pool
        self._loop: asyncio.AbstractEventLoop | None = None  # the one the clients belong to
        self.closed = False

    def connections_for(self, adapter: Adapter) -> int:
        """How many requests to the backend this runner sends at once."""
        if self._connections is None:
            return adapter.settings.concurrency
        return self._connections(adapter)

    def client(self, adapter: Adapter) -> httpx.AsyncClient:
        """The backend's client with the fewest requests in flight."""
        return self._clients_of(adapter)[self._least_busy(adapter)]

    def _least_busy(self, adapter: Adapter) -> int:
        self._clients_of(adapter)
        counts = self._in_flight[adapter.name]
        return counts.index(min(counts))

    def _clients_of(self, adapter: Adapter) -> list[httpx.AsyncClient]:
        if self.closed:
            raise HubClosed
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a client made before any loop runs is bound to none yet
            loop = None
        if loop is not None and self._loop is not loop:
            if self._loop is not None and self._clients:  # their connections stay on it
                raise WrongEventLoop(
                    f"{adapter.type} backend {adapter.name!r}: this AsyncHub opened its "
                    "connections on another event loop (an earlier asyncio.run?) — make one "
                    "AsyncHub per event loop, or close it (async with / await hub.aclose()) "
                    "before that loop ends",
                    backend=adapter.name,
                )
            self._loop = loop
        clients = self._clients.get(adapter.name)
        if clients is None:
            connections = self.connections_for(adapter)
            pools = -(-connections // POOL_CONNECTIONS)
            options = client_options(adapter, -(-connections // pools))  # one TLS context
            clients = self._clients[adapter.name] = [
                httpx.AsyncClient(transport=self._transport, **options) for _ in range(pools)
            ]
            self._in_flight[adapter.name] = [0] * pools
        return clients

    async def run(self, adapter: Adapter, call: Call[T], *, retry: bool = True) -> T:
        result = await self._tries(adapter, call, retry)
        count = 0
        while (following := follow_up(adapter, call, result, count)) is not None:
            call, count = following, count + 1
            result = await self._tries(adapter, call, retry)
        return result

    async def _tries(self, adapter: Adapter, call: Call[T], retry: bool) -> T:
        backoff, left = _retry_backoff(adapter), _attempts(adapter, call, retry)
        while True:
            left -= 1
            try:
                return await self.send_once(adapter, call)
            except JobHubError as exc:
                if not left or not is_transient(exc):
                    raise
                await asyncio.sleep(pause_before_retry(exc, backoff))

    async def send_once(self, adapter: Adapter, call: Call[T]) -> T:
        request, timeout = _timed(adapter, call)
        reader = _Reader(adapter, timeout)
        start = time.monotonic()
        pool = self._least_busy(adapter)
        client, in_flight = self._clients[adapter.name][pool], self._in_flight[adapter.name]
        in_flight[pool] += 1
        try:
            async with asyncio.timeout(timeout):
                response = await client.send(
                    request, auth=adapter.auth() or httpx.USE_CLIENT_DEFAULT, stream=True
                )
                try:
                    reader.check_length(response)
                    async for chunk in response.aiter_bytes():
                        reader.feed(chunk)
                finally:
                    await response.aclose()
        except (httpx.HTTPError, TimeoutError, RuntimeError) as exc:
            if self.closed:
                raise HubClosed from None
            if isinstance(exc, RuntimeError):
                raise
            raise _transport_error(adapter, request, exc) from None
        finally:
            in_flight[pool] -= 1
        complete = reader.finish(response)
        _log(adapter, request, complete, start)
        return interpret(adapter, call, complete)

    async def aclose(self) -> None:
        """Close every connection; the runner sends nothing more (`HubClosed`)."""
        self.closed = True
        pools, self._clients, self._loop = list(self._clients.values()), {}, None
        self._in_flight = {}
        for clients in pools:
            for client in clients:
                await client.aclose()
