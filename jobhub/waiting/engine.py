"""The asyncio engine that follows jobs: one `Engine` per wait/watch call.

It follows each job the cheapest way its backend offers (`Adapter.capabilities`), one module
per strategy:

- `longpoll` — `LONG_POLL`: one held `await_job` per job (up to `long_polls` per backend);
  `open_listing` — the jobs beyond that many, polled, with the open jobs' listing as a hint.
- `refresh` — `BATCH_REFRESH`: one `refresh_jobs` call per backend per cycle serves every job.
- `polling` — otherwise: a GET per job with its own backoff, helped by workflow listings.
- `first_look` — a wait for several jobs of a backend starts with one listing of it.

`policy` decides when to poll, which backoff, and what a fault means: a fault that outlasts
the runner's own retries is ridden through with backoff; `RateLimited.retry_after` pauses
every request to that backend. `AuthError`, `JobNotFound`, `ConfigError`, other 4xx answers
and a backend that keeps sending unreadable answers (`MAX_UNREADABLE` in a row) end the call
with their typed error. The engine itself keeps the followed jobs, sends every request,
takes each view in (`accept`) and hands out the news (`next`) in the order it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from jobhub.backend import Adapter, Call, Capability, excerpt
from jobhub.errors import (
    JobAlreadyFinished,
    JobHubError,
    NotSupported,
    RateLimited,
    WaitTimeout,
)
from jobhub.http import AsyncRunner
from jobhub.model import Job, JobRef
from jobhub.waiting import policy
from jobhub.waiting.events import high_water, job_events
from jobhub.waiting.first_look import plan_first_looks
from jobhub.waiting.longpoll import long_poll
from jobhub.waiting.open_listing import open_listing
from jobhub.waiting.polling import listing, poll
from jobhub.waiting.refresh import refresh
from jobhub.waiting.schedule import Backoff, Deadline
from jobhub.waiting.slots import BACKSTOP, LISTING, ROUTINE, WOKEN, Wake
from jobhub.waiting.state import BackendState, FollowedJob, JobUpdate, canonical

__all__ = ["Engine", "Mode"]

log = logging.getLogger("jobhub.waiting")

T = TypeVar("T")
Mode = Literal["wait", "watch"]

CANCEL_TIMEOUT = 30.0  # cancelling open jobs after a timeout may take this long in all


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class Engine:
    """Follows jobs and reports each new view as a `JobUpdate`, in the order views arrive.

    engine = Engine(adapters, runner, holder, mode="wait", deadline=Deadline(60))
    engine.follow([JobRef("ci", "52a5")])
    update = await engine.next()    # WaitTimeout past the deadline; errors as raised
    await engine.close()            # cancels every request in flight
    """

    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        runner: AsyncRunner,
        holder: AsyncRunner,
        *,
        mode: Mode,
        deadline: Deadline,
    ) -> None:
        self.mode: Mode = mode
        self.deadline = deadline
        # Every job followed, by key (its canonical ref); strategies read it.
        self.followed: dict[str, FollowedJob] = {}
        self._adapters = adapters
        self._runner = runner
        self._holder = holder
        self._backends: dict[str, BackendState] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._discovering: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue: asyncio.Queue[JobUpdate | _Failed] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    # -- what to follow -------------------------------------------------------------------------

    def follow(self, refs: Iterable[JobRef]) -> None:
        """Follow these jobs until each ends (refs already checked against the adapters)."""
        tracked = [self.track(canonical(self._adapters, ref), str(ref)) for ref in refs]
        fresh = [f for f in dict.fromkeys(tracked) if f.last_view is None and not f.ended]
        if self.mode == "wait":
            plan_first_looks(self, fresh)
        for followed in fresh:
            self.start(followed, first_delay=0.0)

    def discover(self, name: str) -> None:
        """Follow every job the backend lists, now and as new ones appear (watch mode)."""
        backend = self.backend(name)
        kind = "refresh" if Capability.BATCH_REFRESH in backend.capabilities else "listing"
        self._ensure_loop(backend, kind, discover=True)

    def pending(self) -> dict[str, Job | None]:
        """The last view of every requested job that has not ended (None: never seen), under
        each ref the caller gave for it."""
        return {
            asked: f.last_view
            for f in self.followed.values()
            if not f.ended
            for asked in f.asked_as
        }

    # -- results --------------------------------------------------------------------------------

    async def next(self) -> JobUpdate:
        """The next new view; raises a follower's fatal error, or `WaitTimeout` at the deadline."""
        try:
            async with asyncio.timeout(self.deadline.remaining()):
                item = await self._queue.get()
        except TimeoutError:
            item = await self._after_the_deadline()
        if isinstance(item, _Failed):
            raise item.error
        return item

    async def _after_the_deadline(self) -> JobUpdate | _Failed:
        """A wait always looks at least once: past the deadline, a job not yet asked for gets
        that one look (bounded by its backend's request timeout), and what the looks showed is
        reported before the `WaitTimeout`."""
        unlooked = [
            f
            for f in self.followed.values()
            if f.requested and not f.ended and not f.first_request_done.is_set()
        ]
        if unlooked:
            bound = max(self.backend(f.ref.backend).settings.timeout for f in unlooked)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(bound):
                    await asyncio.gather(*(f.first_request_done.wait() for f in unlooked))
        if self._queue.empty():
            raise self.timed_out()
        return self._queue.get_nowait()

    def timed_out(self, note: str = "") -> WaitTimeout:
        open_jobs = [f for f in self.followed.values() if f.requested and not f.ended]
        total = sum(1 for f in self.followed.values() if f.requested)
        errors = {
            name: backend.last_error
            for name, backend in self._backends.items()
            if backend.last_error is not None
        }
        shown = ", ".join(self._describe(f, errors) for f in open_jobs[:5])
        more = f" and {len(open_jobs) - 5} more" if len(open_jobs) > 5 else ""
        waited = f"{self.deadline.timeout:g} s" if self.deadline.timeout is not None else "long"
        noun = "job" if total == 1 else "jobs"
        limited = "".join(
            f"; {error.backend!r} was rate limited ({excerpt(str(error), 200)})"
            for error in errors.values()
            if isinstance(error, RateLimited)
        )
        message = (
            f"waited {waited}; {len(open_jobs)} of {total} {noun} still open: {shown}{more}"
            f"{limited}{note} — raise the timeout, or look at the jobs with `jobhub get`"
        )
        return WaitTimeout(message, pending=self.pending(), backend_errors=errors)

    @staticmethod
    def _describe(followed: FollowedJob, errors: Mapping[str, JobHubError]) -> str:
        name = followed.asked_as[0]
        if followed.last_view is not None:
            return f"{name} ({followed.last_view.state.value})"
        error = errors.get(followed.ref.backend)
        if error is None:
            return f"{name} (never seen)"
        return f"{name} (never seen; unreachable: {excerpt(str(error), 200)})"

    async def cancel_open(self) -> str:
        """Stop following and ask each backend to cancel the requested jobs still open.
        Returns a sentence for the timeout message saying what happened."""
        await self.close()
        pending = [f for f in self.followed.values() if f.requested and not f.ended]
        cancelled: list[str] = []
        ended: list[str] = []
        unsupported: list[str] = []
        failed: list[str] = []

        async def cancel(followed: FollowedJob) -> None:
            backend = self.backend(followed.ref.backend)
            try:
                call = backend.adapter.cancel_job(followed.ref.id)
            except NotSupported:
                unsupported.append(followed.key)
                return
            try:
                await self.send(backend, call, retry=True)
            except JobAlreadyFinished:
                ended.append(followed.key)  # it ended on its own meanwhile: nothing to stop
            except JobHubError as exc:
                failed.append(f"{followed.key} ({exc})")
            else:
                cancelled.append(followed.key)

        tasks = [asyncio.ensure_future(cancel(followed)) for followed in pending]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=CANCEL_TIMEOUT)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                failed.append(
                    f"{len(late)} cancel request(s) got no answer in {CANCEL_TIMEOUT:g} s"
                )
        parts = [f"cancelled {len(cancelled)}"]
        if ended:
            parts.append(f"{', '.join(ended)} ended on its own before the cancel")
        if unsupported:
            parts.append(f"could not cancel {', '.join(unsupported)}: the backend has no cancel")
            log.warning("not cancelled (the backend has no cancel): %s", ", ".join(unsupported))
        if failed:
            parts.append(f"cancelling failed for {'; '.join(failed)}")
            log.warning("cancelling after a timeout failed: %s", "; ".join(failed))
        return "; " + "; ".join(parts)

    async def close(self) -> None:
        """Cancel every follower and wait until they have stopped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- bookkeeping, for the strategies -------------------------------------------------------

    def now(self) -> float:
        """The loop's time, which every time the engine keeps is measured in."""
        return self._loop.time()

    def backend(self, name: str) -> BackendState:
        backend = self._backends.get(name)
        if backend is None:
            adapter = self._adapters[name]
            holds = self._holder.connections_for(adapter)
            backend = self._backends[name] = BackendState(adapter, holds)
        return backend

    def track(self, ref: JobRef, asked: str | None = None) -> FollowedJob:
        """The job `ref` (canonical) followed; `asked`: a ref the caller named it by."""
        followed = self.followed.get(str(ref))
        if followed is None:
            backend = self.backend(ref.backend)
            followed = self.followed[str(ref)] = FollowedJob(ref, backend.adapter)
            backend.open.add(followed.key)
        if asked is not None and asked not in followed.asked_as:
            followed.asked_as.append(asked)
        return followed

    def finish(self, followed: FollowedJob) -> None:
        """`followed` has ended (or is gone): nothing more is asked of it, and a job nobody
        asked for, discovered on a watched backend, is forgotten but for its id. Its views are
        let go: its end is on its way to the caller, who keeps it or not (`as_completed` over
        100,000 jobs holds only the open ones)."""
        followed.ended = True
        followed.last_view = followed.reported = None
        backend = self.backend(followed.ref.backend)
        backend.open.discard(followed.key)
        backend.listing_confirmed_at.pop(followed.key, None)
        backend.ended_ids.add(followed.ref.id)
        if not followed.requested:
            self.followed.pop(followed.key, None)

    def is_new(self, backend: BackendState, ref: JobRef) -> bool:
        """Whether a job a watched backend's listing or refresh shows is new to the watch."""
        return ref.id not in backend.ended_ids and str(ref) not in self.followed

    def start(self, followed: FollowedJob, *, first_delay: float) -> None:
        """Follow the job the cheapest way its backend offers."""
        backend = self.backend(followed.ref.backend)
        capabilities = backend.capabilities
        if Capability.LONG_POLL in capabilities:
            self.spawn(long_poll(self, backend, followed), followed)
            if self.mode == "watch":
                self.spawn(poll(self, backend, followed, first_delay), followed)
        elif Capability.BATCH_REFRESH in capabilities:
            self._ensure_loop(backend, "refresh", discover=False)
        else:
            self.spawn(poll(self, backend, followed, first_delay), followed)
            self._ensure_loop(backend, "listing", discover=False)

    def list_open_jobs(self, backend: BackendState) -> None:
        """Jobs wait for a hold on the backend: list its open jobs (`open_listing`)."""
        if backend.lists_open_jobs:
            self._ensure_loop(backend, "open", discover=False)

    def _ensure_loop(self, backend: BackendState, kind: str, *, discover: bool) -> None:
        """At most one refresh or listing loop per backend; a discovering one serves both."""
        key = f"{backend.name}/{kind}"
        running = self._loops.get(key)
        if running is not None and not running.done():
            if key in self._discovering or not discover:
                return
            running.cancel()
        if discover:
            self._discovering.add(key)
        if kind == "refresh":
            self._loops[key] = self.spawn(refresh(self, backend, discover=discover))
        elif kind == "open":
            self._loops[key] = self.spawn(open_listing(self, backend))
        else:
            self._loops[key] = self.spawn(listing(self, backend, discover=discover))

    def spawn(
        self, body: Coroutine[Any, Any, None], followed: FollowedJob | None = None
    ) -> asyncio.Task[None]:
        """Run `body` until the engine closes (or, given `followed`, until that job ends); its
        error is raised to the caller by `next`."""
        # The coroutine itself is the task: one cancelled before it starts (its job ended
        # first) is closed, not left never awaited.
        task = asyncio.create_task(body)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        if followed is not None:
            followed.followers.add(task)
            task.add_done_callback(followed.followers.discard)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            exc = task.exception()
            if isinstance(exc, Exception):  # reported to the caller by next(), not lost
                self._queue.put_nowait(_Failed(exc))

    def accept(self, followed: FollowedJob, job: Job, *, full: bool = True) -> bool:
        """Take a view of a job (`full`: from a GET, long-poll or refresh, not a listing
        summary); True when it counts as a change for the backoff."""
        followed.first_request_done.set()
        if followed.ended:
            return False  # an end is final; a slower answer that crossed it is stale
        events = job_events(followed.reported, job, at=datetime.now(UTC))
        followed.reported = high_water(followed.reported, job)
        followed.last_view = job
        now = self.now()
        settings = self.backend(followed.ref.backend).settings
        if followed.fetch_by == math.inf:  # first seen
            followed.fetch_by = policy.first_fetch_by(settings, now)
            if full:
                followed.fetched_at = now
        elif full:
            followed.fetched_at = now
            followed.fetch_by = now + policy.longest_pause(settings)
        if job.state.terminal:
            self.finish(followed)
            current = asyncio.current_task()
            for task in list(followed.followers):
                if task is not current:
                    task.cancel()
        if events:
            self._queue.put_nowait(JobUpdate(followed.key, job, events))
        if self.mode == "wait":
            return any(event.kind == "state" for event in events)
        return bool(events)

    # -- sending --------------------------------------------------------------------------------

    async def send(
        self,
        backend: BackendState,
        call: Call[T],
        *,
        hold: bool = False,
        retry: bool = False,
        rank: int = LISTING,
        wake: Wake | None = None,
    ) -> T:
        """Send `call` once (`retry`: with the runner's own tries, for a request no loop of
        the engine repeats; `hold`: a long-poll, through the holding runner; `rank`: its place
        in the queue for a request slot, `wake` its job's, see `slots`), after any pause a
        `Retry-After` asked for."""
        pause = backend.paused_until - self.now()
        if pause > 0:
            await asyncio.sleep(self.deadline.cap(pause))
        try:
            if hold:
                result = await self._holder.run(backend.adapter, call, retry=False)
            else:
                async with backend.request_slots.held(rank, wake=wake):
                    result = await self._runner.run(backend.adapter, call, retry=retry)
        except JobHubError as exc:
            if not (hold and exc.status_code == 408):  # an expired hold is no failure
                policy.failed(backend, exc, self.now())
            raise
        policy.answered(backend)
        return result

    async def get(
        self,
        backend: BackendState,
        followed: FollowedJob,
        backoff: Backoff,
        *,
        woken: bool = True,
        backstop: bool = False,
    ) -> float:
        """One GET of the job (`woken=False`: only its backoff or `poll_max` came due, so the
        GET of a job seen before is a routine poll; `backstop`: one of a job a listing shows
        unchanged, due at `poll_max`); the pause to take before the next."""
        try:
            call = backend.adapter.expecting(
                followed.ref.id, backend.adapter.get_job(followed.ref.id)
            )
            if woken or followed.last_view is None:
                rank = WOKEN
            else:
                rank = BACKSTOP if backstop else ROUTINE
            job = await self.send(backend, call, rank=rank, wake=followed.wake)
        except Exception as exc:
            followed.first_request_done.set()
            return policy.retry_in(backend, exc, backoff, self.now())
        return backoff.reset() if self.accept(followed, job) else backoff.next()
