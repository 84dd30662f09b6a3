"""The listing of open jobs: the change detector for jobs beyond a backend's held long-polls.

Jobs waiting for a hold (`BackendState.unheld`) would each be fetched with GETs. Instead,
once per cycle, the backend is listed by state (`list_jobs(state=...)`, one listing for each
open state those jobs were last seen in), newest first, page after page until the listing
reaches jobs created before the oldest of them. Read against that:

- a job listed in the state it was last seen in is unchanged: its follower is spared its GET
  until `fetch_by` (`policy.listing_vouches`: still fetched on its own every `poll_max`);
- a job listed in another state moved: noted as listed (a wait) or woken (a watch);
- a job the listing covers (created after the last job it read) but does not show has left
  the open states, most likely ended: its follower is woken to fetch it now.

A listing is only a hint: one that lags holds a job back no longer than `poll_max`, a job it
does not reach is fetched as usual, and a listing that fails for good is no longer asked for
(each job is then fetched on its own). The order is not trusted either: a listing that is not
newest first only costs the GETs of jobs it seemed not to show.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobhub.backend import Call
from jobhub.errors import JobHubError
from jobhub.model import Job, JobState
from jobhub.waiting import policy
from jobhub.waiting.polling import LIST_MAX_PAGES, apply_listing
from jobhub.waiting.state import BackendState

if TYPE_CHECKING:
    from jobhub.waiting.engine import Engine

__all__ = ["open_listing"]

log = logging.getLogger("jobhub.waiting")


@dataclass(slots=True)
class _Listed:
    """One state's listing as far as it was read."""

    jobs: list[Job]
    complete: bool  # every page was read
    reached: datetime | None  # else: the creation time of the last job read


async def open_listing(engine: Engine, backend: BackendState) -> None:
    """List the open jobs once per cycle while any followed job waits for a hold."""
    backoff = policy.backoff(backend.settings, shared=True)
    delay = 0.0
    while backend.unheld:
        await asyncio.sleep(delay)
        # Each job waiting for a hold, as last seen (a view may change while the listing runs).
        unheld = {
            followed: followed.last_view
            for key in backend.unheld
            if (followed := engine.followed.get(key)) is not None
            and followed.last_view is not None
            and not followed.ended
        }
        states = sorted({view.state for view in unheld.values() if view is not None})
        if not states:  # not seen yet
            delay = backend.settings.poll_interval
            continue
        created = [view.created_at for view in unheld.values() if view is not None]
        oldest = min((at for at in created if at is not None), default=None)
        try:
            listings = await asyncio.gather(*(_list(engine, backend, s, oldest) for s in states))
        except Exception as exc:
            try:
                delay = policy.retry_in(backend, exc, backoff, engine.now())
            except JobHubError:
                log.debug("%s: not listing its open jobs any more: %s", backend.name, exc)
                backend.lists_open_jobs = False
                for followed in unheld:
                    followed.wake.set()  # each is fetched on its own from now on
                return
            continue
        by_state = dict(zip(states, listings, strict=True))
        jobs = [job for listed in listings for job in listed.jobs]
        changed = apply_listing(engine, backend, jobs, discover=False)
        shown = {str(backend.ref_of(job)) for job in jobs}
        for followed, view in unheld.items():
            if followed.ended or followed.last_view is not view or followed.key in shown:
                continue  # ended, or seen anew meanwhile: the listing may predate that view
            if view is not None and _covers(by_state[view.state], view):
                followed.wake.set()  # out of the open states: most likely ended
                changed = True
        delay = backoff.reset() if changed else backoff.next()


def _covers(listed: _Listed, view: Job) -> bool:
    """Whether the listing of the state the job was last seen in reached it."""
    if listed.complete:
        return True
    created = view.created_at
    return created is not None and listed.reached is not None and created >= listed.reached


async def _list(
    engine: Engine, backend: BackendState, state: JobState, oldest: datetime | None
) -> _Listed:
    """The open jobs in `state`, newest first, down to those created before `oldest` (or
    `LIST_MAX_PAGES` pages)."""
    jobs: list[Job] = []
    call: Call[Any] | None = backend.adapter.list_jobs(state=state)
    pages = 0
    reached: datetime | None = None
    while call is not None and pages < LIST_MAX_PAGES:
        page = await engine.send(backend, call)
        jobs.extend(page.jobs)
        call = page.next
        pages += 1
        reached = page.jobs[-1].created_at if page.jobs else reached
        if oldest is not None and reached is not None and reached < oldest:
            break  # the rest were created before any job followed here
    return _Listed(jobs, complete=call is None, reached=reached)
