"""The `jobhub` subcommands, one module each.

Every module defines `HELP` (one line for `jobhub --help`), `add_arguments(parser)` and
`run(args) -> int` (the exit code). A module imports only the standard library at import time:
`jobhub --help` builds every parser, so httpx, pydantic, rich and the plugins are imported inside
`run`, by the command that needs them.
"""

from __future__ import annotations

import enum

__all__ = ["COMMANDS", "STATES", "ExitCode", "error_line", "exit_code"]

# command name → module in this package, in the order `jobhub --help` lists them
COMMANDS: dict[str, str] = {
    "get": "get",
    "list": "list_jobs",
    "wait": "wait",
    "watch": "watch",
    "cancel": "cancel",
    "backends": "backends",
    "plugins": "plugins",
    "schema": "schema",
    "emulator": "emulator",
    "demo": "demo",
    "serve": "serve",
    "completion": "completion",
}

# JobState's values, for `--state` choices without importing pydantic for `--help`
# (a test keeps the two in step).
STATES = ("pending", "queued", "running", "succeeded", "failed", "cancelled", "skipped", "unknown")


class ExitCode(enum.IntEnum):
    """What `jobhub` exits with (DESIGN.md, "Commands")."""

    OK = 0  # for `wait`: every job succeeded
    JOB_FAILED = 1  # a waited job ended failed, cancelled or skipped
    USAGE = 2  # bad arguments, bad config, bad job ref
    BACKEND = 3  # the backend refused or failed: auth, not found, unreachable, cannot do it
    TIMEOUT = 4  # `wait` passed its --timeout
    INTERNAL = 70  # a bug in jobhub or a plugin (EX_SOFTWARE); --debug shows the traceback
    INTERRUPTED = 130  # Ctrl-C


def exit_code(exc: BaseException) -> ExitCode:
    """The exit code for an error that ended a command: the one mapping every command uses."""
    from jobhub.errors import ConfigError, InvalidArgument, JobHubError, WaitTimeout

    if isinstance(exc, WaitTimeout):
        return ExitCode.TIMEOUT
    if isinstance(exc, ConfigError | InvalidArgument):  # InvalidRef is one
        return ExitCode.USAGE
    if isinstance(exc, JobHubError):
        # BackendError (auth, not found, already finished, rate limited, unavailable),
        # InvalidPayload and NotSupported: the backend could not or would not do it.
        return ExitCode.BACKEND
    return ExitCode.INTERNAL


def error_line(exc: BaseException) -> str:
    """The one line printed on stderr for an error: what failed and what to check."""
    from jobhub.errors import JobHubError

    if isinstance(exc, JobHubError):
        text = str(exc)
    else:
        text = (
            f"internal error: {type(exc).__name__}: {exc} — this is a bug in jobhub or a "
            "plugin; rerun with --debug for the traceback and report it"
        )
    # One line, whatever the message holds; a backend's words are shown, never obeyed.
    from jobhub.terminal import printable

    return "jobhub: " + printable(text)
