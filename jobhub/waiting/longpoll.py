"""Following a job by long-poll (`Capability.LONG_POLL`): one held `await_job` per job; the
server answers when the job ends, and a 408 (the hold expired) is re-issued at once, unless a
job waits for a hold: then the hold goes to it and the job whose hold expired waits in turn.

A wait looks at each job once first (a GET), so a `WaitTimeout` can say what the job was
doing. A watch also GETs the job between answers (`polling.poll`), because a long-poll says
nothing until the end; the long-poll then asks only for outputs past those already seen
(`offset`) and the view is completed from what was seen. Held long-polls use a pool of their
own (`HoldingRunner`, at most `long_polls` per backend), so they never take the connections
GETs need. A job beyond that many waits for a hold in turn; meanwhile it is polled with GETs,
and the listing of the backend's open jobs (`open_listing`) tells which of those jobs moved,
so (for a wait) a job it shows unchanged is fetched only once per `poll_max`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx

from jobhub.backend import Adapter
from jobhub.config import BackendSettings
from jobhub.errors import BackendUnavailable
from jobhub.http import AsyncRunner
from jobhub.waiting import policy
from jobhub.waiting.polling import poll_once, sleep_or_wake
from jobhub.waiting.schedule import Backoff
from jobhub.waiting.state import BackendState, FollowedJob

if TYPE_CHECKING:
    from jobhub.waiting.engine import Engine

__all__ = ["MAX_HOLDS", "HoldingRunner", "long_poll", "max_holds"]

# Held long-polls per backend by default (each keeps a connection open): the `long_polls` setting.
MAX_HOLDS: int = BackendSettings.model_fields["long_polls"].default


def max_holds(adapter: Adapter) -> int:
    """Long-polls held at once on the backend (each keeps a connection open)."""
    return adapter.settings.long_polls


class HoldingRunner(AsyncRunner):
    """An `AsyncRunner` whose per-backend pool has room for every held long-poll, kept apart
    from the pool GETs use so that holds never starve them."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(transport, connections=max_holds)


async def long_poll(engine: Engine, backend: BackendState, followed: FollowedJob) -> None:
    """Hold `await_job` until the job ends, re-issuing it when the hold expires."""
    backoff = policy.backoff(backend.settings)
    await backend.first_look()
    # First sight, for WaitTimeout (or the end: an ended job's views are let go).
    while engine.mode == "wait" and followed.last_view is None and not followed.ended:
        delay = await engine.get(backend, followed, backoff)
        if followed.last_view is None and not followed.ended:
            await asyncio.sleep(delay)
    backoff.reset()
    while not followed.ended:
        if backend.holds_in_use >= backend.max_holds:
            await _until_a_hold_frees(engine, backend, followed, backoff)
            continue
        pause = await _hold(engine, backend, followed, backoff)
        if pause is None:  # the hold expired and went to the job first in line for one
            await _until_a_hold_frees(engine, backend, followed, backoff)
        elif pause:
            await asyncio.sleep(pause)


async def _until_a_hold_frees(
    engine: Engine, backend: BackendState, followed: FollowedJob, backoff: Backoff
) -> None:
    """Every hold is taken: wait for one in turn (first come, first served). Meanwhile a
    wait polls the job as a backend without long-poll is polled, helped by the listing of open
    jobs (`open_listing`); a watch already polls it alongside."""
    turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    backend.hold_queue.append(turn)
    backend.unheld.add(followed.key)
    engine.list_open_jobs(backend)
    try:
        if engine.mode == "watch":
            await turn
            return
        turn.add_done_callback(lambda _: followed.wake.set())
        delay = backoff.next() if followed.last_view is not None else 0.0
        while not followed.ended and not turn.done():
            woken = await sleep_or_wake(delay, followed.wake)
            if turn.done():
                return
            delay = await poll_once(engine, backend, followed, backoff, woken=woken)
    finally:
        backend.unheld.discard(followed.key)
        turn.cancel()  # no-op once given; else out of the queue


def _release_hold(backend: BackendState) -> bool:
    """A hold ended: hand it to the first follower waiting for one; True when one was."""
    backend.holds_in_use -= 1
    while backend.hold_queue:
        turn = backend.hold_queue.popleft()
        if not turn.done():
            turn.set_result(None)
            return True
    return False


async def _hold(
    engine: Engine, backend: BackendState, followed: FollowedJob, backoff: Backoff
) -> float | None:
    """One long-poll; the pause to take before the next (0: re-issue at once), or None when
    the hold expired and was handed to a job waiting for one: this job then waits in turn,
    so that with more jobs than holds each is held for a while, not the first ones forever."""
    known = followed.reported.outputs if followed.reported is not None else None
    offset = len(known) if engine.mode == "watch" and isinstance(known, list) else 0
    asked = engine.now()
    backend.holds_in_use += 1
    try:
        call = backend.adapter.await_job(followed.ref.id, offset=offset)
        job = await engine.send(
            backend, backend.adapter.expecting(followed.ref.id, call), hold=True
        )
    except BaseException as exc:
        handed = _release_hold(backend)
        if not isinstance(exc, Exception):
            raise
        if isinstance(exc, BackendUnavailable) and policy.hold_expired(
            exc, engine.now() - asked, backend.settings
        ):
            return None if handed else 0.0  # ask again, after those waiting for a hold
        return policy.retry_in(backend, exc, backoff, engine.now())
    _release_hold(backend)
    if offset and isinstance(known, list) and isinstance(job.outputs, list):
        job = job.model_copy(update={"outputs": known[:offset] + job.outputs})
    engine.accept(followed, job)
    return 0.0 if followed.ended else backoff.next()  # answered before the end: don't spin
