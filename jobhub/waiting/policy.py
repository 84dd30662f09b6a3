"""The engine's policy, in one place: when a followed job is fetched, which backoff spaces
its polls, what a fault means (try again after how long, or give up), when a failing backend
is warned about, and the `Retry-After` pause. Pure but for the state it updates: the loop time
is given, and the strategies ask here rather than deciding for themselves.
"""

from __future__ import annotations

import logging
import random

from jobhub.backend import excerpt
from jobhub.config import BackendSettings
from jobhub.errors import InvalidPayload, JobHubError, RateLimited
from jobhub.retry import is_transient, pause_before_retry
from jobhub.waiting.schedule import GROWTH, SHARED_GROWTH, Backoff
from jobhub.waiting.state import BackendState, FollowedJob

__all__ = [
    "FAILING_WARNED_AFTER",
    "FAILURES_WARNED",
    "MAX_UNREADABLE",
    "MIN_HOLD",
    "answered",
    "backoff",
    "failed",
    "hold_expired",
    "listed_unchanged",
    "listing_vouches",
    "longest_pause",
    "retry_in",
]

log = logging.getLogger("jobhub.waiting")

MAX_UNREADABLE = 5  # unreadable answers in a row from one backend before giving up
FIRST_SPREAD = 0.5  # a job's first fetch_by is this much of poll_max after first sight, or more
MIN_HOLD = 1.0  # a 408 sooner than this (or poll_interval) is not a real hold: back off first
# A backend is warned about (once, until it answers again) after this many failed requests
# in a row spanning at least this many seconds: a few faults among answers are no news.
FAILURES_WARNED = 3
FAILING_WARNED_AFTER = 10.0


# -- when to poll -------------------------------------------------------------------------------


def backoff(settings: BackendSettings, *, shared: bool = False) -> Backoff:
    """Pauses for one job's polls, or (`shared`) for a refresh or listing serving many."""
    growth = SHARED_GROWTH if shared else GROWTH
    return Backoff(settings.poll_interval, settings.poll_max, growth=growth)


def longest_pause(settings: BackendSettings) -> float:
    """The longest a followed job goes without being fetched on its own (`poll_max`)."""
    return max(settings.poll_interval, settings.poll_max)


def first_fetch_by(settings: BackendSettings, now: float) -> float:
    """When a job first seen `now` must first be fetched on its own. Jobs followed together
    are first seen together, so the time is drawn from the later half of `poll_max`: their
    routine fetches come spread over it, not all in the same second `poll_max` after the start."""
    return now + longest_pause(settings) * random.uniform(FIRST_SPREAD, 1.0)


def listing_vouches(backend: BackendState, followed: FollowedJob, now: float) -> bool:
    """A wait need not GET a job that a listing has shown unchanged since its follower last
    looked: the listing wakes it when the job moves, or when it stops covering the job. A
    listing is only a hint: past `fetch_by` (`poll_max` after the last full view) the job is
    fetched whatever the listing says."""
    return now < followed.fetch_by and listed_unchanged(backend, followed)


def listed_unchanged(backend: BackendState, followed: FollowedJob) -> bool:
    """Whether a listing has shown the job unchanged since its follower last looked."""
    return backend.listing_confirmed_at.get(followed.key, -float("inf")) > followed.checked_at


def hold_expired(exc: JobHubError, held: float, settings: BackendSettings) -> bool:
    """A 408 after a real hold means "nothing yet, ask again"; a quick one is a fault."""
    return exc.status_code == 408 and held >= min(MIN_HOLD, settings.poll_interval)


# -- faults -------------------------------------------------------------------------------------


def retry_in(backend: BackendState, exc: Exception, backoff: Backoff, now: float) -> float:
    """Seconds to wait before trying again after `exc`; raises it when it is not transient.
    A `RateLimited` pauses every request to the backend for as long as it asks (at most
    `MAX_RETRY_AFTER_PAUSE`, see `jobhub.times`)."""
    if isinstance(exc, RateLimited):
        asked = exc.retry_after or 0.0
        backend.paused_until = max(backend.paused_until, now + asked)
        delay = pause_before_retry(exc, backoff)
    elif is_transient(exc):
        delay = pause_before_retry(exc, backoff)
    elif isinstance(exc, InvalidPayload) and backend.unreadable_in_a_row < MAX_UNREADABLE:
        backend.unreadable_in_a_row += 1
        delay = backoff.next()
    else:
        raise exc
    log.debug("%s: %s; trying again in %.2f s", backend.name, exc, delay)
    return delay


def failed(backend: BackendState, exc: JobHubError, now: float) -> None:
    """A request to the backend failed: remember the error, and warn once when it keeps
    failing (`FAILURES_WARNED` in a row over `FAILING_WARNED_AFTER` seconds)."""
    backend.last_error = exc
    backend.failures_in_a_row += 1
    if backend.failures_in_a_row == 1:
        backend.failing_since = now
    if (
        not backend.warned_failing
        and backend.failures_in_a_row >= FAILURES_WARNED
        and now - backend.failing_since >= FAILING_WARNED_AFTER
    ):
        backend.warned_failing = True
        log.warning(
            "%s backend %r keeps failing (%d requests in a row over %.0f s), still trying: %s",
            backend.adapter.type,
            backend.name,
            backend.failures_in_a_row,
            now - backend.failing_since,
            excerpt(str(exc), 300),
        )


def answered(backend: BackendState) -> None:
    """A request to the backend was answered: its faults are over (and said to be)."""
    if backend.warned_failing:
        log.warning("%s backend %r answers again", backend.adapter.type, backend.name)
        backend.warned_failing = False
    backend.unreadable_in_a_row = backend.failures_in_a_row = 0
    backend.last_error = None
