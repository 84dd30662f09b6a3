"""Run the asyncio waiter from synchronous code: each call gets a private event loop on a
worker thread; results cross back through a thread-safe queue.

Why a thread rather than `asyncio.run` in the caller's thread: it works the same whether or
not the caller's thread already runs an event loop (a sync `Hub` used inside a notebook or an
async web handler), and the caller's thread stays free to notice Ctrl-C. The caller waits for
results in short slices, so a KeyboardInterrupt arrives within a fraction of a second; it then
cancels the worker's task, which cancels every request in flight and closes every client, and
waits for the worker to finish before letting the interrupt continue.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import httpx

from jobhub.waiting.engine import MAX_HOLDS

__all__ = ["blocking_call", "blocking_iter", "threaded_transport"]

T = TypeVar("T")

SLICE = 0.1  # seconds the caller blocks at a time, so Ctrl-C is handled promptly
STOP_GRACE = 10.0  # seconds to wait for the worker to wind down after a stop
THREADS = MAX_HOLDS + 64  # sending threads for a sync-only transport: every hold, and GETs

_Kind = Literal["item", "error", "end"]


class _Worker:
    """Drives one async iterator on a private event loop in a daemon thread."""

    def __init__(self, make: Callable[[], AsyncIterator[Any]]) -> None:
        self._make = make
        self._items: queue.SimpleQueue[tuple[_Kind, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="jobhub-wait", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get(self) -> tuple[_Kind, Any]:
        while True:
            try:
                return self._items.get(timeout=SLICE)
            except queue.Empty:
                continue

    def stop(self) -> None:
        """Cancel the worker's task and wait for it to finish (idempotent)."""
        with self._lock:
            self._stopping = True
            loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop has nothing left to cancel
                loop.call_soon_threadsafe(task.cancel)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_GRACE)

    def _run(self) -> None:
        try:
            asyncio.run(self._drive())
        except BaseException as exc:  # the loop itself failed; hand it to the caller
            self._items.put(("error", exc))

    async def _drive(self) -> None:
        with self._lock:
            if self._stopping:
                self._items.put(("end", None))
                return
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        try:
            iterator = self._make()
            try:
                async for item in iterator:
                    self._items.put(("item", item))
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            self._items.put(("end", None))  # stopped by the caller: a normal end
        except BaseException as exc:
            self._items.put(("error", exc))
        else:
            self._items.put(("end", None))


def blocking_iter(make: Callable[[], AsyncIterator[T]]) -> Generator[T, None, None]:
    """Iterate, from sync code, the async iterator `make()` builds on the worker's loop.
    Breaking out of the loop (or the iterator being closed or collected) stops the worker."""
    worker = _Worker(make)
    worker.start()
    try:
        while True:
            kind, value = worker.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        worker.stop()


def blocking_call(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine `make()` builds on a worker's loop and return its result."""

    async def once() -> AsyncIterator[T]:
        yield await make()

    results = blocking_iter(once)
    try:
        for result in results:
            return result
    finally:
        results.close()
    raise AssertionError("unreachable")  # pragma: no cover


class _ThreadedTransport(httpx.AsyncBaseTransport):
    """A sync-only transport used from the worker's loop: each request runs in a thread of
    its own pool (large enough for held long-polls; threads start only as needed)."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="jobhub-send")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        def send() -> httpx.Response:
            response = self._transport.handle_request(request)
            try:
                body = response.read()  # decoded
            finally:
                response.close()
            headers = httpx.Headers(response.headers)
            headers.pop("Content-Encoding", None)
            headers["Content-Length"] = str(len(body))
            return httpx.Response(
                response.status_code, headers=headers, content=body, extensions=response.extensions
            )

        return await asyncio.get_running_loop().run_in_executor(self._threads, send)

    async def aclose(self) -> None:
        # The wrapped transport belongs to the caller's hub: only the threads are ours.
        self._threads.shutdown(wait=False, cancel_futures=True)


def threaded_transport(
    transport: httpx.BaseTransport | None,
) -> httpx.AsyncBaseTransport | None:
    """The transport a sync hub's waits use: its own when it can also serve asyncio
    (`httpx.MockTransport` does), else a thread-per-request wrapper around it."""
    if transport is None or isinstance(transport, httpx.AsyncBaseTransport):
        return transport
    return _ThreadedTransport(transport)
