"""Following a backend's jobs by batch refresh (`Capability.BATCH_REFRESH`): one
`refresh_jobs` call per cycle serves every followed job on the backend (and, watching it,
discovers new ones). A followed job the refresh does not show is fetched on its own.

A refresh refused for its size (`AnswerTooLarge`: prunner's `/pipelines/jobs` holds every job
the server remembers) is not asked for again for `REFRESH_RETRY_AFTER` seconds: meanwhile every
open job is fetched on its own, the way a job the refresh does not show is, and a warning says
so once. Reading the whole answer and keeping the followed jobs instead would cost, per cycle,
what parsing the whole answer costs (`python -m benchmarks scale -- --parts cap`).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

from jobhub.backend import Wanted
from jobhub.errors import AnswerTooLarge, JobNotFound
from jobhub.model import Job
from jobhub.waiting import policy
from jobhub.waiting.state import BackendState, FollowedJob

if TYPE_CHECKING:
    from jobhub.waiting.engine import Engine

__all__ = ["REFRESH_RETRY_AFTER", "refresh"]

log = logging.getLogger("jobhub.waiting")

# A refresh refused for its size is tried again this often (seconds). Each try may read up to
# max_response_bytes before it is refused (128 MiB, seconds of CPU, for prunner), and the answer
# shrinks only as the server's retention removes jobs, so not every cycle.
REFRESH_RETRY_AFTER = 300.0


async def refresh(engine: Engine, backend: BackendState, *, discover: bool) -> None:
    """One `refresh_jobs` per cycle for every job on the backend."""
    backoff = policy.backoff(backend.settings, shared=True)
    delay = 0.0
    refresh_after = -math.inf  # loop time before which a too-large refresh is not asked again
    while discover or backend.open:
        await asyncio.sleep(delay)
        jobs: list[Job] = []
        try:
            if engine.now() >= refresh_after:
                call = backend.adapter.refresh_jobs(wanted=_wanted(engine, backend, discover))
                jobs = await engine.send(backend, call)
                if refresh_after > -math.inf:
                    log.warning("%s: the refresh fits again; one request per cycle", backend.name)
                    refresh_after = -math.inf
        except AnswerTooLarge as exc:
            if refresh_after == -math.inf:
                _warn_too_large(backend, exc, discover)
            refresh_after = engine.now() + REFRESH_RETRY_AFTER
        except Exception as exc:
            for key in backend.open:
                engine.followed[key].first_request_done.set()
            delay = policy.retry_in(backend, exc, backoff, engine.now())
            continue
        changed = False
        shown: set[str] = set()
        for job in jobs:
            ref = backend.ref_of(job)
            shown.add(ref.id)
            followed = engine.followed.get(str(ref))
            if discover and engine.is_new(backend, ref):
                followed = engine.track(ref)
            if followed is not None:
                changed = engine.accept(followed, job) or changed
        missing = [
            engine.followed[key] for key in backend.open if engine.followed[key].ref.id not in shown
        ]
        if missing:  # not (or no longer) in the refresh: ask for each
            changed = await _get_missing(engine, backend, missing) or changed
        delay = backoff.reset() if changed else backoff.next()


def _warn_too_large(backend: BackendState, exc: AnswerTooLarge, discover: bool) -> None:
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


def _wanted(engine: Engine, backend: BackendState, discover: bool) -> Wanted:
    """The jobs of a refresh worth reading, by id: those followed and open, with the last view
    of each (a job that did not move is not read again); when discovering, every one not
    already seen to end."""
    views: dict[str, Job] = {}
    unseen: set[str] = set()  # followed, not seen yet: wanted, with no view to compare
    for key in backend.open:
        followed = engine.followed[key]
        if followed.last_view is None:
            unseen.add(followed.ref.id)
        else:
            views[followed.ref.id] = followed.last_view
    if discover:
        ended_ids = backend.ended_ids
        return Wanted(views, lambda job_id: job_id not in ended_ids)
    return Wanted(views, unseen.__contains__ if unseen else None)


async def _get_missing(engine: Engine, backend: BackendState, missing: list[FollowedJob]) -> bool:
    """GET each followed job a refresh did not show; True when any of them changed."""

    async def one(followed: FollowedJob) -> bool:
        was = followed.last_view
        try:
            await engine.get(backend, followed, policy.backoff(backend.settings))
        except JobNotFound:
            if followed.requested:
                raise
            engine.finish(followed)  # a discovered job deleted by retention: stop following
        return followed.ended or followed.last_view is not was

    results = await asyncio.gather(*(one(f) for f in missing))
    return any(results)
