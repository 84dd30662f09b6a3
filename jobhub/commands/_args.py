"""Argument types for the commands' options: each turns text into a checked value or raises
`argparse.ArgumentTypeError` (argparse then prints a usage error and exits 2)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "Once",
    "StateList",
    "count",
    "port",
    "positive",
    "rate",
    "seconds",
    "since",
    "wait_seconds",
]


class Once(argparse.Action):
    """Stores an option's value, and refuses the option given twice: `--limit 5 --limit 9`
    would otherwise keep the last without a word."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        seen: set[str] = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in seen:
            parser.error(f"{option_string} given more than once; give it once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


class StateList(argparse.Action):
    """`--state running --state QUEUED,failed`: every state named, in any case, OR-ed."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from jobhub.commands import STATES

        wanted: list[str] = list(getattr(namespace, self.dest, None) or [])
        for word in str(values).split(","):
            state = word.strip().lower()
            if state not in STATES:
                parser.error(
                    f"{option_string}: unknown state {word.strip()!r}; one of: {', '.join(STATES)}"
                )
            if state not in wanted:
                wanted.append(state)
        setattr(namespace, self.dest, wanted)


def _number(text: str, kind: type[int] | type[float], what: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None


def seconds(text: str) -> float:
    """A number of seconds, more than 0."""
    value = _number(text, float, "a number of seconds")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def wait_seconds(text: str) -> float:
    """A number of seconds, 0 or more (0: look once, do not wait)."""
    value = _number(text, float, "a number of seconds")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since(text: str) -> datetime:
    """An instant: a duration back from now (`90s`, `30m`, `2h`, `1d12h`, `1w`), or a date or
    time in ISO 8601 (`2026-11-30`, `2026-11-30T08:00`, with a zone or in local time)."""
    text = text.strip()
    if text and _DURATION.sub("", text) == "":
        seconds = sum(float(n) * _UNIT[unit] for n, unit in _DURATION.findall(text))
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a duration like 2h or 30m, or a date like 2026-11-30, not {text!r}"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def positive(text: str) -> float:
    """A number more than 0 (a speed factor)."""
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def count(text: str) -> int:
    """A whole number, 0 or more."""
    value = int(_number(text, int, "a whole number"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 0 (any free port) to 65535."""
    value = int(_number(text, int, "a port number"))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, not {text}")
    return value


def rate(text: str) -> float:
    """A share between 0 and 1."""
    value = _number(text, float, "a share between 0 and 1")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value
