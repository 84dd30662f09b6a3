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

from jobhub.backend import Adapter, Call
from jobhub.errors import HubClosed
from jobhub.http import AsyncRunner, SyncRunner

__all__ = ["ThreadedRunner", "blocking_call", "blocking_iter", "sync_only"]

T = TypeVar("T")

SLICE = 0.1  # seconds the caller blocks at a time, so Ctrl-C is handled promptly
STOP_GRACE = 10.0  # seconds to wait for the worker to wind down after a stop

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
    try:
        # Started inside the `try`: a Ctrl-C that lands while `start()` waits for the thread
        # to come up must still stop it.
        worker.start()
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


class ThreadedRunner(AsyncRunner):
    """Sends, from the worker's loop, through a sync hub's own `SyncRunner` (its pooled
    connections, size cap and whole-answer deadline), each request in a thread of a pool that
    belongs to one call: at most `per_backend(adapter)` threads per backend, and `aclose()`
    waits for them, so no thread outlives the call. Used when the hub's transport is sync-only
    and asyncio cannot drive it."""

    def __init__(self, runner: SyncRunner, per_backend: Callable[[Adapter], int]) -> None:
        super().__init__(connections=per_backend)
        self._sync = runner
        self._per_backend = per_backend
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def client(self, adapter: Adapter) -> httpx.AsyncClient:
        raise AssertionError("a ThreadedRunner sends through its SyncRunner")  # pragma: no cover

    async def send_once(self, adapter: Adapter, call: Call[T]) -> T:
        if self.closed:
            raise HubClosed
        pool = self._pools.get(adapter.name)
        if pool is None:
            pool = self._pools[adapter.name] = ThreadPoolExecutor(
                self._per_backend(adapter), thread_name_prefix=f"jobhub-send-{adapter.name}"
            )
        return await asyncio.get_running_loop().run_in_executor(
            pool, self._sync.send_once, adapter, call
        )

    async def aclose(self) -> None:
        self.closed = True
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        # A request in flight ends by its own deadline; the call returns once it has.
        await asyncio.gather(*(asyncio.to_thread(pool.shutdown) for pool in pools))


def sync_only(transport: httpx.BaseTransport | None) -> bool:
    """Whether a sync hub's waits must send through threads (its transport has no asyncio
    side; `httpx.MockTransport` has one, and so does the default)."""
    return transport is not None and not isinstance(transport, httpx.AsyncBaseTransport)
