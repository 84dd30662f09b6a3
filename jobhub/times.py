"""Backend times read into aware UTC datetimes, and `Retry-After` read into a pause."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from jobhub.problems import excerpt

__all__ = ["MAX_RETRY_AFTER_PAUSE", "known_times", "parse_retry_after", "parse_time"]

log = logging.getLogger("jobhub")


# A refresh or a listing read every cycle repeats the times it read the cycle before, and a task
# often starts the second another ends; datetimes are immutable, so each distinct text is read
# once and shared (up to `_TIMES_KEPT` of them; past that the memory starts afresh).
_TIMES_KEPT = 16_384
_read_times: dict[Any, datetime | None] = {None: None, "": None}
# The texts read so far and what each gave: a hot loop reads a time with
# `known_times.get(text) or parse_time(text)`, which saves a call for each time already read.
known_times: Mapping[Any, datetime | None] = _read_times


def parse_time(value: Any) -> datetime | None:
    """A backend timestamp as an aware UTC datetime; a time without a zone is UTC.

    None for "", None and anything that is not a readable ISO 8601 time (epoch seconds, an
    offset past ±24 h, a time outside years 1–9999 once in UTC, a number): one unreadable
    field must not cost the whole job, and the payload's `raw` keeps what the backend sent.
    Each kind of unreadable text is logged once. Each distinct text is read once: the same
    text gives the same datetime object."""
    try:
        return _read_times[value]
    except (KeyError, TypeError):  # not read yet, or unhashable (a list where a time belongs)
        pass
    if type(value) is not str:
        _log_unreadable_time(value)
        return None
    parsed = _read_time(value)
    if len(_read_times) >= _TIMES_KEPT:
        _read_times.clear()
        _read_times.update({None: None, "": None})
    _read_times[value] = parsed
    return parsed


def _read_time(value: str) -> datetime | None:
    try:
        # Most backend times are read as they come (Python reads a trailing "Z" itself);
        # anything else takes the lenient path below, which gives the same result.
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        return _parse_time_leniently(value)
    if parsed.tzinfo is UTC:
        return parsed
    return _utc(parsed, value)


def _parse_time_leniently(value: str) -> datetime | None:
    """`parse_time` for text `datetime.fromisoformat` does not take as it is: surrounding
    blanks, a lower-case "z"."""
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):  # not a time, or an offset past ±24 h
        _log_unreadable_time(value)
        return None
    return _utc(parsed, value)


def _utc(parsed: datetime, value: str) -> datetime | None:
    if parsed.tzinfo is None:
        # The same as parsed.replace(tzinfo=UTC), which costs several times more on CPython.
        return datetime.combine(parsed, parsed.time(), UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        _log_unreadable_time(value)
        return None


_unreadable_times_logged: set[str] = set()


def _log_unreadable_time(value: Any) -> None:
    # Logged once per shape (digits as 9, letters as a), so a stream of epoch seconds is one line.
    shape = re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", excerpt(value, 40)))
    if shape not in _unreadable_times_logged and len(_unreadable_times_logged) < 100:
        _unreadable_times_logged.add(shape)
        log.warning(
            "unreadable time %s shown as null (the raw payload keeps it)", excerpt(value, 40)
        )


# The longest pause a `Retry-After` can impose: a backend asking for more (a day, 1e9 seconds,
# a date in the year 9999) is asked again after this long rather than never.
MAX_RETRY_AFTER_PAUSE = 300.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds, at most `MAX_RETRY_AFTER_PAUSE`: either delta-seconds or an
    HTTP date. None when absent or unreadable, and for what is not a finite number (`inf`,
    `nan`, `1e999`)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER_PAUSE, max(0.0, seconds))
