"""The transport defaults that protect credentials hold for every built-in backend type: TLS
verified unless a setting says otherwise (with a warning), no redirects followed, no proxy or
netrc taken from the environment, a warning once when a credential would go over plain HTTP
to another host — and none for prunner's default, a server on this machine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, Hub
from jobhub.backend import Adapter
from jobhub.errors import JobHubError
from jobhub.http import AsyncRunner, SyncRunner
from jobhub.transport import _warned
from jobhub.waiting.longpoll import HoldingRunner
from tests.conftest import SECRET

CREDENTIAL = {"sieve": "api_key", "pixxel": "api_key", "prunner": "jwt_secret", "wes": "token"}
TYPES = sorted(CREDENTIAL)
DEFAULT_URLS = {
    "sieve": "https://mango.sievedata.com",
    "pixxel": "https://api.pixxel.space",
    "prunner": "http://localhost:9009",
}


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    _warned.clear()
    yield
    _warned.clear()


def adapter(backend: str, **settings: Any) -> Adapter:
    entry: dict[str, Any] = {"type": backend, CREDENTIAL[backend]: SECRET, **settings}
    if backend == "wes":
        entry.setdefault("url", "https://wes.example/ga4gh/wes/v1")
    return Hub({backend: entry}, env={}).backends[backend]


def warnings_when_used_twice(caplog: pytest.LogCaptureFixture, backend: Adapter) -> list[str]:
    """The warnings logged while two runners each open their client for `backend`."""
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        for _ in range(2):
            runner = SyncRunner()
            runner.client(backend)
            runner.close()
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("backend", sorted(DEFAULT_URLS))
def test_the_default_url_is_the_vendors(backend: str) -> None:
    assert adapter(backend).settings.url == DEFAULT_URLS[backend]


@pytest.mark.parametrize("backend", TYPES)
def test_tls_verification_is_on_unless_turned_off(backend: str) -> None:
    assert adapter(backend).settings.verify is True


@pytest.mark.parametrize("backend", TYPES)
def test_every_client_verifies_tls_follows_no_redirect_and_ignores_the_environment(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    chosen = adapter(backend)
    sync, holding = SyncRunner(), HoldingRunner()

    async def async_clients() -> list[httpx.AsyncClient]:  # they belong to a running loop
        return [AsyncRunner().client(chosen), holding.client(chosen)]

    clients: list[httpx.Client | httpx.AsyncClient] = [
        sync.client(chosen),
        *asyncio.run(async_clients()),
    ]
    for client in clients:
        assert client.follow_redirects is False
        assert client.trust_env is False  # no proxy or CA bundle from the environment
        assert not client._mounts  # the proxy variables set above were not picked up
    sync.close()


@pytest.mark.parametrize("backend", TYPES)
def test_turning_tls_verification_off_warns_once(
    caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    url = "https://wes.example/ga4gh/wes/v1" if backend == "wes" else "https://x.example"
    messages = warnings_when_used_twice(caplog, adapter(backend, url=url, verify=False))
    assert len(messages) == 1 and "TLS certificate verification is OFF" in messages[0]


@pytest.mark.parametrize("backend", TYPES)
def test_a_credential_over_plain_http_to_another_host_warns_once(
    caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    chosen = adapter(backend, url="http://build.example:9009")
    messages = warnings_when_used_twice(caplog, chosen)
    assert len(messages) == 1 and "plain HTTP to build.example" in messages[0]
    assert SECRET not in messages[0]


def test_prunners_default_server_on_this_machine_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert warnings_when_used_twice(caplog, adapter("prunner")) == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:9009", "http://[::1]:9009", "http://127.8.0.1"])
def test_prunner_on_a_loopback_address_does_not_warn(
    caplog: pytest.LogCaptureFixture, url: str
) -> None:
    assert warnings_when_used_twice(caplog, adapter("prunner", url=url)) == []


def test_plain_http_without_a_credential_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    wes = Hub({"wes": {"type": "wes", "url": "http://wes.example/ga4gh/wes/v1"}}, env={})
    assert warnings_when_used_twice(caplog, wes.backends["wes"]) == []


@pytest.mark.parametrize("backend", ["sieve", "pixxel"])
def test_the_vendors_https_default_does_not_warn(
    caplog: pytest.LogCaptureFixture, backend: str
) -> None:
    assert warnings_when_used_twice(caplog, adapter(backend)) == []


def _user_agents_seen(backend: str) -> list[str]:
    """The User-Agent of each request a get, a list and a wait send to `backend`, sync and
    async (the backend answers every request with 404)."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("User-Agent", ""))
        return httpx.Response(404, json={"detail": "no such job"})

    entry: dict[str, Any] = {"type": backend, CREDENTIAL[backend]: SECRET, "retries": 0}
    entry["url"] = (
        "https://backend.example/ga4gh/wes/v1" if backend == "wes" else "https://b.example"
    )
    ref = (
        f"{backend}:{'wf/52a5' if backend == 'pixxel' else '52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8'}"
    )
    with Hub({backend: entry}, env={}, transport=httpx.MockTransport(answer)) as hub:
        for action in (lambda: hub.get(ref), lambda: hub.wait(ref, timeout=5)):
            with pytest.raises(JobHubError):
                action()

    async def asynchronously() -> None:
        transport = httpx.MockTransport(answer)
        async with AsyncHub({backend: entry}, env={}, transport=transport) as hub:
            with pytest.raises(JobHubError):
                await hub.get(ref)

    asyncio.run(asynchronously())
    return seen


@pytest.mark.parametrize("backend", TYPES)
def test_every_request_names_jobhub_and_its_version(backend: str) -> None:
    seen = _user_agents_seen(backend)
    assert len(seen) >= 3
    assert set(seen) == {f"jobhub/{version('jobhub')}"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.attacker.example",
        "http://127.0.0.1.attacker.example:9009",
        "http://localhost.attacker.example",
        "http://0x7f000001.example",
    ],
)
def test_a_host_that_only_looks_like_loopback_warns(
    caplog: pytest.LogCaptureFixture, url: str
) -> None:
    messages = warnings_when_used_twice(caplog, adapter("prunner", url=url))
    assert len(messages) == 1 and "plain HTTP to" in messages[0]


@pytest.mark.parametrize(
    "url", ["http://127.255.255.254:9009", "http://[::ffff:127.0.0.1]:9009", "http://LOCALHOST"]
)
def test_every_loopback_address_is_quiet(caplog: pytest.LogCaptureFixture, url: str) -> None:
    assert warnings_when_used_twice(caplog, adapter("prunner", url=url)) == []
