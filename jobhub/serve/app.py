"""The ASGI app of `jobhub serve`: the API routes, the page's static files, security headers,
and a lifespan that starts the service and, on the way out, commits what it has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobhub.serve.api import routes
from jobhub.serve.service import Service

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
]


class SecurityHeaders:
    """Every answer: no sniffing, no framing, and a policy under which the page can run only
    its own scripts (so backend data can never become one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, sending if scope["type"] == "http" else send)


def create_app(service: Service) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = Starlette(
        routes=[*routes, Mount("/", StaticFiles(directory=STATIC, html=True), name="page")],
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(SecurityHeaders)
    return app
