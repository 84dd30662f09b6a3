"""Following every backend into the store.

Each backend has its own `AsyncHub` and its backend-wide watch (`hub.watch(backend=NAME)`): new
jobs appear by themselves, transient faults are ridden through by the waiting engine. A watch
that stops on an error it cannot ride through (a refused credential, say) is noted in the
backend's health and started again after a backoff.

Every job the watches report is diffed against the store's snapshot (`job_events`), not
against what this process saw before: a restarted server therefore records only what changed
while it was away, never a job's history twice. Writes are batched: one transaction per
`BATCH` changes or per `FLUSH_EVERY` seconds, whichever comes first. The snapshots kept for
diffing are a bounded cache (`CACHE`); a miss reads the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from jobhub.errors import JobHubError
from jobhub.hub import AsyncHub
from jobhub.model import Job, JobEvent, JobState
from jobhub.serve.health import BackendHealth
from jobhub.serve.metrics import Metrics
from jobhub.store import Change, Store
from jobhub.waiting import Backoff, job_events

__all__ = ["Recorder"]

log = logging.getLogger("jobhub.serve")

BATCH = 500
FLUSH_EVERY = 0.05
CACHE = 5000
QUEUE = 10_000  # events waiting to be written; a full queue slows the watches down


class Recorder:
    """Follows `hubs` (backend name → its hub) and records what changes into `store`."""

    def __init__(
        self,
        store: Store,
        hubs: Mapping[str, AsyncHub],
        health: Mapping[str, BackendHealth],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.hubs = hubs
        self.health = health
        self.metrics = metrics
        self._queue: asyncio.Queue[JobEvent] = asyncio.Queue(QUEUE)
        self._known: OrderedDict[str, Job] = OrderedDict()
        self._watches: dict[str, asyncio.Task[None]] = {}
        self._writer: asyncio.Task[None] | None = None
        # This node's name when it shares the store by leases: its writes are fenced by them.
        self.holder: str | None = None

    def start(self, backends: Iterable[str] | None = None) -> None:
        """Start writing, and follow `backends` (default: every one; `()`: none yet)."""
        self._writer = asyncio.ensure_future(self._write_loop())
        for name in self.hubs if backends is None else backends:
            self.follow(name)

    @property
    def following(self) -> frozenset[str]:
        return frozenset(self._watches)

    def follow(self, name: str) -> None:
        """Start following one backend (when this node gains its lease)."""
        if name in self._watches:
            return
        # Snapshots cached while another node held it are stale: diff against the store.
        for ref in [ref for ref, job in self._known.items() if job.backend == name]:
            del self._known[ref]
        self._watches[name] = asyncio.ensure_future(self._follow(name))

    async def unfollow(self, name: str) -> None:
        """Stop following one backend and commit what it reported (when its lease goes), so
        the node that follows it next diffs against everything this one saw."""
        task = self._watches.pop(name, None)
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self.health[name].following = False
        await self._queue.join()

    async def stop(self) -> None:
        """Stop the watches, then write every event already received."""
        watches, self._watches = list(self._watches.values()), {}
        for task in watches:
            task.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
        if self._writer is not None:
            await self._queue.join()
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _follow(self, name: str) -> None:
        health = self.health[name]
        settings = self.hubs[name].adapter(name).settings
        backoff = Backoff(settings.poll_interval, max(settings.poll_max, 30.0))
        while True:
            health.following = True
            try:
                async for event in self.hubs[name].watch(backend=name):
                    await self._queue.put(event)
                    backoff.reset()
            except JobHubError as exc:
                health.failed(str(exc))
                log.warning("%s: watch stopped: %s", name, exc)
            except Exception as exc:  # a bug: keep following the other backends, and this one
                health.failed(f"internal error: {type(exc).__name__}")
                log.exception("%s: watch failed", name)
            await asyncio.sleep(backoff.next())

    async def _write_loop(self) -> None:
        while True:
            events = [await self._queue.get()]
            deadline = time.monotonic() + FLUSH_EVERY
            while len(events) < BATCH:
                try:
                    events.append(
                        await asyncio.wait_for(self._queue.get(), deadline - time.monotonic())
                    )
                except TimeoutError:
                    break
            try:
                await self._record(events)
            except Exception:
                # Nothing of this batch was committed (one transaction); the watches will
                # report these jobs again when they next change.
                log.exception("could not record %d events", len(events))
                for ref in {event.ref for event in events}:
                    self._known.pop(ref, None)
            finally:
                for _ in events:
                    self._queue.task_done()

    async def _record(self, events: list[JobEvent]) -> None:
        missing = list({e.ref for e in events if e.ref not in self._known})
        stored = await self.store.snapshots(missing) if missing else {}
        changes: list[Change] = []
        for event in events:
            previous = self._known.get(event.ref) or stored.get(event.ref)
            found = job_events(previous, event.job, at=event.at)
            self._remember(event.job)
            if found:
                changes.append((event.job, found))
        if not changes:
            return
        await self.store.record(changes, holder=self.holder)
        now = datetime.now(UTC)
        for job, recorded in changes:
            for event in recorded:
                self.metrics.lag.observe(max(0.0, (now - event.at).total_seconds()))
                if event.kind == "state" and isinstance(event.new, JobState):
                    self.metrics.transitions.labels(job.backend, event.new.value).inc()
                    if event.new.terminal and job.duration is not None:
                        self.metrics.duration.labels(job.backend).observe(job.duration)

    def _remember(self, job: Job) -> None:
        self._known[job.ref] = job
        self._known.move_to_end(job.ref)
        while len(self._known) > CACHE:
            self._known.popitem(last=False)
