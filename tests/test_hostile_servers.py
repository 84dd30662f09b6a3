"""Servers that misbehave, on real loopback sockets: huge bodies, deep JSON, trickling bytes,
redirects to another origin, HTML error pages, wrong content types. Every adapter must turn
each into a clear typed error, never hang, never leak a credential."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import BackendError, BackendUnavailable, InvalidPayload
from jobhub.plugins import Registry, get_registry
from tests.conftest import SECRET
from tests.fakes import FakePlugin

pytestmark = pytest.mark.slow

# One ref per adapter type, each valid for that adapter's id rules.
REFS = {
    "fake": "1",
    "sieve": "1",
    "pixxel": "wf/1",
    "prunner": "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8",
}
CREDENTIALS = {"fake": "api_key", "sieve": "api_key", "pixxel": "api_key", "prunner": "jwt_secret"}

Behaviour = Callable[[BaseHTTPRequestHandler], None]

# The whole-answer deadline of the trickling tests, and the pause between the bytes they trickle:
# each pause is well within the deadline (no read ever times out), the whole answer is not.
DEADLINE = 0.6
TRICKLE = 0.15


class _HTTPServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client dropping a connection is what these tests make it do: no traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server:
    """A loopback HTTP server whose every answer is `behaviour`; records what it received."""

    def __init__(self) -> None:
        self.behaviour: Behaviour = lambda h: None
        self.seen: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                server.seen.append({k.lower(): v for k, v in self.headers.items()})
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server.behaviour(self)

            do_GET = do_POST = do_DELETE = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    headers.setdefault("Content-Type", "application/json")
    headers.setdefault("Content-Length", str(len(body)))
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def other_origin() -> Iterator[Server]:
    srv = Server()
    srv.behaviour = lambda h: send(h, 200, b"{}")
    yield srv
    srv.close()


def registry() -> Registry:
    reg = get_registry()
    if "fake" not in reg.adapters:
        reg.register(FakePlugin(), name="fake")
    return reg


@pytest.fixture(params=sorted(REFS))
def adapter_type(request: pytest.FixtureRequest) -> str:
    adapter_type: str = request.param
    if adapter_type not in registry().adapters:
        pytest.fail(f"adapter {adapter_type!r} is not installed")
    return adapter_type


def config(adapter_type: str, url: str, **settings: Any) -> dict[str, Any]:
    entry = {"type": adapter_type, "url": url, CREDENTIALS[adapter_type]: SECRET, "retries": 0}
    return {"x": {**entry, **settings}}


def get(adapter_type: str, url: str, **settings: Any) -> Any:
    with Hub(config(adapter_type, url, **settings), registry=registry(), env={}) as hub:
        return hub.get(f"x:{REFS[adapter_type]}")


def test_a_declared_200_mb_body_is_refused_without_reading_it(
    server: Server, adapter_type: str
) -> None:
    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(200 * 1024 * 1024))
        h.end_headers()
        h.wfile.write(b"[" * 1024)

    server.behaviour = huge
    with pytest.raises(InvalidPayload, match=r"exceeds the \d+-byte cap"):
        get(adapter_type, server.url)


def test_an_endless_chunked_body_stops_at_the_cap(server: Server, adapter_type: str) -> None:
    def endless(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b" " * 65536
        for _ in range(200 * 16):  # up to 200 MB, far past the cap set below
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.write(b"0\r\n\r\n")

    server.behaviour = endless
    with pytest.raises(InvalidPayload, match="exceeds the 2000000-byte cap"):
        get(adapter_type, server.url, max_response_bytes=2_000_000)


def test_json_nested_thousands_deep_is_an_invalid_payload(
    server: Server, adapter_type: str
) -> None:
    depth = 100_000
    body = b"[" * depth + b"]" * depth
    server.behaviour = lambda h: send(h, 200, body)
    with pytest.raises(InvalidPayload):
        get(adapter_type, server.url)


def trickle(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "100")
    h.end_headers()
    for _ in range(100):
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(TRICKLE)


def test_a_trickling_body_hits_the_response_deadline(server: Server, adapter_type: str) -> None:
    server.behaviour = trickle
    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match=f"within {DEADLINE:g} s"):
        get(adapter_type, server.url, timeout=DEADLINE)
    assert time.monotonic() - start < 4


@pytest.mark.anyio
async def test_a_trickling_body_hits_the_deadline_in_async_too(
    server: Server, adapter_type: str
) -> None:
    server.behaviour = trickle
    start = time.monotonic()
    async with AsyncHub(
        config(adapter_type, server.url, timeout=DEADLINE), registry=registry(), env={}
    ) as hub:
        with pytest.raises(BackendUnavailable, match=f"within {DEADLINE:g} s"):
            await hub.get(f"x:{REFS[adapter_type]}")
    assert time.monotonic() - start < 4


def test_a_redirect_to_another_origin_carries_no_credential(
    server: Server, other_origin: Server, adapter_type: str
) -> None:
    other_origin.seen.clear()
    server.behaviour = lambda h: send(h, 307, b"", Location=f"{other_origin.url}/steal")
    with pytest.raises(BackendError, match="does not follow redirects"):
        get(adapter_type, server.url)
    assert other_origin.seen == []


def test_an_html_error_page_from_a_proxy_is_backend_unavailable(
    server: Server, adapter_type: str
) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    server.behaviour = lambda h: send(h, 502, page, **{"Content-Type": "text/html"})
    with pytest.raises(BackendUnavailable) as caught:
        get(adapter_type, server.url)
    assert "<html" not in str(caught.value) and "502" in str(caught.value)


def test_an_html_page_with_200_is_an_invalid_payload(server: Server, adapter_type: str) -> None:
    page = b"<!doctype html><html><body>Sign in</body></html>"
    server.behaviour = lambda h: send(h, 200, page, **{"Content-Type": "text/html"})
    with pytest.raises(InvalidPayload):
        get(adapter_type, server.url)


def test_a_truncated_body_is_a_clear_error(server: Server, adapter_type: str) -> None:
    def truncated(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b'{"id": "1", "sta')
        h.close_connection = True

    server.behaviour = truncated
    with pytest.raises((BackendUnavailable, InvalidPayload)):
        get(adapter_type, server.url)


def test_json_served_as_text_plain_is_still_read(server: Server) -> None:
    body = json.dumps({"id": "1", "status": "ok"}).encode()
    server.behaviour = lambda h: send(h, 200, body, **{"Content-Type": "text/plain"})
    assert get("fake", server.url).state is JobState.SUCCEEDED


def trickle_head(handler: BaseHTTPRequestHandler) -> None:
    """The status line and headers one byte at a time: no body is ever reached."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 200
    for byte in head:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(TRICKLE)


def test_a_trickling_status_line_and_headers_hit_the_deadline(
    server: Server, adapter_type: str
) -> None:
    server.behaviour = trickle_head
    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match=f"within {DEADLINE:g} s"):
        get(adapter_type, server.url, timeout=DEADLINE)
    assert time.monotonic() - start < 4


@pytest.mark.anyio
async def test_a_trickling_status_line_hits_the_deadline_in_async_too(
    server: Server, adapter_type: str
) -> None:
    server.behaviour = trickle_head
    start = time.monotonic()
    async with AsyncHub(
        config(adapter_type, server.url, timeout=DEADLINE), registry=registry(), env={}
    ) as hub:
        with pytest.raises(BackendUnavailable, match=f"within {DEADLINE:g} s"):
            await hub.get(f"x:{REFS[adapter_type]}")
    assert time.monotonic() - start < 4
