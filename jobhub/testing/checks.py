"""The conformance checks as plain functions, each raising `AssertionError` that says what the
adapter got wrong. `AdapterConformance` runs them as tests; call them directly for a check of
your own.

They run through a real `Hub`/`AsyncHub` over a `MockBackend` (`jobhub.testing.mock`), without
a network.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, unquote_plus

import httpx

from jobhub.backend import Adapter, Call, Capability, Page, parse_time
from jobhub.errors import (
    AuthError,
    BackendUnavailable,
    InvalidPayload,
    InvalidRef,
    JobHubError,
    JobNotFound,
    NotSupported,
    RateLimited,
)
from jobhub.hookspecs import hookimpl
from jobhub.hub import AsyncHub, Hub
from jobhub.model import Job, JobState
from jobhub.plugins import Registry
from jobhub.testing.mock import MockBackend

__all__ = [
    "EXPECTED_ERRORS",
    "HOSTILE_IDS",
    "NAME",
    "SECRET",
    "ErrorCase",
    "MockBackend",
    "Sample",
    "check_capability_consistent",
    "check_error_case",
    "check_id_stays_in_place",
    "check_no_secret",
    "check_sample",
    "check_status_word",
    "check_survives",
    "hub_config",
    "make_adapter",
    "make_registry",
]

# The one value used as every credential: it must never show up in any output.
SECRET = "jobhub-conformance-SECRET-7f3a9c"
# The backend name the checks configure the adapter under.
NAME = "conf"
# Ids that try to leave their place in a URL.
HOSTILE_IDS: tuple[str, ...] = (
    "a/b",
    "../../admin",
    "..",
    ".",
    "a?b=c",
    "a#b",
    "a%2Fb",
    "a&b=c",
    "a b",
    "a+b",
    "a;b",
    "a\\b",
    "\u00e9t\u00e9",
)
# Status → the error a user must get for it, whatever the backend.
EXPECTED_ERRORS: dict[int, type[JobHubError]] = {
    401: AuthError,
    403: AuthError,
    404: JobNotFound,
    429: RateLimited,
    500: BackendUnavailable,
    502: BackendUnavailable,
    503: BackendUnavailable,
}
_MARKER = "jobhubIdMarker7"
_FAST = {"retries": 0, "poll_interval": 0.001, "poll_max": 0.002}


@dataclass(frozen=True)
class Sample:
    """A payload as the backend sends it for one job (the body of its get answer), and the
    canonical fields it must normalize to. `expect` keys are `Job` fields or dotted paths
    (`tasks.0.state`); a time may be given as an ISO 8601 string."""

    payload: Any
    expect: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class ErrorCase:
    """An error answer of the backend's own and the error a user must get for it: the answer
    to `call` ("get", "cancel" or "list") has `status` and `body` (JSON, or a str sent as
    text); the hub must raise `error` whose message contains `says`."""

    status: int
    body: Any
    error: type[JobHubError]
    says: str | None = None
    call: str = "get"
    headers: Mapping[str, str] = field(default_factory=dict)


# -- building -------------------------------------------------------------------------------


def make_registry(adapter_class: type[Adapter], plugin: object | None = None) -> Registry:
    """A registry holding only `plugin` (or, without one, a plugin registering the class)."""
    registry = Registry()
    if plugin is None:
        plugin = _SinglePlugin(adapter_class)
    registry.register(plugin, name=f"conformance-{adapter_class.type}")
    return registry


class _SinglePlugin:
    def __init__(self, adapter_class: type[Adapter]) -> None:
        self.adapter_class = adapter_class

    @hookimpl
    def jobhub_register_adapters(self, register: Callable[[Any], None]) -> None:
        register(self.adapter_class)


def hub_config(adapter_class: type[Adapter], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The hub config the checks use: the backend as `NAME`, no retries, fast polls."""
    return {NAME: {"type": adapter_class.type, **_FAST, **settings}}


def make_adapter(adapter_class: type[Adapter], settings: Mapping[str, Any]) -> Adapter:
    entry = hub_config(adapter_class, settings)[NAME]
    return adapter_class(NAME, adapter_class.settings_from(NAME, entry, {}))


def make_hub(
    adapter_class: type[Adapter],
    settings: Mapping[str, Any],
    backend: MockBackend,
    plugin: object | None = None,
) -> Hub:
    return Hub(
        hub_config(adapter_class, settings),
        registry=make_registry(adapter_class, plugin),
        transport=backend.transport(),
        env={},
    )


def make_async_hub(
    adapter_class: type[Adapter],
    settings: Mapping[str, Any],
    backend: MockBackend,
    plugin: object | None = None,
) -> AsyncHub:
    return AsyncHub(
        hub_config(adapter_class, settings),
        registry=make_registry(adapter_class, plugin),
        transport=backend.async_transport(),
        env={},
    )


