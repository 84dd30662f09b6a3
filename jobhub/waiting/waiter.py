"""`Waiter`: wait, wait_all, as_completed and watch over an `Engine`, as coroutines and async
iterators. `AsyncHub` uses it directly; `Hub` runs it through `jobhub.waiting.blocking`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

import httpx

from jobhub.backend import Adapter
from jobhub.errors import HubClosed, WaitTimeout
from jobhub.http import AsyncRunner
from jobhub.model import Job, JobEvent, JobRef
from jobhub.waiting.engine import Engine, Mode
from jobhub.waiting.longpoll import HoldingRunner
from jobhub.waiting.schedule import Deadline
from jobhub.waiting.state import canonical

__all__ = ["Waiter"]


class Waiter:
    """Waits for and watches jobs of the given adapters.

    `runner` sends GETs, listings and refreshes (a hub passes its own, so its pooled
    connections are reused); without one, each call opens a runner of its own and closes it
    at the end. Long-polls always get a pool of their own (see `HoldingRunner`). `runners`,
    when given, makes the pair of runners each call uses (and closes) instead. Refs must
    already be checked (`JobRef`s whose backend is in `adapters`).
    """

    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        *,
        runner: AsyncRunner | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        runners: Callable[[], tuple[AsyncRunner, AsyncRunner]] | None = None,
    ) -> None:
        self.adapters = adapters
        self.runner = runner
        self.transport = transport
        self.runners = runners

    async def wait_all(
        self, refs: Sequence[JobRef], *, timeout: float | None, cancel_on_timeout: bool
    ) -> list[Job]:
        """Every job once ended, in the order of `refs`."""
        ended: dict[str, Job] = {}
        async for key, job in self._ended(refs, timeout, cancel_on_timeout):
            ended[key] = job
        return [ended[str(canonical(self.adapters, ref))] for ref in refs]

    async def as_completed(
        self, refs: Sequence[JobRef], *, timeout: float | None, cancel_on_timeout: bool = False
    ) -> AsyncIterator[Job]:
        """Each job once, as it ends (a job named twice, or spelled two ways, is yielded once)."""
        async for _, job in self._ended(refs, timeout, cancel_on_timeout):
            yield job

    async def _ended(
        self, refs: Sequence[JobRef], timeout: float | None, cancel_on_timeout: bool
    ) -> AsyncIterator[tuple[str, Job]]:
        """Each job once, as it ends, with the key it is followed under."""
        deadline = _deadline(timeout)
        open_refs = {str(canonical(self.adapters, ref)) for ref in refs}
        if not open_refs:
            return
        async with self._engine("wait", deadline) as engine:
            engine.follow(refs)
            while open_refs:
                try:
                    update = await engine.next()
                except WaitTimeout as exc:
                    if not cancel_on_timeout:
                        raise
                    raise engine.timed_out(await engine.cancel_open()) from exc
                if update.job.terminal and update.ref in open_refs:
                    open_refs.discard(update.ref)
                    yield update.ref, update.job

    async def watch(
        self, refs: Sequence[JobRef], *, backend: str | None, timeout: float | None
    ) -> AsyncIterator[JobEvent]:
        """Events of `refs` until each has ended, or — with `backend` — of every job on it
        until the deadline (then the stream simply ends)."""
        deadline = _deadline(timeout)
        open_refs = {str(canonical(self.adapters, ref)) for ref in refs}
        if not open_refs and backend is None:
            return
        async with self._engine("watch", deadline) as engine:
            if backend is not None:
                engine.discover(backend)
            engine.follow(refs)
            while open_refs or backend is not None:
                try:
                    update = await engine.next()
                except WaitTimeout:
                    if backend is not None:
                        return
                    raise
                for event in update.events:
                    yield event
                if update.job.terminal:
                    open_refs.discard(update.ref)

    @asynccontextmanager
    async def _engine(self, mode: Mode, deadline: Deadline) -> AsyncIterator[Engine]:
        if self.runner is not None and self.runner.closed:
            raise HubClosed
        own = self.runner is None
        if self.runners is not None:
            runner, holder = self.runners()
        else:
            runner = self.runner if self.runner is not None else AsyncRunner(self.transport)
            holder = HoldingRunner(self.transport)
        engine = Engine(self.adapters, runner, holder, mode=mode, deadline=deadline)
        try:
            yield engine
        finally:
            try:
                await engine.close()
            finally:
                await holder.aclose()
                if own:
                    await runner.aclose()


def _deadline(timeout: float | None) -> Deadline:
    """A deadline on the running loop's clock, the one every pause and timeout of the engine
    is measured on (the same as `time.monotonic` but for a loop that keeps its own time)."""
    return Deadline(timeout, clock=asyncio.get_running_loop().time)
