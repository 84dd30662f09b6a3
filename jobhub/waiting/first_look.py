"""The first look: waiting for several jobs of one backend, a single listing of it can give
the first view of many of them instead of one GET each. Not for batch-refresh backends, whose
refresh already does that. Followers on the backend wait for it (`BackendState.first_look`)
and then fetch what it did not show.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from jobhub.backend import Call, Capability
from jobhub.errors import JobHubError
from jobhub.model import Job
from jobhub.waiting.polling import LIST_MAX_PAGES, take_listed
from jobhub.waiting.state import BackendState, FollowedJob

if TYPE_CHECKING:
    from jobhub.waiting.engine import Engine

__all__ = ["FIRST_LOOK_MIN", "FIRST_LOOK_TIMEOUT", "plan_first_looks"]

log = logging.getLogger("jobhub.waiting")

FIRST_LOOK_MIN = 4  # waiting for this many jobs of a backend, list it once for a first view
FIRST_LOOK_TIMEOUT = 5.0  # seconds that first listing may take before each job is fetched


def plan_first_looks(engine: Engine, fresh: list[FollowedJob]) -> None:
    """Start a first look on each backend holding `FIRST_LOOK_MIN` of the `fresh` jobs."""
    by_backend: dict[str, list[FollowedJob]] = {}
    for followed in fresh:
        by_backend.setdefault(followed.ref.backend, []).append(followed)
    for name, group in by_backend.items():
        backend = engine.backend(name)
        if len(group) >= FIRST_LOOK_MIN and Capability.BATCH_REFRESH not in backend.capabilities:
            backend.first_look_done = asyncio.Event()
            engine.spawn(_first_look(engine, backend, len(group)))


async def _first_look(engine: Engine, backend: BackendState, count: int) -> None:
    assert backend.first_look_done is not None
    jobs: list[Job] = []
    try:
        try:
            # Never spend more requests on the listing than half the GETs it may save, nor
            # hold the jobs' followers back long; what was read by then is used.
            async with asyncio.timeout(FIRST_LOOK_TIMEOUT):
                await _read(engine, backend, jobs, max_pages=max(1, count // 2))
        except (TimeoutError, JobHubError) as exc:
            why = str(exc) or "no answer in time"
            log.debug("%s: first look cut short at %d jobs (%s)", backend.name, len(jobs), why)
        now = engine.now()
        for job in jobs:
            followed = engine.followed.get(str(backend.ref_of(job)))
            if followed is not None and followed.last_view is None:
                take_listed(engine, backend, followed, job, now, fetch_moves=False)
    finally:
        backend.first_look_done.set()  # each follower now gets what the listing did not show


async def _read(engine: Engine, backend: BackendState, jobs: list[Job], *, max_pages: int) -> None:
    """The backend's listing into `jobs`, page by page (at most `LIST_MAX_PAGES`), until every
    job waiting for its first view was shown."""
    call: Call[Any] | None = backend.adapter.list_jobs()
    unseen = {
        followed.ref.id
        for key in backend.open
        if (followed := engine.followed[key]).last_view is None
    }
    pages = 0
    while call is not None and unseen and pages < min(max_pages, LIST_MAX_PAGES):
        page = await engine.send(backend, call)
        jobs.extend(page.jobs)
        unseen.difference_update(backend.ref_of(job).id for job in page.jobs)
        call = page.next
        pages += 1
