"""`MockBackend`: answers the requests an adapter builds, routed by method and URL, through
`httpx.MockTransport`, so a real `Hub`/`AsyncHub` runs without a network."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["MockBackend"]


class MockBackend:
    """Answers requests by method and exact URL; records every request it is sent. A request
    it has no answer for fails the check that sent it, naming the request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[httpx.Request] = []

    def answer(
        self,
        request: httpx.Request,
        body: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.answer_url(request.method, str(request.url), body, status=status, headers=headers)

    def answer_url(
        self,
        method: str,
        url: str,
        body: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(body, bytes):
            content, kind = body, "application/octet-stream"
        elif isinstance(body, str):
            content, kind = body.encode(), "text/plain"
        else:
            content, kind = json.dumps(body).encode(), "application/json"
        self.routes[(method.upper(), url)] = (
            status,
            content,
            {"Content-Type": kind, **(headers or {})},
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, str(request.url)))
        if route is None:
            known = "; ".join(f"{m} {u}" for m, u in self.routes) or "none"
            raise AssertionError(
                f"the hub sent {request.method} {request.url}, which the conformance backend "
                f"has no answer for (answers: {known}) — add it to the `routes` fixture"
            )
        status, content, headers = route
        return httpx.Response(status, content=content, headers=headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def async_transport(self) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            return self(request)

        return httpx.MockTransport(handle)