# -- normalization --------------------------------------------------------------------------


def field_value(job: Job, path: str) -> Any:
    """A `Job` field, or a dotted path into it (`tasks.0.state`, `labels.team`)."""
    value: Any = job
    for part in path.split("."):
        if isinstance(value, list | tuple):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value


def check_sample(adapter: Adapter, sample: Sample) -> Job:
    """The sample normalizes to its expected fields, keeps the payload in `raw`, and leaves
    the payload unchanged."""
    label = sample.label or _short(sample.payload)
    before = copy.deepcopy(sample.payload)
    job = adapter.normalize(sample.payload)
    assert isinstance(job, Job), f"normalize({label}) returned {type(job).__name__}, not a Job"
    assert sample.payload == before, f"normalize({label}) changed the payload it was given"
    assert job.raw == sample.payload, f"normalize({label}): job.raw is not the payload"
    assert job.backend == adapter.name and job.type == adapter.type, (
        f"normalize({label}): backend/type are {job.backend!r}/{job.type!r}, "
        f"not {adapter.name!r}/{adapter.type!r}"
    )
    assert job.ref == f"{adapter.name}:{job.id}", f"normalize({label}): ref {job.ref!r}"
    for path, expected in sample.expect.items():
        try:
            actual = field_value(job, path)
        except (AttributeError, IndexError, KeyError, ValueError):
            raise AssertionError(f"normalize({label}): the job has no {path!r}") from None
        if isinstance(expected, str) and isinstance(actual, datetime):
            expected = parse_time(expected)
        assert actual == expected, f"normalize({label}).{path} is {actual!r}, not {expected!r}"
    return job


def check_status_word(
    adapter: Adapter,
    word: str,
    expected: JobState,
    job_with_status: Callable[[str], Any],
    state_of: Callable[[Job], tuple[JobState, str | None]],
) -> None:
    """The native word maps to `expected` (never unknown, unless the word itself means that),
    and the word is kept as the status."""
    state, status = state_of(adapter.normalize(job_with_status(word)))
    assert state == expected, f"native status {word!r} became {state.value!r}, not {expected!r}"
    assert status == word, f"native status {word!r} was not kept as status (got {status!r})"


