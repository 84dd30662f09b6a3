"""Wire formats the emulated vendors write: timestamp styles, Go durations, raw-JSON byte arrays.

Named for the format, not the vendor: an emulator picks the ones its backend uses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["go_duration", "json_bytes", "naive_utc", "rfc3339_nano", "rfc3339_seconds"]


def naive_utc(when: datetime) -> str:
    """UTC without a zone and always six fraction digits: ``2024-12-15T01:41:59.195000``."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def rfc3339_seconds(when: datetime) -> str:
    """RFC 3339 UTC cut to whole seconds: ``2025-08-15T12:00:00Z``."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def rfc3339_nano(when: datetime) -> str:
    """RFC 3339 UTC with the fraction Go's ``time.RFC3339Nano`` writes: trailing zeros dropped,
    no dot for whole seconds (``2025-08-15T12:00:00.25Z``)."""
    text = when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return text.rstrip("0").rstrip(".") + "Z"


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String()`` writes it: ``1h2m3.5s``, ``2m0s``,
    ``1.5s``, ``250ms``, ``0s``."""
    nanos = round(seconds * 1e9)
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos == 0:
        return "0s"
    if nanos < 1_000:
        return f"{sign}{nanos}ns"
    if nanos < 1_000_000:
        return f"{sign}{_decimal(nanos, 1_000)}µs"
    if nanos < 1_000_000_000:
        return f"{sign}{_decimal(nanos, 1_000_000)}ms"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def json_bytes(value: Any) -> list[int]:
    """Raw JSON as a byte array, the way an OpenAPI spec renders Go's ``[]byte`` fields."""
    if value is None:
        return []
    return list(json.dumps(value, separators=(",", ":")).encode())
