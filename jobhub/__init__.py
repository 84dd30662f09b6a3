"""jobhub: one face for every workflow backend.

    from jobhub import Hub
    with Hub.from_config() as hub:
        job = hub.get("sieve:1234")

Public names are imported lazily, so `import jobhub` stays cheap. The error tree
(`jobhub.errors`) is here too: `from jobhub import WaitTimeout`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AnswerTooLarge",
    "AsyncHub",
    "AuthError",
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "Hub",
    "HubClosed",
    "InvalidArgument",
    "InvalidPayload",
    "InvalidRef",
    "Job",
    "JobAlreadyFinished",
    "JobEvent",
    "JobHubError",
    "JobNotFound",
    "JobRef",
    "JobState",
    "NotSupported",
    "RateLimited",
    "Task",
    "WaitTimeout",
    "WrongEventLoop",
    "hookimpl",
]

# The error tree (as in `jobhub.errors`) imports nothing beyond the standard library.
_ERRORS = (
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
)

_EXPORTS = {
    "Hub": "jobhub.hub",
    "AsyncHub": "jobhub.hub",
    "Job": "jobhub.model",
    "JobEvent": "jobhub.model",
    "JobRef": "jobhub.model",
    "JobState": "jobhub.model",
    "Task": "jobhub.model",
    "hookimpl": "jobhub.hookspecs",
    **dict.fromkeys(_ERRORS, "jobhub.errors"),
}

if TYPE_CHECKING:
    from jobhub.errors import (
        AnswerTooLarge,
        AuthError,
        BackendError,
        BackendUnavailable,
        ConfigError,
        HubClosed,
        InvalidArgument,
        InvalidPayload,
        InvalidRef,
        JobAlreadyFinished,
        JobHubError,
        JobNotFound,
        NotSupported,
        RateLimited,
        WaitTimeout,
        WrongEventLoop,
    )
    from jobhub.hookspecs import hookimpl
    from jobhub.hub import AsyncHub, Hub
    from jobhub.model import Job, JobEvent, JobRef, JobState, Task


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jobhub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
