"""A backend given more connections than one pool holds (`jobhub.http.POOL_CONNECTIONS`) gets
several pools: every request it may send at once is in flight at once, none queued behind
another, and each pool stays small."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobhub import Hub
from jobhub.backend import Call
from jobhub.http import POOL_CONNECTIONS, AsyncRunner
from tests.conftest import SECRET

HELD = POOL_CONNECTIONS * 2 + 5  # three pools' worth


class HoldingServer:
    """Answers no request until `expected` are open at once (or a second has passed), then
    all of them; remembers the most it saw open together."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.open = 0
        self.most = 0
        self.all_in = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.open += 1
        self.most = max(self.most, self.open)
        if self.open >= self.expected:
            self.all_in.set()
        try:
            async with asyncio.timeout(1.0):
                await self.all_in.wait()
        except TimeoutError:
            pass
        body = b'{"id": "a", "state": "running"}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        self.open -= 1
        writer.close()


@pytest.mark.anyio
@pytest.mark.timeout(30)
async def test_every_connection_a_backend_is_given_is_used_at_once() -> None:
    server = HoldingServer(HELD)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    hub = Hub({"b": {"type": "prunner", "url": f"http://127.0.0.1:{port}", "jwt_secret": SECRET}})
    adapter = hub.adapter("b")
    runner = AsyncRunner(connections=lambda _: HELD)

    def call() -> Call[Any]:
        return Call(adapter.request("GET", "job", "detail"), parse=lambda r: r.json())

    try:
        async with listening:
            answers = await asyncio.gather(*(runner.run(adapter, call()) for _ in range(HELD)))
    finally:
        await runner.aclose()
        hub.close()
    assert answers == [{"id": "a", "state": "running"}] * HELD
    assert server.most == HELD  # all were held open together: no request waited for a pool
    assert server.all_in.is_set()
