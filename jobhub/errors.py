"""Every error jobhub raises, in one tree under `JobHubError`.

Messages say what happened and what to check. They never hold a credential. Errors raised
for an HTTP answer carry `backend`, `status_code` and, where one was sent, the raw body.
Every error pickles with its type, message and fields, so it crosses a process pool intact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobhub.model import Job

__all__ = [
    "AnswerTooLarge",
    "AuthError",
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "HubClosed",
    "InvalidArgument",
    "InvalidPayload",
    "InvalidRef",
    "JobAlreadyFinished",
    "JobHubError",
    "JobNotFound",
    "NotSupported",
    "RateLimited",
    "WaitTimeout",
    "WrongEventLoop",
]


class JobHubError(Exception):
    """Root of every error jobhub raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        status_code: int | None = None,
        raw: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.status_code = status_code
        self.raw = raw

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds an error by calling its class with `args` alone, which fails
        # for a required keyword field (`WaitTimeout.pending`) and drops the others.
        return _rebuild, (type(self), self.message, dict(vars(self)))


def _rebuild(cls: type[JobHubError], message: str, fields: dict[str, Any]) -> JobHubError:
    error = cls.__new__(cls, message)
    Exception.__init__(error, message)
    vars(error).update(fields)
    return error


class ConfigError(JobHubError):
    """Settings are missing or wrong: a config file, a backend entry, an unknown backend name."""


class InvalidArgument(JobHubError, ValueError):
    """A call was given an argument it cannot take (a negative limit, an unknown state word, a
    negative timeout): fix the call; nothing was sent."""


class InvalidRef(InvalidArgument):
    """A job reference or id that cannot address a job (`'<backend>:<id>'` expected)."""


class NotSupported(JobHubError):
    """The backend's API has no way to do this (e.g. Pixxel has no cancel)."""


class InvalidPayload(JobHubError):
    """The backend answered with something jobhub cannot read. `raw` keeps what it sent;
    `excerpt` is a short, printable start of it."""

    def __init__(self, message: str, *, excerpt: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.excerpt = excerpt


class AnswerTooLarge(InvalidPayload):
    """An answer passed the backend's `max_response_bytes` and was not read past it. `size`
    is how many bytes it declared or had sent when refused; `limit` is the cap."""

    def __init__(self, message: str, *, size: int, limit: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.size = size
        self.limit = limit


class BackendError(JobHubError):
    """The backend refused or failed a request."""


class AuthError(BackendError):
    """401/403: the credentials are missing, wrong, expired or not allowed to do this."""


class JobNotFound(BackendError):
    """404: no such job (wrong id, wrong backend, or deleted by retention)."""


class JobAlreadyFinished(BackendError):
    """The job has already ended, so it cannot be cancelled."""


class RateLimited(BackendError):
    """429: too many requests. `retry_after` is the wait the backend asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BackendUnavailable(BackendError):
    """5xx, an unreachable host, a dropped connection or a timeout: try again later."""


class WrongEventLoop(JobHubError, RuntimeError):
    """An `AsyncHub` was used from an event loop other than the one its connections were opened
    on (e.g. a second `asyncio.run`). Make one `AsyncHub` per event loop, or close it
    (`await hub.aclose()`) before the first loop ends."""


class HubClosed(JobHubError, RuntimeError):
    """The hub was closed: it sends nothing more. Also a `RuntimeError`, what httpx raises for
    a closed client."""

    def __init__(
        self,
        message: str = (
            "this hub is closed and sends no more requests — use a new Hub (or AsyncHub), "
            "and close it only once every call on it has returned"
        ),
        **fields: Any,
    ) -> None:
        super().__init__(message, **fields)


class WaitTimeout(JobHubError, TimeoutError):
    """A wait passed its deadline. `pending` maps the ref of every job that had not ended to the
    last `Job` seen for it (None if it was never seen); `backend_errors` maps the name of each
    backend whose last answer was an error to that error."""

    def __init__(
        self,
        message: str,
        *,
        pending: dict[str, Job | None],
        backend_errors: dict[str, JobHubError] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.pending = pending
        self.backend_errors = backend_errors or {}
