"""Injected faults: a share of an emulated backend's answers go wrong, the way networks and
overloaded services go wrong. Off unless asked for, per backend, and seeded.

Kinds:

- ``"500"``, ``"502"``, ``"503"``: that status with the backend's own error body; the request is
  not processed.
- ``"429"``: too many requests, with ``Retry-After`` (seconds); not processed.
- ``"drop"``: the connection is closed without any answer; not processed.
- ``"slow"``: the answer comes ``delay`` real seconds late (a client with a shorter timeout
  gives up; once it hangs up, the request is dropped unprocessed).
- ``"truncate"``: processed, but the body stops short of its ``Content-Length`` and the connection
  closes.
- ``"cut"``: processed, and a well-formed HTTP answer whose JSON body is cut in half.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["EXEMPT_HEADER", "FAULT_KINDS", "FaultInjector", "Faults"]

FAULT_KINDS = ("500", "502", "503", "429", "drop", "slow", "truncate", "cut")
# Requests carrying this header are never faulted: `Emulator.submit` uses it so the jobs a test
# creates exist exactly once, whatever the fault rate.
EXEMPT_HEADER = "x-emulator-faults"

_REASONS = {
    429: "Too many requests.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service unavailable.",
}


@dataclass(frozen=True)
class Faults:
    """What share of one backend's answers go wrong, and how.

    ``rate`` is the share (0.0–1.0) of requests that get a fault; each such request gets one of
    ``kinds``, chosen at random. ``seed`` makes the sequence repeatable. ``retry_after`` is the
    ``Retry-After`` of a 429 (seconds); ``delay`` how late a slow answer comes (real seconds).
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: int = 1
    delay: float = 1.0
    rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate is a share between 0.0 and 1.0, not {self.rate!r}")
        kinds = tuple(str(kind) for kind in self.kinds)
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(
                f"unknown fault kind(s) {unknown or kinds!r}; choose from {', '.join(FAULT_KINDS)}"
            )
        if self.retry_after < 0 or self.delay < 0:
            raise ValueError("retry_after and delay must be >= 0")
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "rng", random.Random(self.seed))

    def draw(self) -> str | None:
        """The fault for the next request, or None. Always draws twice, so the sequence of
        faults depends only on the seed and the number of requests."""
        roll = self.rng.random()
        kind = self.rng.choice(self.kinds)
        return kind if roll < self.rate else None


ErrorResponder = Callable[[int, str], Response]


class FaultInjector:
    """ASGI middleware in front of every emulated backend: for requests under ``/<type>/``, draws
    from that backend's `Faults` and breaks the answer accordingly."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Mapping[str, Faults],
        errors: Mapping[str, ErrorResponder],
    ) -> None:
        self.app = app
        self.faults = faults  # read live: the owner may change faults while serving
        self.errors = dict(errors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        backend = scope["path"].split("/", 2)[1]
        faults = self.faults.get(backend)
        if faults is None or faults.rate <= 0 or backend not in self.errors or _exempt(scope):
            await self.app(scope, receive, send)
            return
        kind = faults.draw()
        if kind is None:
            await self.app(scope, receive, send)
        elif kind == "slow":
            await _slow(self.app, faults.delay, scope, receive, send)
        elif kind == "drop":
            await _drop(receive, send)
        elif kind in ("truncate", "cut"):
            await self._damaged(kind, scope, receive, send)
        else:
            status = int(kind)
            response = self.errors[backend](status, _REASONS[status])
            if status == 429:
                response.headers["Retry-After"] = str(faults.retry_after)
            await response(scope, receive, send)

    async def _damaged(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        body = b"".join(chunks)
        short = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if kind == "truncate" and _transport(send) is not None and body:
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": short, "more_body": True})
            await _drop(receive, send)
            return
        headers.append((b"content-length", str(len(short)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": short, "more_body": False})


async def _slow(app: ASGIApp, delay: float, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `delay` seconds late — unless the client hangs up first (it gave up waiting):
    then the request is dropped unprocessed, so the server holds no task for a client that is
    gone (a stopping server would otherwise wait for it, then cancel it noisily)."""
    body: list[Message] = []
    while True:  # read the request first: its body is replayed to the app
        message = await receive()
        if message["type"] != "http.request":
            return  # the client left before the request was read
        body.append(message)
        if not message.get("more_body", False):
            break
    hang_up = asyncio.ensure_future(receive())
    done, _ = await asyncio.wait({hang_up}, timeout=delay)
    if done:
        return
    hang_up.cancel()

    async def replay() -> Message:
        return body.pop(0) if body else await receive()

    await app(scope, replay, send)


def _exempt(scope: Scope) -> bool:
    name = EXEMPT_HEADER.encode()
    return any(key == name and value == b"off" for key, value in scope.get("headers", []))


def _transport(send: Send) -> Any:
    # The ASGI server's per-request `send` is a bound method of its request cycle, which holds
    # the connection's transport (uvicorn's h11 and httptools protocols both do). Closing it is
    # the only way to hang up without an answer; ASGI itself has no message for that.
    owner = getattr(send, "__self__", None)
    return getattr(owner, "transport", None)


async def _drop(receive: Receive, send: Send) -> None:
    transport = _transport(send)
    if transport is None:  # not uvicorn: the nearest thing is a bare 500 from the server
        raise ConnectionAbortedError("fault injection: dropped connection")
    transport.close()
    # Wait until the server has seen the connection go, so it does not try to answer.
    while (await receive())["type"] != "http.disconnect":
        pass
