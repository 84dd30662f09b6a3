"""Readers for the loosely specified values inside Pixxel payloads.

Pixxel documents the type of these fields but not their format, so each reader takes what the
backend is known or likely to send and returns None for anything else; the caller keeps the
original in `raw`. None of them raises.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from jobhub.backend import UnreadableJson, parse_time, read_json
from jobhub.times import known_times

__all__ = ["ReadOnce", "decode_raw_json", "number", "percent", "seconds", "timestamp"]

_known_time = known_times.get

Reading = TypeVar("Reading")


class ReadOnce(dict[str, Reading], Generic[Reading]):
    """Each text's reading by `read`, made the first time the text is looked up
    (`readings[text]`, which costs less than a call); past `kept` texts it starts afresh. For
    readers that never raise and give immutable values."""

    def __init__(self, read: Callable[[str], Reading], kept: int) -> None:
        super().__init__()
        self._read, self._kept = read, kept

    def __missing__(self, text: str) -> Reading:
        if len(self) >= self._kept:
            self.clear()
        reading = self[text] = self._read(text)
        return reading


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime. "", null, Go's zero time
    (`0001-01-01T00:00:00Z`, what an unset Go time marshals to) and unreadable values are None."""
    if value is None:
        return None
    try:  # a text read before is looked up, which saves a call
        parsed = _known_time(value)
    except TypeError:  # unhashable: `parse_time` says why it is no time
        parsed = None
    if parsed is None:
        parsed = parse_time(value)
    if parsed is None or parsed.year <= 1:
        return None
    return parsed


def number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string; booleans are not numbers."""
    kind = type(value)
    if (kind is not int and kind is not float) and (  # JSON's own numbers go straight on
        isinstance(value, bool) or not isinstance(value, int | float | str)
    ):
        return None
    try:
        figure = float(value)
    except (ValueError, OverflowError):  # not a number; an integer too large for a float
        return None
    return figure if math.isfinite(figure) else None


def percent(value: Any) -> float | None:
    """A percentage (0–100) as a fraction 0.0–1.0, clamped.

    Jobs report a string ("45", "45.5", "45%"), tasks a number; "" and anything unreadable are
    None.
    """
    if isinstance(value, str):
        value = value.strip().removesuffix("%")
    figure = number(value)
    if figure is None:
        return None
    return min(max(figure, 0.0), 100.0) / 100.0


_GO_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # micro sign
    "μs": 1e-6,  # Greek mu: Go accepts both
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
_GO_DURATION = re.compile(rf"(?:{_GO_PART})+")
_GO_PARTS = re.compile(_GO_PART)
_GO_PLAIN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s")
_CLOCK = re.compile(r"(?:(\d+) days?, *)?(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)")


def seconds(value: Any) -> float | None:
    """A `time_taken` duration in seconds, or None when it cannot be read.

    Reads Go's duration text (`1h2m3.5s`, `1m2.5s`, `150ms`), plain seconds (`12.5`, or a JSON
    number), and clock text `HH:MM:SS[.fff]` with an optional `N day(s), ` prefix (Python's
    `timedelta` text). Negative and non-finite durations are None.
    """
    if not isinstance(value, str):
        figure = number(value)
        return figure if figure is not None and figure >= 0 else None
    plain = _GO_PLAIN.fullmatch(value)
    if plain is not None:  # what Go prints: 6m12.4s, 1h0m3s, 3.5s (summed as below)
        hours, minutes, secs = plain.groups()
        figure = 0.0
        if hours:
            figure += float(hours) * 3600.0
        if minutes:
            figure += float(minutes) * 60.0
        figure += float(secs)
        return figure if math.isfinite(figure) else None
    text = value.strip()
    if not text:
        return None
    total: float | None
    if text[-1] in "smhµμ":  # Go's duration text always ends in a unit
        compact = "".join(text.split())
        if not _GO_DURATION.fullmatch(compact):
            return None
        total = sum(float(amount) * _GO_UNIT[unit] for amount, unit in _GO_PARTS.findall(compact))
    elif ":" in text:
        clock = _CLOCK.fullmatch(text)
        if not clock:
            return None
        days, hours, minutes, secs = clock.groups()
        total = float(days or 0) * 86400 + float(hours) * 3600 + float(minutes) * 60
        total += float(secs)
    else:
        total = number(text)
        if total is None:
            return None
    if not math.isfinite(total) or total < 0:
        return None
    return total


def decode_raw_json(value: Any) -> Any:
    """A Pixxel "raw JSON" field (`spec`, `inputs`, `result`, `info_logs`) as a JSON value.

    The field may arrive as the JSON value itself, as a list of byte values (how the vendor's
    spec renders it) or as a base64 string (how Go marshals bytes). Bytes that hold JSON are
    decoded; anything else — a list of numbers that is not JSON text, a string that is not
    base64 of JSON, JSON nested past the depth every Job is held to — is returned as given.
    """
    if isinstance(value, list):
        if not value:
            return value
        try:
            data = bytes(value)
        except (TypeError, ValueError, OverflowError):
            return value
    elif isinstance(value, str):
        if not value or len(value) % 4:
            return value
        try:
            data = binascii.a2b_base64(value, strict_mode=True)  # b64decode(validate=True)
        except (binascii.Error, ValueError):
            return value
    else:
        return value
    try:  # the same reading, and the same clean-up, as every answer's body
        return read_json(data)
    except UnreadableJson:
        return value
