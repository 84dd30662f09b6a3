"""What went wrong, in one line: an exception (`describe`) or a payload (`excerpt`), as every
message and log line quotes them."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

__all__ = ["describe", "excerpt"]


def describe(exc: BaseException) -> str:
    """One short line for an exception: `RuntimeError: cannot start`; a pydantic
    `ValidationError` by its first problem, where it lies and how many follow:
    `jobs.0.status: Input should be a valid string (and 2 more)`."""
    if not isinstance(exc, ValidationError):
        return f"{type(exc).__name__}: {exc}"
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    if not problems:
        return f"{exc.title} is not valid"
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"


# A URL's query string: where signed URLs keep their signatures and credentials.
_URL_QUERY = re.compile(r"""(\w+://[^\s?#"'<>\\]*)\?[^\s#"'<>\\]*""")


def excerpt(data: Any, limit: int = 200) -> str:
    """A short printable start of a payload, for error messages and log lines. URLs lose their
    query strings (`?X-Goog-Signature=…`), so a signed URL is never spread by a message."""
    if isinstance(data, bytes):
        text = data[: limit * 4].decode("utf-8", "replace")
    elif isinstance(data, str):
        text = data
    else:
        try:
            text = json.dumps(data, default=str)
        except (TypeError, ValueError, RecursionError):
            try:
                text = repr(data)
            except RecursionError:
                text = f"({type(data).__name__} nested too deep to show)"
    text = _URL_QUERY.sub(r"\1?…", " ".join(text[: limit * 2].split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
