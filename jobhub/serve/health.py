"""Each followed backend's health, learnt from every request its watch sends.

`ObservingTransport` sits under the backend's hub (one hub per backend, so each transport knows
whose requests it carries) and tells `BackendHealth` how each answer went; the same numbers
feed `jobhub_backend_requests_total` and `jobhub_backend_poll_seconds`. Outcomes are a fixed set
(`OUTCOMES`), so metric labels stay bounded. Nothing of a request but its status is kept: no
URL (it may carry a signed query), no header (credentials).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from jobhub.backend import Adapter
    from jobhub.serve.metrics import Metrics

__all__ = ["OUTCOMES", "BackendHealth", "ObservingTransport", "outcome_of"]

# What became of a request: the label values of jobhub_backend_requests_total.
OUTCOMES = (
    "ok",
    "held",
    "not_found",
    "denied",
    "refused",
    "rate_limited",
    "server_error",
    "unreachable",
)
_UP = frozenset({"ok", "held", "not_found"})


def outcome_of(status: int | None) -> str:
    """The outcome of an answer with `status` (None: no answer at all)."""
    if status is None:
        return "unreachable"
    if status < 300:
        return "ok"
    if status == 408:  # a long-poll's hold expired: the backend is fine
        return "held"
    if status == 404:
        return "not_found"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "refused"


@dataclass
class BackendHealth:
    """What `GET /api/v1/backends` says of one backend (plus its job counts)."""

    name: str
    type: str
    reachable: bool | None = None  # None: not asked yet
    last_good_poll: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    paused_until: datetime | None = None  # a rate limit's Retry-After
    following: bool = False  # its watch is running
    outcomes: dict[str, int] = field(default_factory=dict)

    def answered(self, outcome: str, *, status: int | None, retry_after: float | None) -> None:
        now = datetime.now(UTC)
        self.reachable = outcome != "unreachable"
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome in _UP:
            self.consecutive_failures = 0
            self.last_good_poll = now
            return
        self.consecutive_failures += 1
        self.last_error = f"HTTP {status}" if status is not None else "no answer"
        if retry_after is not None:
            self.paused_until = now + timedelta(seconds=retry_after)

    def failed(self, message: str) -> None:
        """The watch itself stopped on an error (its message is safe to show)."""
        self.following = False
        self.last_error = message

    @property
    def up(self) -> bool:
        return bool(self.reachable) and self.consecutive_failures == 0

    def as_json(self, jobs: dict[str, int]) -> dict[str, Any]:
        paused = (
            self.paused_until
            if self.paused_until and self.paused_until > datetime.now(UTC)
            else None
        )
        return {
            "name": self.name,
            "type": self.type,
            "up": self.up,
            "reachable": self.reachable,
            "following": self.following,
            "last_good_poll": self.last_good_poll.isoformat() if self.last_good_poll else None,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "rate_limited_until": paused.isoformat() if paused else None,
            "jobs": jobs,
        }


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _verify(adapter: Adapter) -> bool | ssl.SSLContext:
    # The hub applies these itself when it opens the connection pool; a transport passed in
    # replaces that pool, so the same TLS settings are applied here.
    settings = adapter.settings
    if settings.verify and settings.ca_file is not None:
        return ssl.create_default_context(cafile=settings.ca_file)
    return bool(settings.verify)


class ObservingTransport(httpx.AsyncBaseTransport):
    """An HTTP transport for one backend that reports each answer to its health and metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._inner: httpx.AsyncHTTPTransport | None = None
        self._health: BackendHealth | None = None

    def bind(self, adapter: Adapter, health: BackendHealth) -> BackendHealth:
        """Carry `adapter`'s requests (with its TLS settings), reporting to `health`."""
        self._inner = httpx.AsyncHTTPTransport(
            verify=_verify(adapter),
            trust_env=False,
            # Held long-polls take a connection each, besides the `concurrency` others.
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=adapter.settings.concurrency
            ),
        )
        self._health = health
        return health

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            raise httpx.ConnectError("transport not bound to a backend", request=request)
        start = time.monotonic()
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            self._report(None, None, start)
            raise
        self._report(response.status_code, response, start)
        return response

    def _report(self, status: int | None, response: httpx.Response | None, start: float) -> None:
        assert self._health is not None  # bound before any request
        outcome = outcome_of(status)
        retry_after = _retry_after(response) if response is not None and status == 429 else None
        self._health.answered(outcome, status=status, retry_after=retry_after)
        self._metrics.request(self._health.name, outcome, time.monotonic() - start)

    async def aclose(self) -> None:
        # Every client the hub opens shares this transport and closes it when done with it
        # (each watch opens and closes some): the pool stays open until `shutdown`.
        pass

    async def shutdown(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
