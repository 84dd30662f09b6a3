"""The asyncio engine that follows jobs: one `Engine` per wait/watch call.

It follows each job the cheapest way its backend offers (`Adapter.capabilities`):

- `LONG_POLL` — one held `await_job` per job; the server answers when the job ends, a 408
  (the hold expired) is re-issued at once. Waits look at each job once first (a GET), so a
  `WaitTimeout` can say what the job was doing. Watches also GET the job between answers (with
  backoff), because a long-poll says nothing until the end; the long-poll then asks only for
  outputs past those already seen (`offset`) and the view is completed from what was seen.
  Held long-polls use a pool of their own (at most `MAX_HOLDS` per backend), so they never take
  the connections GETs need; a job beyond that many is polled with GETs until a hold frees.
- `BATCH_REFRESH` — one `refresh_jobs` call per backend per cycle serves every job on it.
- otherwise — GET each job with its own backoff, at most `settings.concurrency` at once. When
  two or more followed jobs share a workflow, the workflow's listing (`list_jobs(workflow=)`) is
  fetched once per cycle as a cheap change detector: a job whose listed state (or, for a watch,
  progress) moved is fetched at once; a job listed unchanged is fetched only once per
  `poll_max`. Listings are only a hint: a lagging listing cannot hold a job back longer than
  that, a job a listing does not show is fetched as usual, and a listing that fails for good is
  no longer asked for.

Between polls: `Backoff` from `poll_interval` up to `poll_max`, started over when something
changed (for a wait: a job's state; for a watch: anything `job_events` reports). A fault that
outlasts the runner's own retries is ridden through the same way; `RateLimited.retry_after`
pauses every request to that backend. `AuthError`, `JobNotFound`, `ConfigError`, other 4xx
answers and a backend that keeps sending unreadable answers (`MAX_UNREADABLE` in a row) end
the call with their typed error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx

from jobhub.backend import Adapter, Call, Capability, excerpt
from jobhub.config import BackendSettings
from jobhub.errors import (
    AnswerTooLarge,
    BackendUnavailable,
    InvalidPayload,
    JobAlreadyFinished,
    JobHubError,
    JobNotFound,
    NotSupported,
    RateLimited,
    WaitTimeout,
)
from jobhub.http import AsyncRunner
from jobhub.model import Job, JobEvent, JobRef
from jobhub.retry import is_transient, pause_before_retry
from jobhub.waiting.events import high_water, job_events
from jobhub.waiting.schedule import GROWTH, SHARED_GROWTH, Backoff, Deadline

__all__ = ["MAX_HOLDS", "Engine", "HoldingRunner", "Mode", "Seen"]

log = logging.getLogger("jobhub.waiting")

T = TypeVar("T")
Mode = Literal["wait", "watch"]

# Held long-polls per backend by default (each keeps a connection open): the `long_polls` setting.
MAX_HOLDS: int = BackendSettings.model_fields["long_polls"].default
MAX_UNREADABLE = 5  # unreadable answers in a row from one backend before giving up
MIN_HOLD = 1.0  # a 408 sooner than this (or poll_interval) is not a real hold: back off first
LIST_MIN_JOBS = 2  # a workflow's listing is worth it from this many followed jobs
LIST_MAX_JOBS = 1000  # a watched backend's listing is read up to this many jobs ...
LIST_MAX_PAGES = 50  # ... or this many pages per cycle
FIRST_LOOK_MIN = 4  # waiting for this many jobs of a backend, list it once for a first view
FIRST_LOOK_TIMEOUT = 5.0  # seconds that first listing may take before each job is fetched
# A backend is warned about (once, until it answers again) after this many failed requests
# in a row spanning at least this many seconds: a few faults among answers are no news.
FAILURES_WARNED = 3
FAILING_WARNED_AFTER = 10.0
CANCEL_TIMEOUT = 30.0  # cancelling open jobs after a timeout may take this long in all
# A batch refresh refused for its size is tried again this often (seconds). Each try may read up
# to max_response_bytes before it is refused (128 MiB, seconds of CPU, for prunner), and the
# answer shrinks only as the server's retention removes jobs, so not every cycle.
REFRESH_RETRY_AFTER = 300.0


@dataclass(frozen=True, slots=True)
class Seen:
    """A new view of a job and what changed since the previous one (never empty)."""

    ref: str
    job: Job
    events: list[JobEvent]


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class _Followed:
    """One job being followed and what is known of it."""

    __slots__ = (
        "adapter",
        "asked",
        "baseline",
        "checked",
        "ended",
        "fetch_by",
        "got",
        "key",
        "last",
        "looked_once",
        "poke",
        "ref",
        "tasks",
    )

    def __init__(self, ref: JobRef, adapter: Adapter) -> None:
        self.ref = ref  # with the backend's canonical id
        self.key = str(ref)
        self.adapter = adapter
        # The refs the caller named it by, as given (empty: discovered on a watched backend).
        self.asked: list[str] = []
        self.last: Job | None = None  # as the backend last showed it
        self.baseline: Job | None = None  # what events were reported up to (`high_water`)
        self.ended = False
        self.got = -math.inf  # loop time of the last full view
        # Loop time by which it is fetched on its own, whatever a listing says of it.
        self.fetch_by = math.inf
        self.checked = -math.inf  # loop time its follower last woke to look at it
        self.poke = asyncio.Event()  # a listing saw it move: look now
        self.looked_once = asyncio.Event()  # set once it was asked for (answered or not)
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def requested(self) -> bool:
        return bool(self.asked)


def canonical(adapters: Mapping[str, Adapter], ref: JobRef) -> JobRef:
    """`ref` with its backend's canonical spelling of the id (see `Adapter.canonical_id`)."""
    return JobRef(ref.backend, adapters[ref.backend].canonical_id(ref.id))


