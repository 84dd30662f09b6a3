"""A live `jobhub serve` for tests: the real server on a free loopback port, in a thread of
this process (or as the real command, `serve_command`), over the embedded emulator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from jobhub.serve import Options, Server, Service
from jobhub.store import open_store

JOBHUB = str(Path(sys.executable).parent / "jobhub")


class Live:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url
        self.service = server.service

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


@contextmanager
def live_server(
    backends: Mapping[str, Mapping[str, Any]],
    db: Path | str,
    options: Options | None = None,
) -> Iterator[Live]:
    """`db`: an SQLite file, or any --db url."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    service = Service(backends, open_store(url), options)
    server = Server(service, "127.0.0.1", 0)
    announced = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(announce=lambda line: announced.set()))
        except BaseException as exc:
            failure.append(exc)
            announced.set()

    thread = threading.Thread(target=run, name="jobhub-serve-test", daemon=True)
    thread.start()
    assert announced.wait(30), "the server did not start within 30 s"
    if failure:
        raise failure[0]
    try:
        yield Live(server)
    finally:
        server.stop()
        thread.join(30)
        assert not thread.is_alive(), "the server did not stop within 30 s"


def eventually(check: Callable[[], Any], *, timeout: float = 20.0, every: float = 0.05) -> Any:
    """`check()`'s first truthy result, retried until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: last result {result!r}")
        time.sleep(every)


def serve_command(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`jobhub serve ARGS` as a process; its stdout and stderr as text pipes."""
    return subprocess.Popen(
        [JOBHUB, "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