def check_survives(adapter: Adapter, payloads: Iterable[tuple[str, Any]]) -> int:
    """Each payload normalizes to a `Job` or raises `InvalidPayload` naming the backend —
    never another exception. Returns how many were tried."""
    failures = []
    count = 0
    for description, payload in payloads:
        count += 1
        try:
            job = adapter.normalize(payload)
        except InvalidPayload as exc:
            if exc.backend != adapter.name or not str(exc):
                failures.append(f"{description}: InvalidPayload without backend or message")
            continue
        except Exception as exc:
            failures.append(f"{description} {_short(payload)}: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(job, Job):
            failures.append(f"{description}: returned {type(job).__name__}")
    if failures:
        raise AssertionError(
            f"{len(failures)} of {count} payloads raised something other than InvalidPayload:\n  "
            + "\n  ".join(failure[:300] for failure in failures[:10])
        )
    return count


# -- errors ---------------------------------------------------------------------------------


def error_call(adapter: Adapter, case: ErrorCase, job_id: str) -> Call[Any]:
    if case.call == "get":
        return adapter.get_job(job_id)
    if case.call == "cancel":
        return adapter.cancel_job(job_id)
    if case.call == "list":
        return adapter.list_jobs()
    raise ValueError(f"ErrorCase.call must be get, cancel or list, not {case.call!r}")


def run_case(hub: Hub, case: ErrorCase, job_id: str) -> Any:
    ref = f"{NAME}:{job_id}"
    if case.call == "get":
        return hub.get(ref)
    if case.call == "cancel":
        return hub.cancel(ref)
    return list(hub.list(NAME))


def check_error_case(hub: Hub, backend: MockBackend, case: ErrorCase, job_id: str) -> JobHubError:
    """The error answer reaches the user as `case.error`, carrying backend and status, with
    the backend's own words (`case.says`) in its message."""
    adapter = hub.adapter(NAME)
    backend.answer(
        error_call(adapter, case, job_id).request,
        case.body,
        status=case.status,
        headers=case.headers,
    )
    try:
        run_case(hub, case, job_id)
    except JobHubError as exc:
        error = exc
    else:
        raise AssertionError(f"a {case.status} answer to {case.call} raised nothing")
    assert isinstance(error, case.error), (
        f"a {case.status} answer to {case.call} raised {type(error).__name__} ({error}), "
        f"not {case.error.__name__}"
    )
    assert error.backend == NAME, f"{type(error).__name__}.backend is {error.backend!r}"
    assert error.status_code == case.status, (
        f"{type(error).__name__}.status_code is {error.status_code!r}, not {case.status}"
    )
    if case.says:
        assert case.says in str(error), (
            f"the {case.status} error does not repeat the backend's words {case.says!r}: "
            f"{error} — read the backend's error body in error_detail()"
        )
    return error


# -- ids ------------------------------------------------------------------------------------


def check_id_stays_in_place(
    adapter: Adapter,
    make_call: Callable[[str], Call[Any]],
    id_template: Callable[[str], str],
    hostile: str,
) -> None:
    """A hostile id either is refused (`InvalidRef`) or lands, escaped, exactly where a plain
    id does: the same URL around it, one path segment or one query value that decodes back to
    it."""
    plain = str(make_call(id_template(_MARKER)).request.url)
    assert plain.count(_MARKER) == 1, f"a plain id appears {plain.count(_MARKER)} times in {plain}"
    at = plain.index(_MARKER)
    before, after = plain[:at], plain[at + len(_MARKER) :]
    in_query = "?" in before
    try:
        url = str(make_call(id_template(hostile)).request.url)
    except InvalidRef:
        return
    assert url.startswith(before) and url.endswith(after), (
        f"id {hostile!r} changed the URL around it: {url} (a plain id gives {plain})"
    )
    placed = url[len(before) : len(url) - len(after)]
    if in_query:
        assert not set(placed) & set("&#"), f"id {hostile!r} broke out of its query value: {url}"
        assert unquote_plus(placed) == hostile, f"id {hostile!r} reads back as {placed!r}: {url}"
    else:
        assert not set(placed) & set("/?#"), f"id {hostile!r} broke out of its path segment: {url}"
        assert placed not in {".", ".."}, f"id {hostile!r} is a dot segment in {url}"
        assert unquote(placed) == hostile, f"id {hostile!r} reads back as {placed!r}: {url}"


# -- secrets --------------------------------------------------------------------------------


def check_no_secret(
    secret: str, *things: object, records: Sequence[logging.LogRecord] = ()
) -> None:
    """`secret` is in no thing's str or repr, and in no log record."""
    for thing in things:
        for text in (str(thing), repr(thing)):
            assert secret not in text, f"the credential shows in {type(thing).__name__}: {text}"
    for record in records:
        message = record.getMessage()
        assert secret not in message, f"the credential shows in a log line: {message}"


# -- capabilities ---------------------------------------------------------------------------


def check_capability_consistent(
    adapter: Adapter, capability: Capability, build: Callable[[], Call[Any]]
) -> Call[Any] | None:
    """A capability the adapter has (it overrides the capability's method) builds a call; one
    it lacks raises `NotSupported` naming the backend. Returns the call when it has it."""
    offered = capability in adapter.capabilities
    try:
        call = build()
    except NotSupported as exc:
        assert not offered, (
            f"{capability.value}: {capability.method} is overridden, so the adapter offers it, "
            f"but it raises NotSupported: {exc} — leave {capability.method} to the base class"
        )
        assert exc.backend == adapter.name, f"NotSupported.backend is {exc.backend!r}"
        return None
    assert offered, (
        f"{capability.value} works but is not in capabilities (was `capabilities` changed after "
        "the class was made?) — waiting would not use it"
    )
    assert isinstance(call, Call), f"{capability.value} built {type(call).__name__}, not a Call"
    return call


# -- parity ---------------------------------------------------------------------------------


def run_sync(
    adapter_class: type[Adapter],
    settings: Mapping[str, Any],
    backend: MockBackend,
    action: Callable[[Hub], Any],
    plugin: object | None = None,
) -> Any:
    """What `action` gives on a `Hub` over `backend`."""
    with make_hub(adapter_class, settings, backend, plugin) as hub:
        return action(hub)


def run_async(
    adapter_class: type[Adapter],
    settings: Mapping[str, Any],
    backend: MockBackend,
    action: Callable[[AsyncHub], Awaitable[Any]],
    plugin: object | None = None,
) -> Any:
    """What `action` gives on an `AsyncHub` over `backend` (in a fresh event loop)."""

    async def run() -> Any:
        async with make_async_hub(adapter_class, settings, backend, plugin) as hub:
            return await action(hub)

    return asyncio.run(run())


def request_shape(request: httpx.Request) -> tuple[str, str, bytes]:
    return request.method, str(request.url), request.content


def page_ids(page: Page) -> list[str]:
    return [job.id for job in page.jobs]


def _short(payload: Any) -> str:
    text = json.dumps(payload, default=str)
    return text if len(text) <= 80 else text[:79] + "…"
