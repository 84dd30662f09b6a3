"""The error tree: importable from `jobhub`, picklable, and typed the way Python code expects."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import jobhub
import jobhub.errors as errors
from jobhub import AsyncHub, Hub, Job, JobState
from jobhub.plugins import Registry
from tests.fakes import FakePlugin

ERROR_CLASSES = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, errors.JobHubError)
]


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register(FakePlugin(), name="fake")
    return registry


def ended_job() -> Job:
    return Job.model_validate(
        {"ref": "b:1", "backend": "b", "type": "t", "id": "1", "state": JobState.RUNNING}
    )


def test_every_error_class_is_importable_from_jobhub() -> None:
    assert set(errors.__all__) == {cls.__name__ for cls in ERROR_CLASSES}
    for cls in ERROR_CLASSES:
        assert getattr(jobhub, cls.__name__) is cls
        assert cls.__name__ in jobhub.__all__
        assert cls.__name__ in dir(jobhub)


def test_importing_the_error_tree_from_jobhub_loads_no_dependency() -> None:
    code = (
        "import sys\n"
        "from jobhub import WaitTimeout, ConfigError, JobHubError\n"
        "heavy = sorted(m for m in ('httpx', 'pydantic', 'pluggy', 'rich') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


EXAMPLES: list[errors.JobHubError] = [
    errors.ConfigError("bad url", backend="ci"),
    errors.InvalidArgument("limit must be 0 or more, not -1"),
    errors.InvalidRef("no colon", backend="ci"),
    errors.InvalidPayload("garbage", backend="ci", raw={"a": [1]}, excerpt='{"a": [1]}'),
    errors.AnswerTooLarge("too big", backend="ci", size=2048, limit=1024),
    errors.AuthError("401", backend="ci", status_code=401, raw="no token found"),
    errors.RateLimited("slow down", backend="ci", status_code=429, retry_after=2.5),
    errors.BackendUnavailable("down", backend="ci", status_code=503),
    errors.WaitTimeout("not done", backend="ci", pending={"ci:1": ended_job(), "ci:2": None}),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_errors_survive_a_pickle_round_trip(error: errors.JobHubError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) and copy.args == error.args
    assert vars(copy) == vars(error)


def test_every_error_class_pickles() -> None:
    for cls in ERROR_CLASSES:
        required: dict[type[errors.JobHubError], dict[str, Any]] = {
            errors.WaitTimeout: {"pending": {}},
            errors.AnswerTooLarge: {"size": 2, "limit": 1},
        }
        kwargs = required.get(cls, {})
        error = cls("message", backend="b", **kwargs)
        assert type(pickle.loads(pickle.dumps(error))) is cls


def test_wait_timeout_is_a_timeout_error() -> None:
    error = errors.WaitTimeout("not done", pending={})
    assert isinstance(error, TimeoutError) and isinstance(error, errors.JobHubError)
    assert str(error) == "not done"
    with pytest.raises(TimeoutError):
        raise error


def test_invalid_argument_is_a_value_error_under_the_root() -> None:
    assert issubclass(errors.InvalidArgument, errors.JobHubError)
    assert issubclass(errors.InvalidArgument, ValueError)
    assert issubclass(errors.InvalidRef, errors.InvalidArgument)


@pytest.mark.parametrize(
    "call",
    [
        lambda hub: list(hub.list("fake", limit=-1)),
        lambda hub: list(hub.list("fake", state="sleeping")),
        lambda hub: list(hub.watch()),
    ],
    ids=["negative limit", "unknown state", "watch without refs"],
)
def test_bad_arguments_raise_invalid_argument(registry: Registry, call: Any) -> None:
    hub = Hub({"fake": {"api_key": "k"}}, registry=registry, env={})
    with hub, pytest.raises(errors.InvalidArgument) as caught:
        call(hub)
    assert not isinstance(caught.value, errors.ConfigError)
    assert isinstance(caught.value, ValueError)


def test_a_bad_wait_timeout_is_an_invalid_argument(registry: Registry) -> None:
    hub = Hub({"fake": {"api_key": "k"}}, registry=registry, env={})
    with hub, pytest.raises(errors.InvalidArgument, match="timeout"):
        hub.wait("fake:1", timeout=-1)


@contextlib.contextmanager
def loopback_server(body: bytes) -> Iterator[str]:
    """A loopback HTTP/1.1 server answering every GET with `body`, keeping connections open."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_async_hub_used_from_a_second_event_loop_says_so(registry: Registry) -> None:
    with loopback_server(b'{"id": "1", "status": "busy"}') as url:
        hub = AsyncHub({"fake": {"api_key": "k", "url": url}}, registry=registry, env={})
        assert asyncio.run(hub.get("fake:1")).state is JobState.RUNNING
        with pytest.raises(errors.WrongEventLoop, match="event loop") as caught:
            asyncio.run(hub.get("fake:1"))
        assert isinstance(caught.value, RuntimeError)
