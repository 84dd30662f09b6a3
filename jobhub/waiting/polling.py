"""Following jobs by polling, helped by listings: each job is fetched (GET) with its own
backoff, at most `concurrency` requests at once per backend.

When two or more followed jobs share a workflow, the workflow's listing
(`list_jobs(workflow=)`) is fetched once per cycle as a cheap change detector: a job whose
listed state (or, for a watch, progress) moved is fetched at once; a job listed unchanged is
fetched only once per `poll_max` (`policy.listing_vouches`). Listings are only a hint: a
lagging listing cannot hold a job back longer than that, a job a listing does not show is
fetched as usual, and a listing that fails for good is no longer asked for.

Watching a whole backend without batch refresh, its listing is read each cycle to discover
new jobs; each then gets a follower of its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from jobhub.backend import Call
from jobhub.errors import JobHubError
from jobhub.model import Job
from jobhub.waiting import policy
from jobhub.waiting.flag import Flag
from jobhub.waiting.schedule import Backoff
from jobhub.waiting.state import BackendState, FollowedJob

if TYPE_CHECKING:
    from jobhub.waiting.engine import Engine

__all__ = [
    "LIST_MAX_JOBS",
    "LIST_MAX_PAGES",
    "LIST_MIN_JOBS",
    "apply_listing",
    "list_jobs",
    "listing",
    "poll",
    "poll_once",
    "sleep_or_wake",
    "take_listed",
]

log = logging.getLogger("jobhub.waiting")

LIST_MIN_JOBS = 2  # a workflow's listing is worth it from this many followed jobs
LIST_MAX_JOBS = 1000  # a listing is read up to this many jobs ...
LIST_MAX_PAGES = 50  # ... or this many pages per cycle


# -- one job's follower -------------------------------------------------------------------------


async def poll(
    engine: Engine, backend: BackendState, followed: FollowedJob, first_delay: float
) -> None:
    """GET the job, pausing with backoff, until it ends."""
    backoff = policy.backoff(backend.settings)
    await backend.first_look()
    delay = first_delay if followed.last_view is None else backoff.next()
    while not followed.ended:
        woken = await sleep_or_wake(delay, followed.wake)
        delay = await poll_once(engine, backend, followed, backoff, woken=woken)


async def poll_once(
    engine: Engine, backend: BackendState, followed: FollowedJob, backoff: Backoff, *, woken: bool
) -> float:
    """One turn of a follower's loop (`woken`: a listing saw the job move, or stopped covering
    it): its GET, unless a listing vouches for the job; the pause before the next turn."""
    now = engine.now()
    listed = not woken and engine.mode == "wait" and policy.listed_unchanged(backend, followed)
    followed.checked_at = now
    if listed and now < followed.fetch_by:  # the listing wakes it when it moves
        return max(followed.fetch_by - now, backend.settings.poll_interval)
    # A job the listing shows unchanged is fetched only as the `poll_max` backstop.
    delay = await engine.get(backend, followed, backoff, woken=woken, backstop=listed)
    return backoff.reset() if woken else delay  # woken: start over


async def sleep_or_wake(seconds: float, wake: Flag) -> bool:
    """Sleep; True (and `wake` cleared) when woken early."""
    if not wake.is_set():
        try:
            async with asyncio.timeout(seconds):
                await wake.wait()
        except TimeoutError:
            return False
    wake.clear()
    return True


# -- the listing loop ---------------------------------------------------------------------------


async def listing(engine: Engine, backend: BackendState, *, discover: bool) -> None:
    """List the backend (watching it) or each shared workflow (helping waits), per cycle."""
    backoff = policy.backoff(backend.settings, shared=True)
    delay = 0.0 if discover else backoff.next()
    while discover or backend.open:
        await asyncio.sleep(delay)
        workflows: list[str | None] = [None] if discover else [*_shared_workflows(engine, backend)]
        if not workflows:  # not yet (jobs not seen yet) or not any more
            delay = backend.settings.poll_interval
            continue
        results = await asyncio.gather(
            *(list_jobs(engine, backend, workflow) for workflow in workflows),
            return_exceptions=True,
        )
        changed = False
        delay = 0.0
        for workflow, result in zip(workflows, results, strict=True):
            if isinstance(result, BaseException):
                delay = max(delay, _listing_failed(engine, backend, workflow, result, backoff))
            else:
                changed = apply_listing(engine, backend, result, discover) or changed
        if not delay:
            delay = backoff.reset() if changed else backoff.next()


async def list_jobs(engine: Engine, backend: BackendState, workflow: str | None) -> list[Job]:
    """Jobs of a listing: up to `LIST_MAX_JOBS` of them, `LIST_MAX_PAGES` pages at most."""
    jobs: list[Job] = []
    call: Call[Any] | None = backend.adapter.list_jobs(workflow=workflow)
    pages = 0
    while call is not None and pages < LIST_MAX_PAGES and len(jobs) < LIST_MAX_JOBS:
        page = await engine.send(backend, call)
        jobs.extend(page.jobs)
        call = page.next
        pages += 1
    return jobs


def _shared_workflows(engine: Engine, backend: BackendState) -> list[str]:
    """Workflows worth listing: from `LIST_MIN_JOBS` open jobs on, and then for as long as
    any of their jobs is open."""
    counts: dict[str, int] = {}
    for key in backend.open:
        last = engine.followed[key].last_view
        if last is not None and last.workflow and last.workflow not in backend.unlistable:
            counts[last.workflow] = counts.get(last.workflow, 0) + 1
    backend.listed_workflows = {
        workflow
        for workflow, count in counts.items()
        if count >= LIST_MIN_JOBS or workflow in backend.listed_workflows
    }
    return sorted(backend.listed_workflows)


def _stop_listing(engine: Engine, backend: BackendState, workflow: str) -> None:
    """A workflow's listing stops: its jobs' followers look for themselves again."""
    backend.listed_workflows.discard(workflow)
    for key in backend.open:
        followed = engine.followed[key]
        if followed.last_view is not None and followed.last_view.workflow == workflow:
            followed.wake.set()


def _listing_failed(
    engine: Engine,
    backend: BackendState,
    workflow: str | None,
    exc: BaseException,
    backoff: Backoff,
) -> float:
    if not isinstance(exc, Exception):
        raise exc
    if workflow is None:  # the watched backend's own listing: its errors are the caller's
        return policy.retry_in(backend, exc, backoff, engine.now())
    try:
        return policy.retry_in(backend, exc, backoff, engine.now())
    except JobHubError:
        # Only a hint for waits: without it each job is fetched on its own.
        log.debug("%s: not listing workflow %r any more: %s", backend.name, workflow, exc)
        backend.unlistable.add(workflow)
        _stop_listing(engine, backend, workflow)
        return backoff.next()


def apply_listing(engine: Engine, backend: BackendState, jobs: list[Job], discover: bool) -> bool:
    """Discover new jobs (watching a backend); wake followers whose job moved."""
    changed = False
    now = engine.now()
    watching = engine.mode == "watch"
    for job in jobs:
        ref = backend.ref_of(job)
        key = str(ref)
        followed = engine.followed.get(key)
        if followed is None:
            if discover and engine.is_new(backend, ref):
                followed = engine.track(ref)
                engine.accept(followed, job)
                changed = True
                if not followed.ended:
                    engine.start(followed, first_delay=backend.settings.poll_interval)
            continue
        if followed.ended or followed.last_view is None:
            continue
        last = followed.last_view
        if watching:
            moved = job.state is not last.state or (
                job.progress is not None and job.progress != last.progress
            )
        else:
            moved = job.state is not last.state
        # A move is fetched in full by a watch, an end by a wait; neither when listed whole.
        if moved and take_listed(engine, backend, followed, job, now, fetch_moves=watching):
            changed = True
            continue
        if moved:
            followed.wake.set()
            changed = True
        else:
            backend.listing_confirmed_at[key] = now
    return changed


def take_listed(
    engine: Engine,
    backend: BackendState,
    followed: FollowedJob,
    job: Job,
    now: float,
    *,
    fetch_moves: bool,
) -> bool:
    """Take a listing's view of a followed job when that view is enough: always when the
    backend lists jobs whole (`Adapter.lists_whole_jobs`); else (a listing may show a summary)
    only before its end, and not when every move is to be fetched in full (`fetch_moves`).
    True when taken; else its follower is to fetch it."""
    whole = backend.adapter.lists_whole_jobs
    if not whole and (fetch_moves or job.state.terminal):
        return False
    engine.accept(followed, job, full=whole)
    if not followed.ended:  # an end leaves nothing to confirm (`Engine.finish` forgot it)
        backend.listing_confirmed_at[followed.key] = now
    return True
