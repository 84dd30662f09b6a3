"""Hub and AsyncHub over a fake backend: get, list paging, cancel, and every HTTP failure mode
mapped to its typed error."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from jobhub import AsyncHub, Hub, JobState
from jobhub.backend import MAX_RETRY_AFTER_PAUSE
from jobhub.errors import (
    AuthError,
    BackendError,
    BackendUnavailable,
    ConfigError,
    InvalidArgument,
    InvalidPayload,
    InvalidRef,
    JobNotFound,
    RateLimited,
)
from jobhub.hub import HubClosed
from jobhub.plugins import Registry
from tests.conftest import SECRET
from tests.fakes import FakePlugin, FakeServer, respond

FAST = {"poll_interval": 0.001, "poll_max": 0.005}


@pytest.fixture
def fake_registry() -> Registry:
    registry = Registry()
    registry.register(FakePlugin(), name="fake")
    return registry


@pytest.fixture
def server() -> FakeServer:
    return FakeServer({"a": "ok", "b": "busy", "c": "bad", "d": "ok", "e": "waiting"})


def make_hub(registry: Registry, server: FakeServer, **settings: Any) -> Hub:
    config = {"f": {"type": "fake", "api_key": SECRET, **FAST, **settings}}
    return Hub(config, registry=registry, transport=server.transport(), env={})


def test_get_returns_the_normalized_job(fake_registry: Registry, server: FakeServer) -> None:
    with make_hub(fake_registry, server) as hub:
        job = hub.get("f:b")
    assert (job.ref, job.state, job.status) == ("f:b", JobState.RUNNING, "busy")
    assert server.requests[0].headers["X-Token"] == SECRET


def test_list_follows_every_page_once(fake_registry: Registry, server: FakeServer) -> None:
    with make_hub(fake_registry, server) as hub:
        ids = [job.id for job in hub.list("f")]
    assert ids == ["a", "b", "c", "d", "e"]
    assert [r.url.params["page"] for r in server.requests] == ["0", "1", "2"]


def test_list_stops_fetching_once_the_limit_is_reached(
    fake_registry: Registry, server: FakeServer
) -> None:
    with make_hub(fake_registry, server) as hub:
        ids = [job.id for job in hub.list("f", limit=3)]
    assert ids == ["a", "b", "c"]
    assert len(server.requests) == 2


def test_list_with_limit_zero_has_no_limit(fake_registry: Registry, server: FakeServer) -> None:
    with make_hub(fake_registry, server) as hub:
        assert len(list(hub.list("f", limit=0))) == len(list(hub.list("f")))


def test_list_filters_by_canonical_state_given_as_word(
    fake_registry: Registry, server: FakeServer
) -> None:
    with make_hub(fake_registry, server) as hub:
        assert [j.id for j in hub.list("f", state="SUCCEEDED")] == ["a", "d"]


def test_list_rejects_an_unknown_state(fake_registry: Registry, server: FakeServer) -> None:
    with make_hub(fake_registry, server) as hub, pytest.raises(InvalidArgument, match="done"):
        hub.list("f", state="done")


def test_cancel_posts_to_the_job(fake_registry: Registry, server: FakeServer) -> None:
    with make_hub(fake_registry, server) as hub:
        hub.cancel("f:b")
    assert server.requests[-1].method == "POST"
    assert server.jobs["b"] == "bad"


@pytest.mark.anyio
async def test_async_hub_gives_what_the_sync_hub_gives(
    fake_registry: Registry, server: FakeServer
) -> None:
    with make_hub(fake_registry, server) as hub:
        sync_jobs = [hub.get("f:a"), *hub.list("f", state="succeeded")]
    config = {"f": {"type": "fake", "api_key": SECRET, **FAST}}
    async with AsyncHub(
        config, registry=fake_registry, transport=server.async_transport(), env={}
    ) as ahub:
        async_jobs = [await ahub.get("f:a")] + [j async for j in ahub.list("f", state="succeeded")]
        await ahub.cancel("f:e")
    assert async_jobs == sync_jobs
    assert server.jobs["e"] == "bad"


@pytest.mark.parametrize("ref", ["nocolon", ":x", "f:", ""])
def test_malformed_refs_are_refused(fake_registry: Registry, server: FakeServer, ref: str) -> None:
    with make_hub(fake_registry, server) as hub, pytest.raises(InvalidRef, match="<backend>:<id>"):
        hub.get(ref)


def test_an_unknown_backend_name_lists_the_configured_ones(
    fake_registry: Registry, server: FakeServer
) -> None:
    with make_hub(fake_registry, server) as hub, pytest.raises(ConfigError, match="configured: f"):
        hub.get("nope:1")


@pytest.mark.parametrize(
    "job_id", ["a/b", "..", ".", "x?y=1", "a#frag", "50%", "two words", "ünï/cødé", "../../etc"]
)
def test_ids_never_leave_their_path_segment(
    fake_registry: Registry, server: FakeServer, job_id: str
) -> None:
    server.jobs[job_id] = "ok"
    with make_hub(fake_registry, server) as hub:
        assert hub.get(f"f:{job_id}").id == job_id
    raw = server.requests[0].url.raw_path.decode()
    assert raw.count("/") == 3 and raw.startswith("/api/jobs/")
    assert "?" not in raw


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, JobNotFound),
        (400, BackendError),
        (422, BackendError),
    ],
)
def test_error_statuses_map_to_typed_errors(
    fake_registry: Registry, server: FakeServer, status: int, error: type[Exception]
) -> None:
    server.script = [respond(status, {"detail": "the backend says no"})]
    with make_hub(fake_registry, server) as hub, pytest.raises(error) as caught:
        hub.get("f:a")
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert caught.value.backend == "f"  # type: ignore[attr-defined]
    assert f"fake backend 'f': {status} the backend says no" in str(caught.value)
    assert len(server.requests) == 1  # not retried


def test_rate_limit_is_retried_after_the_wait_it_asks_for(
    fake_registry: Registry, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("jobhub.http._pause", slept.append)
    server.script = [respond(429, {"detail": "slow down"}, **{"Retry-After": "2"})]
    with make_hub(fake_registry, server) as hub:
        assert hub.get("f:a").id == "a"
    assert slept == [2.0]


def test_rate_limit_past_the_retries_raises_with_retry_after(
    fake_registry: Registry, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobhub.http._pause", lambda s: None)
    server.script = [respond(429, "", **{"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})]
    with make_hub(fake_registry, server, retries=0) as hub, pytest.raises(RateLimited) as caught:
        hub.get("f:a")
    assert caught.value.retry_after == MAX_RETRY_AFTER_PAUSE  # 2099 is capped


def test_transient_failures_are_ridden_through(fake_registry: Registry, server: FakeServer) -> None:
    server.script = [respond(503, "maintenance"), respond(502, "<html>bad gateway</html>")]
    with make_hub(fake_registry, server, retries=2) as hub:
        assert hub.get("f:a").state is JobState.SUCCEEDED
    assert len(server.requests) == 3


def test_persistent_5xx_becomes_backend_unavailable_without_the_html(
    fake_registry: Registry, server: FakeServer
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    server.script = [respond(502, page)] * 3
    with make_hub(fake_registry, server, retries=2) as hub, pytest.raises(BackendUnavailable) as e:
        hub.get("f:a")
    assert "<html>" not in str(e.value)
    assert "502" in str(e.value) and "try again later" in str(e.value)


def test_a_body_that_is_not_json_is_an_invalid_payload(
    fake_registry: Registry, server: FakeServer
) -> None:
    server.script = [respond(200, "<html>login page</html>", **{"Content-Type": "text/html"})]
    with make_hub(fake_registry, server) as hub, pytest.raises(InvalidPayload) as caught:
        hub.get("f:a")
    assert "not JSON" in str(caught.value)
    assert caught.value.raw == b"<html>login page</html>"


def test_a_parser_crash_is_reported_as_invalid_payload(
    fake_registry: Registry, server: FakeServer
) -> None:
    server.script = [respond(200, {"not": "a page"})]  # the fake parser indexes body["jobs"]
    with make_hub(fake_registry, server) as hub, pytest.raises(InvalidPayload, match="KeyError"):
        list(hub.list("f"))


def test_redirects_are_not_followed_and_carry_no_credentials(
    fake_registry: Registry, server: FakeServer
) -> None:
    server.script = [respond(302, "", Location="http://elsewhere.test/steal")]
    with make_hub(fake_registry, server) as hub, pytest.raises(BackendError, match="redirect"):
        hub.get("f:a")
    assert [r.url.host for r in server.requests] == ["fake.test"]


def test_answers_over_the_size_cap_are_refused(fake_registry: Registry, server: FakeServer) -> None:
    server.script = [respond(200, b"[" + b"1," * 600 + b"1]")]
    hub = make_hub(fake_registry, server, max_response_bytes=1000)
    with hub, pytest.raises(InvalidPayload, match="exceeds the 1000-byte cap"):
        hub.get("f:a")


def test_unreachable_backend_is_backend_unavailable(fake_registry: Registry) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    config = {"f": {"type": "fake", "api_key": SECRET, "retries": 0}}
    hub = Hub(config, registry=fake_registry, transport=httpx.MockTransport(refuse), env={})
    with (
        hub,
        pytest.raises(
            BackendUnavailable, match=re.escape("cannot reach GET http://fake.test/api/jobs/a")
        ),
    ):
        hub.get("f:a")


def test_a_timeout_names_the_limit(fake_registry: Registry) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    config = {"f": {"type": "fake", "api_key": SECRET, "retries": 0, "timeout": 2.5}}
    hub = Hub(config, registry=fake_registry, transport=httpx.MockTransport(slow), env={})
    with hub, pytest.raises(BackendUnavailable, match=re.escape("within 2.5 s")):
        hub.get("f:a")


def test_missing_credentials_fail_before_sending(
    fake_registry: Registry, server: FakeServer
) -> None:
    hub = Hub({"f": {"type": "fake"}}, registry=fake_registry, transport=server.transport(), env={})
    with hub, pytest.raises(ConfigError, match="no api_key is set"):
        hub.get("f:a")
    assert server.requests == []


def test_the_secret_appears_in_no_repr_log_or_error(
    fake_registry: Registry, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script = [respond(401, {"detail": f"bad key {SECRET[:4]}"})]
    with make_hub(fake_registry, server) as hub:
        with pytest.raises(AuthError) as caught:
            hub.get("f:a")
        adapter = hub.backends["f"]
        texts = [
            repr(hub.backends),
            repr(adapter.settings),
            str(adapter.settings),
            repr(adapter.auth()),
        ]
        texts += [str(caught.value), repr(caught.value), hub.get("f:a").model_dump_json()]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records, "expected DEBUG request logs"
    for text in texts:
        assert SECRET not in text


def test_every_request_carries_the_backend_timeout_and_the_calls_read_timeout(
    fake_registry: Registry, server: FakeServer
) -> None:
    from jobhub.backend import Call

    with make_hub(fake_registry, server, timeout=7) as hub:
        hub.get("f:a")
        adapter = hub.backends["f"]
        long_poll = Call(adapter.get_job("a").request, lambda r: None, timeout=650)
        hub._run(adapter, long_poll)
    plain, held = (r.extensions["timeout"] for r in server.requests)
    assert plain == {"connect": 7, "read": 7, "write": 7, "pool": 7}
    assert held == {"connect": 7, "read": 650, "write": 7, "pool": 7}


def test_a_closed_hub_stays_closed(fake_registry: Registry, server: FakeServer) -> None:
    hub = make_hub(fake_registry, server)
    assert hub.get("f:a").id == "a"
    hub.close()
    sent = len(server.requests)
    for action in (
        lambda: hub.get("f:a"),
        lambda: list(hub.list("f")),
        lambda: hub.cancel("f:a"),
        lambda: hub.wait("f:a", timeout=5),
    ):
        with pytest.raises(HubClosed, match="closed"):
            action()
    assert len(server.requests) == sent  # nothing was sent after close


@pytest.mark.anyio
async def test_a_closed_async_hub_stays_closed(fake_registry: Registry, server: FakeServer) -> None:
    config = {"f": {"type": "fake", "api_key": SECRET, **FAST}}
    transport = server.async_transport()
    hub = AsyncHub(config, registry=fake_registry, transport=transport, env={})
    assert (await hub.get("f:a")).id == "a"
    await hub.aclose()
    with pytest.raises(HubClosed):
        await hub.get("f:a")
    with pytest.raises(HubClosed):
        await hub.wait("f:a", timeout=5)


def test_closing_a_hub_while_other_threads_use_it_gives_them_a_typed_error(
    fake_registry: Registry, server: FakeServer
) -> None:
    import threading
    import time

    def slowly(request: httpx.Request) -> httpx.Response:
        time.sleep(0.002)
        return server(request)

    config = {"f": {"type": "fake", "api_key": SECRET, **FAST}}
    hub = Hub(config, registry=fake_registry, transport=httpx.MockTransport(slowly), env={})
    ended: list[BaseException | None] = []

    def use() -> None:
        stop_by = time.monotonic() + 5
        try:
            while time.monotonic() < stop_by:
                hub.get("f:a")
        except BaseException as exc:
            ended.append(exc)
        else:
            ended.append(None)  # never told the hub was closed

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    hub.close()
    for thread in threads:
        thread.join(10)
    assert len(ended) == 8
    assert all(isinstance(exc, HubClosed) for exc in ended), ended
