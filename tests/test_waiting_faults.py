"""Faults while waiting: transient ones are ridden through, `Retry-After` is honoured, the rest
fail at once with their typed error; deadlines end a call with `WaitTimeout`."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import AuthError, InvalidPayload, JobNotFound, RateLimited, WaitTimeout
from tests.conftest import SECRET
from tests.test_waiting_support import ScriptedServer, config, life, scripted_registry, status

pytestmark = pytest.mark.anyio


def hub(server: ScriptedServer, adapter_type: str = "plain", **settings: Any) -> AsyncHub:
    return AsyncHub(
        config(adapter_type, **settings),
        registry=scripted_registry(),
        transport=server.transport(),
        env={},
    )


def ends_soon() -> ScriptedServer:
    return ScriptedServer({"a": life((0, "running"), (0.1, "succeeded"))})


async def test_retry_after_is_honoured_before_asking_again() -> None:
    server = ends_soon()
    server.faults["get"] = [status(429, {"detail": "slow down"}, **{"Retry-After": "0.4"})]
    async with hub(server, retries=0) as h:
        job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED
    first, second = server.routes("get")[:2]
    assert second.at - first.at >= 0.4


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
async def test_a_run_of_503s_is_ridden_through(adapter_type: str) -> None:
    server = ends_soon()
    for route in ("get", "await", "refresh"):
        server.faults[route] = [status(503, {"detail": "maintenance"})] * 8  # > retries
    async with hub(server, adapter_type, retries=1) as h:
        job = await h.wait("b:a", timeout=10)
    assert job.state is JobState.SUCCEEDED


async def test_a_truncated_answer_is_ridden_through() -> None:
    server = ends_soon()
    server.faults["get"] = [status(200, b'{"id": "a", "sta')]
    async with hub(server) as h:
        job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED


async def test_a_backend_that_keeps_answering_garbage_fails_with_invalid_payload() -> None:
    server = ends_soon()
    server.faults["get"] = [status(200, b"<html>login</html>")] * 50
    async with hub(server) as h:
        with pytest.raises(InvalidPayload, match="not JSON"):
            await h.wait("b:a", timeout=10)


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
async def test_bad_credentials_fail_at_once_with_auth_error(adapter_type: str) -> None:
    server = ends_soon()
    started = time.monotonic()
    async with AsyncHub(
        {"b": {"type": adapter_type, "api_key": "wrong", "poll_interval": 0.02}},
        registry=scripted_registry(),
        transport=server.transport(),
        env={},
    ) as h:
        with pytest.raises(AuthError) as caught:
            await h.wait("b:a", timeout=30)
    assert time.monotonic() - started < 2
    assert caught.value.status_code == 401
    assert len(server.requests) <= 2  # never retried


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
async def test_an_unknown_job_fails_at_once_with_job_not_found(adapter_type: str) -> None:
    server = ends_soon()
    async with hub(server, adapter_type) as h:
        with pytest.raises(JobNotFound):
            await h.wait_all(["b:a", "b:nope"], timeout=30)


async def test_wait_timeout_carries_the_last_view_of_each_open_job() -> None:
    server = ScriptedServer(
        {
            "done": life((0, "running"), (0.05, "succeeded")),
            "slow": [(0, {"state": "running", "progress": 0.4})],
        }
    )
    async with hub(server) as h:
        with pytest.raises(WaitTimeout) as caught:
            await h.wait_all(["b:done", "b:slow"], timeout=0.4)
    pending = caught.value.pending
    assert list(pending) == ["b:slow"]
    last = pending["b:slow"]
    assert last is not None and (last.state, last.progress) == (JobState.RUNNING, 0.4)
    assert "1 of 2 jobs still open: b:slow (running)" in str(caught.value)


async def test_one_timeout_bounds_the_whole_call_not_each_job() -> None:
    never = [(0, {"state": "running"})]
    server = ScriptedServer({name: never for name in ("x", "y", "z")})
    started = time.monotonic()
    async with hub(server) as h:
        with pytest.raises(WaitTimeout):
            await h.wait_all(["b:x", "b:y", "b:z"], timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 0.8


async def test_a_job_never_seen_is_pending_as_none() -> None:
    server = ends_soon()
    server.faults["get"] = [status(503)] * 1000
    async with hub(server, retries=0) as h:
        with pytest.raises(WaitTimeout) as caught:
            await h.wait("b:a", timeout=0.3)
    assert caught.value.pending == {"b:a": None}
    assert "never seen" in str(caught.value)


async def test_cancel_on_timeout_cancels_the_open_jobs() -> None:
    server = ScriptedServer(
        {"a": [(0, {"state": "running"})], "b": life((0, "running"), (0.05, "succeeded"))}
    )
    async with hub(server, "longpoll") as h:
        with pytest.raises(WaitTimeout, match="cancelled 1"):
            await h.wait_all(["b:a", "b:b"], timeout=0.3, cancel_on_timeout=True)
    assert [seen.job for seen in server.routes("cancel")] == ["a"]
    assert server.view("a")["state"] == "cancelled"  # type: ignore[index]


async def test_cancel_on_timeout_skips_a_backend_without_cancel_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = ScriptedServer({"a": [(0, {"state": "running"})]})
    async with hub(server, "plain") as h:
        with pytest.raises(WaitTimeout, match="could not cancel b:a: the backend has no cancel"):
            await h.wait("b:a", timeout=0.2, cancel_on_timeout=True)
    assert server.routes("cancel") == []
    assert "no cancel" in caplog.text


def test_the_sync_hub_raises_the_same_typed_errors() -> None:
    server = ends_soon()
    server.faults["get"] = [status(404, {"detail": "gone"})]
    with (
        Hub(
            config("plain"), registry=scripted_registry(), transport=server.transport(), env={}
        ) as h,
        pytest.raises(JobNotFound, match="gone"),
    ):
        h.wait("b:a", timeout=5)


async def test_no_secret_reaches_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = ends_soon()
    server.faults["get"] = [status(503), status(429, **{"Retry-After": "0.05"}), status(401)]
    async with hub(server, retries=0) as h:
        with pytest.raises(AuthError) as caught:
            await h.wait("b:a", timeout=5)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert SECRET not in caplog.text


@pytest.mark.parametrize("asked", ["inf", "-inf", "nan", "1e999", "Infinity"])
async def test_a_retry_after_that_is_not_a_finite_number_is_not_obeyed(asked: str) -> None:
    server = ends_soon()
    server.faults["get"] = [status(429, {"detail": "slow down"}, **{"Retry-After": asked})]
    async with hub(server, retries=0) as h:
        job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED


@pytest.mark.parametrize("asked", ["1e9", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_every_retry_after_is_capped(asked: str) -> None:
    from jobhub.backend import MAX_RETRY_AFTER_PAUSE, parse_retry_after

    assert parse_retry_after(asked) == MAX_RETRY_AFTER_PAUSE


async def test_a_long_retry_after_ends_at_the_deadline_naming_the_rate_limit() -> None:
    server = ends_soon()
    server.faults["get"] = [status(429, {"detail": "slow down"}, **{"Retry-After": "1e9"})]
    started = time.monotonic()
    async with hub(server, retries=0) as h:
        with pytest.raises(WaitTimeout) as caught:
            await h.wait("b:a", timeout=0.5)
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert "rate limit" in message and "'b'" in message
    assert isinstance(caught.value.backend_errors["b"], RateLimited)


@pytest.mark.parametrize("adapter_type", ["plain", "longpoll", "batch"])
@pytest.mark.parametrize("timeout", [0, 0.001])
async def test_a_wait_looks_at_least_once_however_short_its_timeout(
    adapter_type: str, timeout: float
) -> None:
    server = ScriptedServer({"a": life((0, "succeeded")), "b": life((0, "running"))})
    async with hub(server, adapter_type, poll_interval=0.05) as h:
        assert (await h.wait("b:a", timeout=timeout)).state is JobState.SUCCEEDED
        with pytest.raises(WaitTimeout) as caught:
            await h.wait_all(["b:a", "b:b"], timeout=timeout)
    pending = caught.value.pending
    assert list(pending) == ["b:b"]  # the one looked at and seen open
    assert pending["b:b"] is not None and pending["b:b"].state is JobState.RUNNING


def test_the_sync_hub_looks_at_least_once_too() -> None:
    server = ScriptedServer({"a": life((0, "succeeded"))})
    with Hub(
        config("plain"), registry=scripted_registry(), transport=server.transport(), env={}
    ) as h:
        assert h.wait("b:a", timeout=0).state is JobState.SUCCEEDED


async def test_a_backend_failing_again_and_again_is_warned_about_once_and_again_when_back(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobhub.waiting.policy.FAILING_WARNED_AFTER", 0.2)
    server = ScriptedServer({"a": life((0, "running"), (0.8, "succeeded"))})
    server.faults["get"] = [status(503, {"detail": "maintenance"})] * 30
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        async with hub(server, retries=0, poll_interval=0.01, poll_max=0.02) as h:
            job = await h.wait("b:a", timeout=5)
    assert job.state is JobState.SUCCEEDED
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("jobhub.waiting")]
    assert len(warnings) == 2, warnings
    failing, back = warnings
    assert "'b'" in failing and "503 maintenance" in failing
    assert "'b'" in back and "answers again" in back


async def test_a_few_faults_among_answers_are_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = ScriptedServer({"a": life((0, "running"), (0.3, "succeeded"))})
    server.faults["get"] = [status(503, {"detail": "maintenance"})] * 5
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        async with hub(server, retries=0, poll_interval=0.01, poll_max=0.02) as h:
            await h.wait("b:a", timeout=5)
    assert not [r for r in caplog.records if r.name.startswith("jobhub.waiting")]
