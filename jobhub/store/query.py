"""What every store implementation shares and no SQL: job queries and their keyset cursors,
the records a store hands back, event filters, retention. Pure."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobhub.errors import JobHubError
from jobhub.model import Job, JobState

__all__ = [
    "MAX_LIMIT",
    "SORTS",
    "Counts",
    "EventFilter",
    "InvalidQuery",
    "JobPage",
    "JobQuery",
    "JobRecord",
    "Retention",
    "StoredEvent",
    "decode_cursor",
    "encode_cursor",
    "sort_value",
]

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# A job without the sorted value (not created yet, not finished) sorts as if it were the
# earliest: first ascending, last descending. Stores keep sort columns NOT NULL with this.
MISSING = -1.0
# sort name → the Job field it orders by
SORTS: Mapping[str, str] = {
    "created": "created_at",
    "finished": "finished_at",
    "duration": "duration",
}

Counts = dict[tuple[str, str], int]  # (backend, state) → jobs


class InvalidQuery(JobHubError, ValueError):
    """A query the store cannot answer: an unknown sort or state, a cursor from another query."""


def sort_value(job: Job, sort: str) -> float:
    """The number a job sorts by for `sort` (epoch seconds for times)."""
    value = getattr(job, SORTS[sort])
    if value is None:
        return MISSING
    return value.timestamp() if isinstance(value, datetime) else float(value)


@dataclass(frozen=True)
class JobQuery:
    """Which jobs, in what order, from where. `sort` is a name in `SORTS`, `-` in front for
    descending; `cursor` is a page's `next_cursor` from the same query."""

    backends: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    workflow: str | None = None
    user: str | None = None
    q: str | None = None  # text in ref, workflow or error (case-insensitive)
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    sort: str = "-created"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    raw: bool = False

    def __post_init__(self) -> None:
        if self.sort.lstrip("-") not in SORTS:
            raise InvalidQuery(f"sort {self.sort!r}: one of {', '.join(SORTS)}, '-' for descending")
        known = {state.value for state in JobState}
        for state in self.states:
            if state not in known:
                raise InvalidQuery(f"state {state!r}: one of {', '.join(sorted(known))}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit {self.limit}: between 1 and {MAX_LIMIT}")

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def after(self) -> tuple[float, str] | None:
        """The (sort value, ref) the page starts after, from the cursor."""
        return None if self.cursor is None else decode_cursor(self.cursor, self.sort)


def encode_cursor(sort: str, value: float, ref: str) -> str:
    """An opaque cursor: the last row's sort value and ref (refs are unique, so no job is
    skipped or repeated between pages even when many share a value)."""
    text = json.dumps([sort, value, ref], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        made_for, value, ref = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, int | float) or not isinstance(ref, str):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidQuery(
            "cursor: not one this server gave — pass a page's next_cursor unchanged"
        ) from None
    if made_for != sort:
        raise InvalidQuery(f"cursor: made for sort {made_for!r}, not {sort!r} — start over")
    return float(value), ref


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A stored job: `document` is its `Job.model_dump(mode="json")` without `raw`, as JSON
    text (what the API sends, unparsed); `raw` the payload as JSON text when asked for."""

    ref: str
    state: str
    document: str
    raw: str | None = None

    def job(self) -> Job:
        data = json.loads(self.document)
        if self.raw is not None:
            data["raw"] = json.loads(self.raw)
        return Job.model_validate(data)


@dataclass(frozen=True, slots=True)
class JobPage:
    records: list[JobRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event of the log and what the stream filters on. `job` is the job's latest
    snapshot (JSON text, without `raw`) when the event was read."""

    seq: int
    ref: str
    kind: str
    old: Any
    new: Any
    task: str | None
    at: datetime
    backend: str
    state: str  # the job's state now
    workflow: str | None
    user: str | None
    error: str | None
    job: str

    def data(self) -> str:
        """The event as a `JobEvent`'s JSON (`job` without `raw`)."""
        head = json.dumps(
            {
                "ref": self.ref,
                "kind": self.kind,
                "old": self.old,
                "new": self.new,
                "task": self.task,
                "at": self.at.isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return f'{head[:-1]},"job":{self.job}}}'


@dataclass(frozen=True)
class EventFilter:
    """The jobs filters of `JobQuery`, applied to events (on the job as it is now)."""

    backends: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    workflow: str | None = None
    user: str | None = None
    q: str | None = None

    def matches(self, event: StoredEvent) -> bool:
        if self.backends and event.backend not in self.backends:
            return False
        if self.states and event.state not in self.states:
            return False
        if self.workflow is not None and event.workflow != self.workflow:
            return False
        if self.user is not None and event.user != self.user:
            return False
        if self.q:
            needle = self.q.lower()
            haystack = (event.ref, event.workflow or "", event.error or "")
            return any(needle in text.lower() for text in haystack)
        return True


@dataclass(frozen=True)
class Retention:
    """How long ended jobs are kept (by when they ended): failed ones longer, to be looked
    into. Jobs that have not ended are always kept."""

    keep: timedelta = field(default_factory=lambda: timedelta(days=30))
    keep_failed: timedelta = field(default_factory=lambda: timedelta(days=90))

    def cutoffs(self, now: datetime) -> tuple[float, float]:
        """Epoch seconds before which an ended job (and a failed one) is pruned."""
        return (now - self.keep).timestamp(), (now - self.keep_failed).timestamp()
