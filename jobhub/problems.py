"""What went wrong, in one line: every message that quotes an exception says it this way."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe"]


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
