"""What the engine knows: of each followed job (`FollowedJob`), of each backend
(`BackendState`), and the news it reports (`JobUpdate`). State only: the rules that read it
live in `policy` and the strategies.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from jobhub.backend import Adapter, Capability
from jobhub.errors import JobHubError
from jobhub.model import Job, JobEvent, JobRef
from jobhub.waiting.flag import Flag
from jobhub.waiting.slots import Slots, Wake

__all__ = ["BackendState", "FollowedJob", "JobUpdate", "canonical"]


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """A new view of a job and what changed since the previous one (never empty)."""

    ref: str
    job: Job
    events: list[JobEvent]


def canonical(adapters: Mapping[str, Adapter], ref: JobRef) -> JobRef:
    """`ref` with its backend's canonical spelling of the id (see `Adapter.canonical_id`)."""
    return JobRef(ref.backend, adapters[ref.backend].canonical_id(ref.id))


class FollowedJob:
    """One job being followed and what is known of it. Times are loop times."""

    __slots__ = (
        "adapter",
        "asked_as",
        "checked_at",
        "ended",
        "fetch_by",
        "fetched_at",
        "first_request_done",
        "followers",
        "key",
        "last_view",
        "ref",
        "reported",
        "wake",
    )

    def __init__(self, ref: JobRef, adapter: Adapter) -> None:
        self.ref = ref  # with the backend's canonical id
        self.key = str(ref)
        self.adapter = adapter
        # The refs the caller named it by, as given (empty: discovered on a watched backend).
        self.asked_as: list[str] = []
        self.last_view: Job | None = None  # as the backend last showed it
        self.reported: Job | None = None  # what events were reported up to (`high_water`)
        self.ended = False
        self.fetched_at = -math.inf  # when it was last seen in full (GET, long-poll, refresh)
        # When it is fetched on its own at the latest, whatever a listing says of it.
        self.fetch_by = math.inf
        self.checked_at = -math.inf  # when its follower last woke to look at it
        self.wake = Wake()  # a listing saw it move (or stopped covering it): look now
        self.first_request_done = Flag()  # set once it was asked for, answered or not
        self.followers: set[asyncio.Task[None]] = set()  # the tasks following it

    @property
    def requested(self) -> bool:
        """The caller asked for it (rather than it being discovered on a watched backend)."""
        return bool(self.asked_as)


class BackendState:
    """Per-backend limits and memory shared by every follower on it. Times are loop times."""

    def __init__(self, adapter: Adapter, max_holds: int) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.settings = adapter.settings
        self.request_slots = Slots(adapter.settings.concurrency)  # urgent requests first
        self.holds_in_use = 0
        self.max_holds = max_holds
        # Followers waiting for a hold to free, first come first served, and the keys of their
        # jobs (followed meanwhile by GETs helped by the open-jobs listing).
        self.hold_queue: deque[asyncio.Future[None]] = deque()
        self.unheld: set[str] = set()
        self.lists_open_jobs = True  # until its listing of open jobs fails for good
        self.paused_until = 0.0  # nothing is sent before this (Retry-After)
        self.last_error: JobHubError | None = None  # set while its last answer is an error
        self.failures_in_a_row = 0
        self.failing_since = 0.0  # when the first of them failed
        self.warned_failing = False  # a warning said it keeps failing
        self.unreadable_in_a_row = 0
        self.unlistable: set[str] = set()  # workflows whose listing failed for good
        self.open: set[str] = set()  # keys of followed jobs that have not ended
        # Ids of jobs seen to end: a watch of the backend does not take them up again. A job
        # discovered there is forgotten once it ends (its end was reported), so a long watch
        # holds a view of what is open only.
        self.ended_ids: set[str] = set()
        # Key → when a listing last showed the job unchanged from its last view.
        self.listing_confirmed_at: dict[str, float] = {}
        self.listed_workflows: set[str] = set()  # listed each cycle (until none of theirs is open)
        self.first_look_done: asyncio.Event | None = None  # set once a first look by listing ran

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.adapter.capabilities

    def ref_of(self, job: Job) -> JobRef:
        """The canonical ref of a job as a listing or refresh shows it."""
        return JobRef(self.name, self.adapter.canonical_id(job.id))

    async def first_look(self) -> None:
        """Returns once the first look by listing (if one was planned) is done."""
        if self.first_look_done is not None:
            await self.first_look_done.wait()