class _Backend:
    """Per-backend limits and memory shared by every follower on it."""

    def __init__(self, adapter: Adapter, holds: int) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.settings = adapter.settings
        self.slots = asyncio.Semaphore(adapter.settings.concurrency)
        self.holds = 0
        self.max_holds = holds
        self.paused_until = 0.0  # loop time before which nothing is sent (Retry-After)
        self.last_error: JobHubError | None = None  # set while its last answer is an error
        self.failures = 0  # requests in a row that failed
        self.failing_since = 0.0  # loop time of the first of them
        self.warned = False  # a warning says it keeps failing
        self.unreadable = 0
        self.unlisted: set[str] = set()  # workflows whose listing failed for good
        self.open: set[str] = set()  # keys of followed jobs that have not ended
        # Ids of jobs seen to end: a watch of the backend does not take them up again. A job
        # discovered there is forgotten once it ends (its end was reported), so a long watch
        # holds a view of what is open only.
        self.finished: set[str] = set()
        self.vouched: dict[str, float] = {}  # key → loop time a listing last saw it unchanged
        self.listed: set[str] = set()  # workflows listed each cycle (until none of theirs is open)
        self.looked: asyncio.Event | None = None  # set once a first look by listing is done

    @property
    def longest_pause(self) -> float:
        """The longest a followed job goes without being fetched on its own (`poll_max`)."""
        return max(self.settings.poll_interval, self.settings.poll_max)

    def backoff(self, *, shared: bool = False) -> Backoff:
        """Pauses for one job's polls, or (`shared`) for a refresh or listing serving many."""
        growth = SHARED_GROWTH if shared else GROWTH
        return Backoff(self.settings.poll_interval, self.settings.poll_max, growth=growth)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.adapter.capabilities


