"""Following a backend's jobs by batch refresh (`Capability.BATCH_REFRESH`): one
`refresh_jobs` call per cycle serves every followed job on the backend (and, watching it,
discovers new ones). A followed job the refresh does not show is fetched on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobhub.errors import JobNotFound
from jobhub.waiting import policy
from jobhub.waiting.state import BackendState, FollowedJob

if TYPE_CHECKING:
    from jobhub.waiting.engine import Engine

__all__ = ["refresh"]


async def refresh(engine: Engine, backend: BackendState, *, discover: bool) -> None:
    """One `refresh_jobs` per cycle for every job on the backend."""
    backoff = policy.backoff(backend.settings, shared=True)
    delay = 0.0
    while discover or backend.open:
        await asyncio.sleep(delay)
        try:
            call = backend.adapter.refresh_jobs(wanted=_wanted(engine, backend, discover))
            jobs = await engine.send(backend, call)
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


def _wanted(engine: Engine, backend: BackendState, discover: bool) -> Callable[[str], bool]:
    """The jobs of a refresh worth reading, by id: those followed and open; when
    discovering, every one not already seen to end."""
    if not discover:
        return {engine.followed[key].ref.id for key in backend.open}.__contains__
    ended_ids = backend.ended_ids
    return lambda job_id: job_id not in ended_ids


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
        return followed.last_view is not was

    results = await asyncio.gather(*(one(f) for f in missing))
    return any(results)
