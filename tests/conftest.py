"""Shared fixtures: the secret sentinel, cassettes, hubs over cassettes or mock transports."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr

from jobhub.model import check_models
from jobhub.plugins import get_registry, reset_registry
from tests.postgres import postgres_server, postgres_url, store_url_for

# Fixtures for a throwaway PostgreSQL server (tests/postgres.py).
__all__ = ["postgres_server", "postgres_url"]

# Adapters build Jobs and Tasks without validation (`trusted`); in tests each one is validated
# too and must come out the same, so an adapter that builds a wrong one fails here.
check_models()

# The commands tests start write to a pipe, as wide as the command decides, whatever terminal
# the tests run in: pytest-xdist's workers, for one, set COLUMNS=80 and LINES=24.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

# One value used as every credential in tests: it must never show up in any output.
SECRET = "sentinel-SECRET-c0ffee-do-not-leak"
CREDENTIAL_HEADERS = ["X-API-Key", "Authorization"]

cassettes = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",  # hand-written from the vendors' documented payloads; never recorded live
    match_on=["method", "scheme", "host", "port", "path", "query"],
    filter_headers=CREDENTIAL_HEADERS,
    decode_compressed_response=True,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that hold a `slow` test first, each kept whole (its module fixtures set up
    once), the rest in their order: a parallel run then ends on short tests, not waiting on one
    long one that started last."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Reports whose captured output or failure text holds a lone surrogate (the fuzz tests
    log such payloads) with it escaped: pytest-xdist sends each report from its worker as UTF-8,
    and one it cannot encode stops the whole run."""
    report = yield
    report.sections = [(title, _utf8(text)) for title, text in report.sections]
    if report.longrepr is not None and _utf8(text := str(report.longrepr)) != text:
        report.longrepr = _utf8(text)
    return report


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


@pytest.fixture(autouse=True)
def _default_ctrl_c() -> None:
    """Each test starts with Python's own Ctrl-C: SIGINT raises KeyboardInterrupt in the main
    thread and is not blocked, whatever an earlier test in this process left behind."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.fixture(autouse=True)
def _no_status_word_warned_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no unknown status word warned of. A table warns of each word once
    and of at most `StateTable.MAX_WARNED` words per process, so without this whether a test
    sees its warning would depend on which tests its worker ran before (the fuzzers draw many
    words)."""
    from jobhub_pixxel.normalize import STATES as PIXXEL_STATES
    from jobhub_prunner.normalize import TASK_STATES as PRUNNER_TASK_STATES
    from jobhub_sieve.normalize import SIEVE_STATES
    from jobhub_wes.adapter import WES_STATES

    for table in (PIXXEL_STATES, PRUNNER_TASK_STATES, SIEVE_STATES, WES_STATES):
        monkeypatch.setattr(table, "_warned", set())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    """Each test sees plugins loaded from the environment it sets up."""
    reset_registry()
    yield
    reset_registry()


@pytest.fixture(autouse=True)
def _no_secret_in_any_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with jobhub logging at DEBUG; the sentinel must reach no log record."""
    caplog.set_level(logging.DEBUG, logger="jobhub")
    yield
    for when in ("setup", "call", "teardown"):
        for record in caplog.get_records(when):
            message = record.getMessage()
            assert SECRET not in message, f"secret leaked into a log record: {message!r}"
            if record.exc_text:
                assert SECRET not in record.exc_text


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store's --db url, once on SQLite and once on PostgreSQL (tests/postgres.py)."""
    yield from store_url_for(request, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`store_url` for a module's one live server: its tests run on both stores."""
    yield from store_url_for(request, tmp_path_factory.mktemp("store"))


@pytest.fixture
def registry() -> Any:
    return get_registry()


class SecretWatch:
    """Collects every log record so a test can assert the sentinel is nowhere in them."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def assert_clean(self, *texts: object) -> None:
        for record in self.caplog.records:
            assert SECRET not in record.getMessage(), record.getMessage()
        for text in texts:
            assert SECRET not in str(text)
            assert SECRET not in repr(text)


@pytest.fixture
def secret_watch(caplog: pytest.LogCaptureFixture) -> SecretWatch:
    caplog.set_level(logging.DEBUG)
    return SecretWatch(caplog)


@pytest.fixture(scope="module")
def real_prunner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real prunner server (tests/realprunner.py), one per module."""
    from tests.realprunner import running

    with running(tmp_path_factory.mktemp("prunner")) as server:
        yield server