class HoldingRunner(AsyncRunner):
    """An `AsyncRunner` whose per-backend pool has room for every held long-poll, kept apart
    from the pool GETs use so that holds never starve them."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(transport, connections=max_holds)


def max_holds(adapter: Adapter) -> int:
    """Long-polls held at once on the backend (each keeps a connection open)."""
    return adapter.settings.long_polls


class Engine:
    """Follows jobs and reports each new view as a `Seen`, in the order views arrive.

    engine = Engine(adapters, runner, holder, mode="wait", deadline=Deadline(60))
    engine.follow([JobRef("ci", "52a5")])
    seen = await engine.next()      # WaitTimeout past the deadline; errors as raised
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
        self._adapters = adapters
        self._runner = runner
        self._holder = holder
        self._backends: dict[str, _Backend] = {}
        self._followed: dict[str, _Followed] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._discovering: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._queue: asyncio.Queue[Seen | _Failed] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    # -- what to follow -------------------------------------------------------------------------

    def follow(self, refs: Iterable[JobRef]) -> None:
        """Follow these jobs until each ends (refs already checked against the adapters)."""
        tracked = [self._track(canonical(self._adapters, ref), str(ref)) for ref in refs]
        fresh = [f for f in dict.fromkeys(tracked) if f.last is None and not f.ended]
        if self.mode == "wait":
            self._plan_first_looks(fresh)
        for followed in fresh:
            self._start(followed, first_delay=0.0)

    def discover(self, name: str) -> None:
        """Follow every job the backend lists, now and as new ones appear (watch mode)."""
        backend = self._backend(name)
        kind = "refresh" if Capability.BATCH_REFRESH in backend.capabilities else "listing"
        self._ensure_loop(backend, kind, discover=True)

    def pending(self) -> dict[str, Job | None]:
        """The last view of every requested job that has not ended (None: never seen), under
        each ref the caller gave for it."""
        return {asked: f.last for f in self._followed.values() if not f.ended for asked in f.asked}

    # -- results --------------------------------------------------------------------------------

    async def next(self) -> Seen:
        """The next new view; raises a follower's fatal error, or `WaitTimeout` at the deadline."""
        try:
            async with asyncio.timeout(self.deadline.remaining()):
                item = await self._queue.get()
        except TimeoutError:
            item = await self._after_the_deadline()
        if isinstance(item, _Failed):
            raise item.error
        return item

    async def _after_the_deadline(self) -> Seen | _Failed:
        """A wait always looks at least once: past the deadline, a job not yet asked for gets
        that one look (bounded by its backend's request timeout), and what the looks showed is
        reported before the `WaitTimeout`."""
        unlooked = [
            f
            for f in self._followed.values()
            if f.requested and not f.ended and not f.looked_once.is_set()
        ]
        if unlooked:
            bound = max(self._backend(f.ref.backend).settings.timeout for f in unlooked)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(bound):
                    await asyncio.gather(*(f.looked_once.wait() for f in unlooked))
        if self._queue.empty():
            raise self.timed_out()
        return self._queue.get_nowait()

    def timed_out(self, note: str = "") -> WaitTimeout:
        open_jobs = [f for f in self._followed.values() if f.requested and not f.ended]
        total = sum(1 for f in self._followed.values() if f.requested)
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
    def _describe(followed: _Followed, errors: Mapping[str, JobHubError]) -> str:
        if followed.last is not None:
            return f"{followed.asked[0]} ({followed.last.state.value})"
        error = errors.get(followed.ref.backend)
        if error is None:
            return f"{followed.asked[0]} (never seen)"
        return f"{followed.asked[0]} (never seen; unreachable: {excerpt(str(error), 200)})"

    async def cancel_open(self) -> str:
        """Stop following and ask each backend to cancel the requested jobs still open.
        Returns a sentence for the timeout message saying what happened."""
        await self.close()
        pending = [f for f in self._followed.values() if f.requested and not f.ended]
        cancelled: list[str] = []
        ended: list[str] = []
        unsupported: list[str] = []
        failed: list[str] = []

        async def cancel(followed: _Followed) -> None:
            backend = self._backend(followed.ref.backend)
            try:
                call = backend.adapter.cancel_job(followed.ref.id)
            except NotSupported:
                unsupported.append(followed.key)
                return
            try:
                await self._send(backend, call, retry=True)
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

    # -- bookkeeping ----------------------------------------------------------------------------

    def _backend(self, name: str) -> _Backend:
        backend = self._backends.get(name)
        if backend is None:
            adapter = self._adapters[name]
            holds = self._holder.connections_for(adapter)
            backend = self._backends[name] = _Backend(adapter, holds)
        return backend

    def _track(self, ref: JobRef, asked: str | None = None) -> _Followed:
        """The job `ref` (canonical) followed; `asked`: a ref the caller named it by."""
        followed = self._followed.get(str(ref))
        if followed is None:
            backend = self._backend(ref.backend)
            followed = self._followed[str(ref)] = _Followed(ref, backend.adapter)
            backend.open.add(followed.key)
        if asked is not None and asked not in followed.asked:
            followed.asked.append(asked)
        return followed

    def _finish(self, followed: _Followed) -> None:
        """`followed` has ended (or is gone): nothing more is asked of it, and a job nobody
        asked for, discovered on a watched backend, is forgotten but for its id."""
        followed.ended = True
        backend = self._backend(followed.ref.backend)
        backend.open.discard(followed.key)
        backend.vouched.pop(followed.key, None)
        backend.finished.add(followed.ref.id)
        if not followed.requested:
            self._followed.pop(followed.key, None)

    def _discovered(self, backend: _Backend, ref: JobRef) -> bool:
        """Whether a job a watched backend's listing or refresh shows is new to the watch."""
        return ref.id not in backend.finished and str(ref) not in self._followed

    def _listed(self, backend: _Backend, job: Job) -> JobRef:
        """The ref of a job as a listing or refresh shows it."""
        return JobRef(backend.name, backend.adapter.canonical_id(job.id))

    def _start(self, followed: _Followed, *, first_delay: float) -> None:
        backend = self._backend(followed.ref.backend)
        capabilities = backend.capabilities
        if Capability.LONG_POLL in capabilities:
            self._spawn(self._long_poll(backend, followed), followed)
            if self.mode == "watch":
                self._spawn(self._poll(backend, followed, first_delay), followed)
        elif Capability.BATCH_REFRESH in capabilities:
            self._ensure_loop(backend, "refresh", discover=False)
        else:
            self._spawn(self._poll(backend, followed, first_delay), followed)
            self._ensure_loop(backend, "listing", discover=False)

    def _ensure_loop(self, backend: _Backend, kind: str, *, discover: bool) -> None:
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
            self._loops[key] = self._spawn(self._refresh(backend, discover=discover))
        else:
            self._loops[key] = self._spawn(self._listing(backend, discover=discover))

    def _spawn(
        self, body: Coroutine[Any, Any, None], followed: _Followed | None = None
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(self._guard(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if followed is not None:
            followed.tasks.add(task)
            task.add_done_callback(followed.tasks.discard)
        return task

    async def _guard(self, body: Awaitable[None]) -> None:
        try:
            await body
        except Exception as exc:  # reported to the caller by next(), not lost in a task
            self._queue.put_nowait(_Failed(exc))

    def _accept(self, followed: _Followed, job: Job, *, full: bool = True) -> bool:
        """Take a view of a job (`full`: from a GET, long-poll or refresh, not a listing
        summary); True when it counts as a change for the backoff."""
        followed.looked_once.set()
        if followed.ended:
            return False  # an end is final; a slower answer that crossed it is stale
        events = job_events(followed.baseline, job, at=datetime.now(UTC))
        followed.baseline = high_water(followed.baseline, job)
        followed.last = job
        now = self._loop.time()
        if full:
            followed.got = now
            followed.fetch_by = now + self._backend(followed.ref.backend).longest_pause
        elif followed.fetch_by == math.inf:  # first seen in a listing
            followed.fetch_by = now + self._backend(followed.ref.backend).longest_pause
        if job.state.terminal:
            self._finish(followed)
            current = asyncio.current_task()
            for task in list(followed.tasks):
                if task is not current:
                    task.cancel()
        if events:
            self._queue.put_nowait(Seen(followed.key, job, events))
        if self.mode == "wait":
            return any(event.kind == "state" for event in events)
        return bool(events)

    # -- first looks ----------------------------------------------------------------------------

    def _plan_first_looks(self, fresh: list[_Followed]) -> None:
        """Waiting for several jobs of one backend, a single listing of it can give the first
        view of many of them instead of one GET each (not for batch-refresh backends, whose
        refresh already does that)."""
        by_backend: dict[str, list[_Followed]] = {}
        for followed in fresh:
            by_backend.setdefault(followed.ref.backend, []).append(followed)
        for name, group in by_backend.items():
            backend = self._backend(name)
            if (
                len(group) >= FIRST_LOOK_MIN
                and Capability.BATCH_REFRESH not in backend.capabilities
            ):
                backend.looked = asyncio.Event()
                self._spawn(self._first_look(backend, len(group)))

    async def _first_look(self, backend: _Backend, count: int) -> None:
        assert backend.looked is not None
        try:
            try:
                # Never spend more requests on the listing than half the GETs it may save, nor
                # hold the jobs' followers back long.
                async with asyncio.timeout(FIRST_LOOK_TIMEOUT):
                    jobs = await self._list(backend, None, max_pages=max(1, count // 2))
            except (TimeoutError, JobHubError) as exc:
                why = str(exc) or "no answer in time"
                log.debug("%s: no first look from its listing (%s)", backend.name, why)
                return
            for job in jobs:
                followed = self._followed.get(str(self._listed(backend, job)))
                # An ended job is fetched in full: a listing may show only a summary of it.
                if followed is not None and followed.last is None and not job.state.terminal:
                    self._accept(followed, job, full=False)
                    backend.vouched[followed.key] = self._loop.time()
        finally:
            backend.looked.set()  # each follower now gets what the listing did not show

    async def _looked(self, backend: _Backend) -> None:
        if backend.looked is not None:
            await backend.looked.wait()

    # -- sending --------------------------------------------------------------------------------

    async def _send(
        self, backend: _Backend, call: Call[T], *, hold: bool = False, retry: bool = False
    ) -> T:
        """Send `call` once (`retry`: with the runner's own tries, for a request no loop of
        the engine repeats), after any pause a `Retry-After` asked for."""
        pause = backend.paused_until - self._loop.time()
        if pause > 0:
            await asyncio.sleep(self.deadline.cap(pause))
        try:
            if hold:
                result = await self._holder.run(backend.adapter, call, retry=False)
            else:
                async with backend.slots:
                    result = await self._runner.run(backend.adapter, call, retry=retry)
        except JobHubError as exc:
            if not (hold and exc.status_code == 408):  # an expired hold is no failure
                self._failed(backend, exc)
            raise
        if backend.warned:
            log.warning("%s backend %r answers again", backend.adapter.type, backend.name)
            backend.warned = False
        backend.unreadable = backend.failures = 0
        backend.last_error = None
        return result

    def _failed(self, backend: _Backend, exc: JobHubError) -> None:
        now = self._loop.time()
        backend.last_error = exc
        backend.failures += 1
        if backend.failures == 1:
            backend.failing_since = now
        if (
            not backend.warned
            and backend.failures >= FAILURES_WARNED
            and now - backend.failing_since >= FAILING_WARNED_AFTER
        ):
            backend.warned = True
            log.warning(
                "%s backend %r keeps failing (%d requests in a row over %.0f s), still trying: %s",
                backend.adapter.type,
                backend.name,
                backend.failures,
                now - backend.failing_since,
                excerpt(str(exc), 300),
            )

    def _retry_in(self, backend: _Backend, exc: Exception, backoff: Backoff) -> float:
        """Seconds to wait before trying again after `exc`; raises it when it is not transient."""
        if isinstance(exc, RateLimited):  # however long it asks (at most MAX_RETRY_AFTER_PAUSE)
            asked = exc.retry_after or 0.0
            backend.paused_until = max(backend.paused_until, self._loop.time() + asked)
            delay = pause_before_retry(exc, backoff)
        elif is_transient(exc):
            delay = pause_before_retry(exc, backoff)
        elif isinstance(exc, InvalidPayload) and backend.unreadable < MAX_UNREADABLE:
            backend.unreadable += 1
            delay = backoff.next()
        else:
            raise exc
        log.debug("%s: %s; trying again in %.2f s", backend.name, exc, delay)
        return delay

    async def _nap(self, seconds: float, poke: asyncio.Event | None = None) -> bool:
        """Sleep; True when woken early by `poke`."""
        if poke is None:
            await asyncio.sleep(seconds)
            return False
        if not poke.is_set():
            try:
                async with asyncio.timeout(seconds):
                    await poke.wait()
            except TimeoutError:
                return False
        poke.clear()
        return True

    # -- followers ------------------------------------------------------------------------------

    async def _poll(self, backend: _Backend, followed: _Followed, first_delay: float) -> None:
        """GET the job, pausing with backoff, until it ends."""
        backoff = backend.backoff()
        await self._looked(backend)
        delay = first_delay if followed.last is None else backoff.next()
        while not followed.ended:
            poked = await self._nap(delay, followed.poke)
            vouched = not poked and self._vouched(backend, followed)
            followed.checked = self._loop.time()
            if vouched:  # the listing follows it and wakes it when it moves
                delay = max(followed.fetch_by - followed.checked, backend.settings.poll_interval)
                continue
            delay = await self._get(backend, followed, backoff)
            if poked:  # a listing saw it move, or stopped covering it: start over
                delay = backoff.reset()

    def _vouched(self, backend: _Backend, followed: _Followed) -> bool:
        """A wait need not GET a job that a listing has seen unchanged since it last looked:
        the listing wakes it when the job moves, or when it stops covering the job."""
        if self.mode != "wait" or self._loop.time() >= followed.fetch_by:
            return False  # a listing is a hint: each job is still fetched every poll_max
        return backend.vouched.get(followed.key, -math.inf) > followed.checked

    async def _get(self, backend: _Backend, followed: _Followed, backoff: Backoff) -> float:
        """One GET; the pause to take before the next."""
        try:
            call = backend.adapter.expecting(
                followed.ref.id, backend.adapter.get_job(followed.ref.id)
            )
            job = await self._send(backend, call)
        except Exception as exc:
            followed.looked_once.set()
            return self._retry_in(backend, exc, backoff)
        return backoff.reset() if self._accept(followed, job) else backoff.next()

    async def _long_poll(self, backend: _Backend, followed: _Followed) -> None:
        """Hold `await_job` until the job ends, re-issuing it when the hold expires."""
        backoff = backend.backoff()
        await self._looked(backend)
        while self.mode == "wait" and followed.last is None:  # first sight, for WaitTimeout
            delay = await self._get(backend, followed, backoff)
            if followed.last is None:
                await asyncio.sleep(delay)
        backoff.reset()
        while not followed.ended:
            if backend.holds >= backend.max_holds:  # every hold taken: poll until one frees
                await asyncio.sleep(await self._get(backend, followed, backoff))
                continue
            delay = await self._hold(backend, followed, backoff)
            if delay:
                await asyncio.sleep(delay)

    async def _hold(self, backend: _Backend, followed: _Followed, backoff: Backoff) -> float:
        """One long-poll; the pause to take before the next (0: re-issue at once)."""
        known = followed.baseline.outputs if followed.baseline is not None else None
        offset = len(known) if self.mode == "watch" and isinstance(known, list) else 0
        asked = self._loop.time()
        backend.holds += 1
        try:
            call = backend.adapter.await_job(followed.ref.id, offset=offset)
            job = await self._send(
                backend, backend.adapter.expecting(followed.ref.id, call), hold=True
            )
        except BackendUnavailable as exc:
            held = self._loop.time() - asked
            if exc.status_code == 408 and held >= min(MIN_HOLD, backend.settings.poll_interval):
                return 0.0  # the hold expired: ask again
            return self._retry_in(backend, exc, backoff)
        except Exception as exc:
            return self._retry_in(backend, exc, backoff)
        finally:
            backend.holds -= 1
        if offset and isinstance(known, list) and isinstance(job.outputs, list):
            job = job.model_copy(update={"outputs": known[:offset] + job.outputs})
        self._accept(followed, job)
        return 0.0 if followed.ended else backoff.next()  # answered before the end: don't spin

    # -- per-backend loops ----------------------------------------------------------------------

    async def _refresh(self, backend: _Backend, *, discover: bool) -> None:
        """One `refresh_jobs` per cycle for every job on the backend. A refresh refused for
        its size (`AnswerTooLarge`) is not asked for again for `REFRESH_RETRY_AFTER` seconds:
        meanwhile each open job is fetched on its own, as a job the refresh does not show is."""
        backoff = backend.backoff(shared=True)
        delay = 0.0
        refresh_after = -math.inf  # loop time before which a too-large refresh is not asked again
        while discover or backend.open:
            await asyncio.sleep(delay)
            jobs: list[Job] = []
            try:
                if self._loop.time() >= refresh_after:
                    call = backend.adapter.refresh_jobs(wanted=self._wanted(backend, discover))
                    jobs = await self._send(backend, call)
                    if refresh_after > -math.inf:
                        log.warning(
                            "%s: the refresh fits again; one request per cycle", backend.name
                        )
                        refresh_after = -math.inf
            except AnswerTooLarge as exc:
                if refresh_after == -math.inf:
                    self._refresh_too_large(backend, exc, discover)
                refresh_after = self._loop.time() + REFRESH_RETRY_AFTER
            except Exception as exc:
                for key in backend.open:
                    self._followed[key].looked_once.set()
                delay = self._retry_in(backend, exc, backoff)
                continue
            changed = False
            listed: set[str] = set()
            for job in jobs:
                ref = self._listed(backend, job)
                listed.add(ref.id)
                followed = self._followed.get(str(ref))
                if discover and self._discovered(backend, ref):
                    followed = self._track(ref)
                if followed is not None:
                    changed = self._accept(followed, job) or changed
            missing = [
                self._followed[key]
                for key in backend.open
                if self._followed[key].ref.id not in listed
            ]
            if missing:  # not (or no longer) in the refresh: ask for each
                changed = await self._get_missing(backend, missing, backoff) or changed
            delay = backoff.reset() if changed else backoff.next()

    @staticmethod
    def _refresh_too_large(backend: _Backend, exc: AnswerTooLarge, discover: bool) -> None:
        found = " New jobs are not discovered meanwhile." if discover else ""
        log.warning(
            "%s backend %r: its batch refresh answer passed max_response_bytes (%d bytes); "
            "fetching each of the %d open jobs on its own instead, and trying the refresh "
            "again every %g s.%s To refresh in one request again, raise max_response_bytes "
            "or let the server hold fewer jobs (prunner: retention_count, retention_period).",
            backend.adapter.type,
            backend.name,
            exc.limit,
            len(backend.open),
            REFRESH_RETRY_AFTER,
            found,
        )

    def _wanted(self, backend: _Backend, discover: bool) -> Callable[[str], bool]:
        """The jobs of a refresh worth reading, by id: those followed and open; when
        discovering, every one not already seen to end."""
        if not discover:
            return {self._followed[key].ref.id for key in backend.open}.__contains__
        finished = backend.finished
        return lambda job_id: job_id not in finished

    async def _get_missing(
        self, backend: _Backend, missing: list[_Followed], backoff: Backoff
    ) -> bool:
        async def one(followed: _Followed) -> bool:
            was = followed.last
            try:
                await self._get(backend, followed, backend.backoff())
            except JobNotFound:
                if followed.requested:
                    raise
                self._finish(followed)  # a discovered job deleted by retention: stop following
            return followed.last is not was

        results = await asyncio.gather(*(one(f) for f in missing))
        return any(results)

    async def _listing(self, backend: _Backend, *, discover: bool) -> None:
        """List the backend (watching it) or each shared workflow (helping waits), per cycle."""
        backoff = backend.backoff(shared=True)
        delay = 0.0 if discover else backoff.next()
        while discover or backend.open:
            await asyncio.sleep(delay)
            workflows: list[str | None] = [None] if discover else [*self._shared_workflows(backend)]
            if not workflows:  # not yet (jobs not seen yet) or not any more
                delay = backend.settings.poll_interval
                continue
            results = await asyncio.gather(
                *(self._list(backend, workflow) for workflow in workflows),
                return_exceptions=True,
            )
            changed = False
            delay = 0.0
            for workflow, result in zip(workflows, results, strict=True):
                if isinstance(result, BaseException):
                    delay = max(delay, self._listing_failed(backend, workflow, result, backoff))
                else:
                    changed = self._apply_listing(backend, result, discover) or changed
            if not delay:
                delay = backoff.reset() if changed else backoff.next()

    def _shared_workflows(self, backend: _Backend) -> list[str]:
        """Workflows worth listing: from `LIST_MIN_JOBS` open jobs on, and then for as long as
        any of their jobs is open."""
        counts: dict[str, int] = {}
        for key in backend.open:
            last = self._followed[key].last
            if last is not None and last.workflow and last.workflow not in backend.unlisted:
                counts[last.workflow] = counts.get(last.workflow, 0) + 1
        backend.listed = {
            workflow
            for workflow, count in counts.items()
            if count >= LIST_MIN_JOBS or workflow in backend.listed
        }
        return sorted(backend.listed)

    def _wake_workflow(self, backend: _Backend, workflow: str) -> None:
        """A workflow's listing stops: its jobs' followers look for themselves again."""
        backend.listed.discard(workflow)
        for key in backend.open:
            followed = self._followed[key]
            if followed.last is not None and followed.last.workflow == workflow:
                followed.poke.set()

    def _listing_failed(
        self, backend: _Backend, workflow: str | None, exc: BaseException, backoff: Backoff
    ) -> float:
        if not isinstance(exc, Exception):
            raise exc
        if workflow is None:  # the watched backend's own listing: its errors are the caller's
            return self._retry_in(backend, exc, backoff)
        try:
            return self._retry_in(backend, exc, backoff)
        except JobHubError:
            # Only a hint for waits: without it each job is fetched on its own.
            log.debug("%s: not listing workflow %r any more: %s", backend.name, workflow, exc)
            backend.unlisted.add(workflow)
            self._wake_workflow(backend, workflow)
            return backoff.next()

    async def _list(
        self, backend: _Backend, workflow: str | None, *, max_pages: int = 0
    ) -> list[Job]:
        """Jobs of a listing: up to `LIST_MAX_JOBS` of them, `max_pages` (or `LIST_MAX_PAGES`)
        pages at most."""
        jobs: list[Job] = []
        call: Call[Any] | None = backend.adapter.list_jobs(workflow=workflow)
        pages = 0
        max_pages = min(max_pages or LIST_MAX_PAGES, LIST_MAX_PAGES)
        while call is not None and pages < max_pages and len(jobs) < LIST_MAX_JOBS:
            page = await self._send(backend, call)
            jobs.extend(page.jobs)
            call = page.next
            pages += 1
        return jobs

    def _apply_listing(self, backend: _Backend, jobs: list[Job], discover: bool) -> bool:
        """Discover new jobs (watching a backend); wake followers whose job moved."""
        changed = False
        now = self._loop.time()
        for job in jobs:
            ref = self._listed(backend, job)
            key = str(ref)
            followed = self._followed.get(key)
            if followed is None:
                if discover and self._discovered(backend, ref):
                    followed = self._track(ref)
                    self._accept(followed, job)
                    changed = True
                    if not followed.ended:
                        self._start(followed, first_delay=backend.settings.poll_interval)
                continue
            if followed.ended or followed.last is None:
                continue
            last = followed.last
            if self.mode == "watch":
                moved = job.state is not last.state or (
                    job.progress is not None and job.progress != last.progress
                )
            else:
                moved = job.state is not last.state
                if moved and not job.state.terminal:
                    # A wait only needs the end in full; a move before it is noted as listed.
                    self._accept(followed, job, full=False)
                    backend.vouched[key] = now
                    changed = True
                    continue
            if moved:
                followed.poke.set()
                changed = True
            else:
                backend.vouched[key] = now
        return changed
