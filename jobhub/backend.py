"""The adapter contract: pure request builders and response parsers, no I/O.

An adapter turns "get job X" into a `Call`: an `httpx.Request` plus the function that reads its
answer. `jobhub.http` sends the request (sync or async, with retries) and hands a successful
response to `Call.parse`; an error response goes to `Adapter.error`, which maps it onto the
`jobhub.errors` tree. So an adapter is tested without a network and gets sync, async, retries,
rate-limit handling, long-polls and batching from the core.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import json
import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import from_json

from jobhub.config import BackendSettings
from jobhub.errors import (
    AuthError,
    BackendError,
    BackendUnavailable,
    ConfigError,
    InvalidPayload,
    InvalidRef,
    JobHubError,
    JobNotFound,
    NotSupported,
    RateLimited,
)
from jobhub.model import JobState
from jobhub.problems import describe

if TYPE_CHECKING:
    from jobhub.model import Job

__all__ = [
    "MAX_RETRY_AFTER_PAUSE",
    "Adapter",
    "Call",
    "Capability",
    "ErrorHints",
    "HeaderAuth",
    "Page",
    "StateTable",
    "UnreadableJson",
    "excerpt",
    "parse_retry_after",
    "parse_time",
    "read_json",
]

log = logging.getLogger("jobhub")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Capability(enum.StrEnum):
    """What an adapter can do beyond get and list; `waiting.py` picks the cheapest way to wait."""

    CANCEL = "cancel"
    LONG_POLL = "long_poll"  # await_job(): the server holds the request until the job ends
    BATCH_REFRESH = "batch_refresh"  # refresh_jobs(): one request returns every job it holds


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A request and how to read its successful answer.

    `on_error` may turn a particular error response into a more precise error (return None to
    fall back to `Adapter.error`). `retry` says whether sending it twice is safe. `timeout`
    overrides the backend's per-request timeout (long-polls hold longer). `then`, for an answer
    that takes more than one request (a job whose tasks are served by a second, paged
    endpoint), gets the parsed result and returns the follow-up call whose result replaces it,
    or None when the result is complete; the runner sends each follow-up the same way.
    """

    request: httpx.Request
    parse: Callable[[httpx.Response], T]
    on_error: Callable[[httpx.Response], JobHubError | None] | None = None
    retry: bool = True
    timeout: float | None = None
    then: Callable[[T], Call[T] | None] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; `next` is the call for the following page, or None at the end."""

    jobs: list[Job]
    next: Call[Page] | None = None


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


def parse_time(value: Any) -> datetime | None:
    """A backend timestamp as an aware UTC datetime; a time without a zone is UTC.

    None for "", None and anything that is not a readable ISO 8601 time (epoch seconds, an
    offset past ±24 h, a time outside years 1–9999 once in UTC, a number): one unreadable
    field must not cost the whole job, and the payload's `raw` keeps what the backend sent.
    Each kind of unreadable text is logged once."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        _log_unreadable_time(value)
        return None
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


class StateTable:
    """A backend's native status words → canonical states, matched case-insensitively.

    An unknown word maps to `JobState.UNKNOWN` and is logged once per backend type and word.
    """

    def __init__(self, backend_type: str, table: Mapping[str, JobState]) -> None:
        self.backend_type = backend_type
        self._table = {word.lower(): state for word, state in table.items()}
        self._warned: set[str] = set()
        # The words as the table spells them and in lower case: a hot loop reads a word with
        # `known.get(word)` and calls the table only for what that misses.
        self.known: Mapping[str, JobState] = {**self._table, **table}

    def __call__(self, word: str | None) -> JobState:
        if word is None:
            return JobState.UNKNOWN
        state = self._table.get(word.lower())
        if state is None:
            self._warn(word)
            return JobState.UNKNOWN
        return state

    # A backend sending endless new words must not grow memory or flood the log.
    MAX_WARNED = 100

    def _warn(self, word: str) -> None:
        if word in self._warned or len(self._warned) > self.MAX_WARNED:
            return
        self._warned.add(word)
        if len(self._warned) > self.MAX_WARNED:
            log.warning("%s: many unknown status words; no more are logged", self.backend_type)
        else:
            log.warning(
                "%s: unknown status word %r, reported as 'unknown'",
                self.backend_type,
                word if len(word) <= 80 else excerpt(word, 80),
            )

    def words(self, state: JobState) -> list[str]:
        """Native words that map to `state` (for server-side filters)."""
        return [word for word, mapped in self._table.items() if mapped is state]

    def items(self) -> list[tuple[str, JobState]]:
        return list(self._table.items())


class HeaderAuth(httpx.Auth):
    """Puts a secret in one request header as each request is sent (e.g. `X-API-Key`).

    Without a secret it raises `ConfigError` naming the setting to fill, rather than sending
    an unauthenticated request. Its repr never shows the secret.
    """

    def __init__(
        self,
        adapter: Adapter,
        header: str,
        secret: SecretStr | None,
        *,
        setting: str,
        prefix: str = "",
    ) -> None:
        self._adapter_label = f"{adapter.type} backend {adapter.name!r}"
        self._header = header
        self._secret = secret
        self._setting = setting
        self._prefix = prefix

    def __repr__(self) -> str:
        return f"HeaderAuth({self._header!r}, {'**********' if self._secret else None})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._secret is None or not self._secret.get_secret_value():
            raise ConfigError(
                f"{self._adapter_label}: no {self._setting} is set — set it in the "
                "backend's settings or its environment variable"
            )
        request.headers[self._header] = self._prefix + self._secret.get_secret_value()
        yield request


@dataclass(frozen=True, slots=True)
class ErrorHints:
    """What an error message tells the user to check, per backend."""

    auth: str = "check the backend's credentials"
    not_found: str = "check the job id and the backend name"


class Adapter(ABC):
    """Base class of every backend adapter. Subclasses set the class attributes and implement
    `normalize`, `get_job` and `list_jobs`; the optional methods raise `NotSupported`.

    An adapter instance serves one configured backend: `name` is what the user called it,
    `settings` its validated settings (a `Settings` instance).
    """

    type: ClassVar[str]
    Settings: ClassVar[builtins.type[BackendSettings]] = BackendSettings
    env_defaults: ClassVar[Mapping[str, str]] = {}
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    hints: ClassVar[ErrorHints] = ErrorHints()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Where each setting's environment variable is declared: on the settings' fields
        # (`FromEnv`), or, for adapters written before that, in `env_defaults` itself.
        cls.env_defaults = {**cls.Settings.env_defaults(), **cls.__dict__.get("env_defaults", {})}

    def __init__(self, name: str, settings: BackendSettings) -> None:
        if not isinstance(settings, self.Settings):  # e.g. plain BackendSettings: add the rest
            settings = self.Settings.model_validate(settings.model_dump())
        self.name = name
        self.settings = settings
        self.base_url = httpx.URL(settings.url.rstrip("/"))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.base_url}>"

    # -- settings -------------------------------------------------------------------------------

    @classmethod
    def settings_from(
        cls, name: str, entry: Mapping[str, Any], env: Mapping[str, str]
    ) -> BackendSettings:
        """Validate one backend entry, filling unset keys from `env_defaults`."""
        data = dict(entry)
        data.setdefault("type", cls.type)
        for key, var in cls.env_defaults.items():
            if data.get(key) is None and env.get(var):
                data[key] = env[var]
        return cls.Settings.model_validate(data)

    @classmethod
    def configured_from_env(cls, env: Mapping[str, str]) -> bool:
        """True when the environment alone configures this backend (its credentials are set)."""
        return bool(cls.env_defaults) and all(env.get(var) for var in cls.env_defaults.values())

    # -- helpers for subclasses -----------------------------------------------------------------

    def ref(self, job_id: str) -> str:
        return f"{self.name}:{job_id}"

    def url(self, *segments: str) -> httpx.URL:
        """The base URL joined with path segments, each escaped so that no id can leave its
        segment (`/`, `?`, `#`, `%`, `..` and the like are percent-encoded). A segment no URL
        can carry (too long, a lone surrogate) raises `InvalidRef`."""
        parts = []
        try:
            for segment in segments:
                quoted = quote(segment, safe="")
                if quoted in {".", ".."}:
                    quoted = quoted.replace(".", "%2E")
                parts.append(quoted)
            path = self.base_url.path.rstrip("/") + "/" + "/".join(parts)
            return self.base_url.copy_with(path=path)
        except (httpx.InvalidURL, UnicodeEncodeError) as exc:
            raise self._unaddressable(exc) from None

    def request(
        self,
        method: str,
        *segments: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> httpx.Request:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.url(*segments)
        try:
            return httpx.Request(
                method,
                url,
                params=clean or None,
                json=json_body,
                headers={"Accept": "application/json"},
            )
        except (httpx.InvalidURL, UnicodeEncodeError) as exc:
            raise self._unaddressable(exc) from None

    def _unaddressable(self, exc: Exception) -> InvalidRef:
        return InvalidRef(
            f"{self.type} backend {self.name!r}: cannot build the request URL "
            f"({excerpt(describe(exc), 100)}) — a job id, workflow or paging "
            "token is too long or holds characters a URL cannot carry",
            backend=self.name,
        )

    def check_id(self, job_id: str) -> str:
        """Reject ids that cannot address a job; adapters with structured ids extend this."""
        if not isinstance(job_id, str) or not job_id.strip():
            raise InvalidRef(f"{self.type} backend {self.name!r}: empty job id", backend=self.name)
        return job_id

    def canonical_id(self, job_id: str) -> str:
        """The id the backend answers with for `job_id`: two ids that name the same job have
        the same canonical id. Most backends answer with the id as it was asked (this default);
        one that accepts several spellings of an id overrides it."""
        return job_id

    def answer_for(self, job_id: str, job: Job) -> Job:
        """`job`, when it is the job `job_id` asked for; otherwise `InvalidPayload` (a server
        answering about another job, or a connection shared by mistake across processes)."""
        if job.id == job_id or self.canonical_id(job.id) == self.canonical_id(job_id):
            return job
        raise self.invalid(
            f"asked for job {excerpt(job_id, 80)!r}, the backend answered about job "
            f"{excerpt(job.id, 80)!r}",
            job.raw,
        )

    def expecting(self, job_id: str, call: Call[Job]) -> Call[Job]:
        """`call` (a get or long-poll of `job_id`), refusing an answer about any other job."""
        parse = call.parse
        return dataclasses.replace(
            call, parse=lambda response: self.answer_for(job_id, parse(response))
        )

    def invalid(self, problem: str, payload: Any) -> InvalidPayload:
        """An `InvalidPayload` naming this backend, keeping the payload and an excerpt. The
        message holds excerpts only (the problem may quote the payload), so it stays one
        readable line without URL query strings."""
        return InvalidPayload(
            f"{self.type} backend {self.name!r}: {excerpt(problem, 300)} — the backend sent "
            f"something jobhub cannot read; is the url right? ({excerpt(payload, 120)})",
            backend=self.name,
            raw=payload,
            excerpt=excerpt(payload),
        )

    def validate(self, model: builtins.type[M], body: Any, *, what: str) -> M:
        """`body` read by the pydantic `model`, or an `InvalidPayload` whose message is
        `what` and the first problem: `validate(WireList, body, what="job list does not match
        Acme's")` → "job list does not match Acme's: items.0.id: Field required"."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise self.invalid(f"{what}: {describe(exc)}", body) from None

    def json(self, response: httpx.Response) -> Any:
        """The body as JSON (see `read_json`), or `InvalidPayload` saying what it is instead."""
        try:
            return read_json(response.content)
        except UnreadableJson as exc:
            raise self.invalid(
                f"HTTP {response.status_code} body {exc}", response.content
            ) from None

    # -- the contract ---------------------------------------------------------------------------

    def auth(self) -> httpx.Auth | None:
        """How requests are authenticated, applied when each request is sent (and re-sent)."""
        return None

    @abstractmethod
    def normalize(self, payload: Any) -> Job:
        """The backend's JSON for one job → `Job`. Pure; raises only `InvalidPayload`."""

    @abstractmethod
    def get_job(self, job_id: str) -> Call[Job]:
        """The call that fetches one job."""

    @abstractmethod
    def list_jobs(
        self,
        *,
        workflow: str | None = None,
        state: JobState | None = None,
        limit: int | None = None,
    ) -> Call[Page]:
        """The call for the first page of a listing. Filters are hints: the hub re-checks
        `state` and `limit` on what comes back, so an adapter may ignore them."""

    def cancel_job(self, job_id: str) -> Call[None]:
        raise NotSupported(
            f"{self.type} backend {self.name!r}: its API has no way to cancel a job",
            backend=self.name,
        )

    def await_job(self, job_id: str, *, offset: int = 0) -> Call[Job]:
        """Long-poll (`Capability.LONG_POLL`): answers when the job ends. When the server's hold
        expires first it answers 408, which arrives as `BackendUnavailable(status_code=408)`;
        the waiter re-issues the call. Long-poll calls set `retry=False` and a long `timeout`."""
        raise NotSupported(f"{self.type} backend {self.name!r}: no long-poll", backend=self.name)

    def refresh_jobs(self, *, wanted: Callable[[str], bool] | None = None) -> Call[list[Job]]:
        """Batch refresh (`Capability.BATCH_REFRESH`): every job the server holds, at once.
        `wanted`, when given, says which jobs the caller needs, by id as the backend answers
        it: the others need not be read (compare the raw id before building a Job); an adapter
        may return them anyway."""
        raise NotSupported(
            f"{self.type} backend {self.name!r}: no batch refresh", backend=self.name
        )

    # -- errors ---------------------------------------------------------------------------------

    def error_detail(self, response: httpx.Response) -> str | None:
        """The backend's own words about an error, from its error body. Override for the
        backend's format; the default reads `detail`, `error`, `message` or plain text."""
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            text = response.content[:300].decode("utf-8", "replace").strip()
            if not text or text.lstrip().startswith("<"):
                return None  # empty, or an HTML page from a proxy
            return excerpt(text, 160)
        if isinstance(body, dict):
            for key in ("detail", "error", "message"):
                value = body.get(key)
                if isinstance(value, dict):
                    value = value.get("message") or value.get("code")
                if isinstance(value, str) and value:
                    return excerpt(value, 160)
        return excerpt(body, 160) if body not in (None, "", {}, []) else None

    def error(self, response: httpx.Response) -> JobHubError:
        """Map an error response onto the error tree (one place for every backend)."""
        status = response.status_code
        detail = self.error_detail(response)
        said = f"{status} {detail}" if detail else f"{status} {response.reason_phrase}".strip()
        head = f"{self.type} backend {self.name!r}: {said}"
        common: dict[str, Any] = {
            "backend": self.name,
            "status_code": status,
            "raw": _body(response),
        }
        if status in (401, 403):
            return AuthError(f"{head} — {self.hints.auth}", **common)
        if status == 404:
            return JobNotFound(f"{head} — {self.hints.not_found}", **common)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f"retry in {retry_after:g} s" if retry_after is not None else "retry later"
            return RateLimited(
                f"{head} — too many requests; {wait} or lower the concurrency",
                retry_after=retry_after,
                **common,
            )
        if status >= 500 or status == 408:
            return BackendUnavailable(
                f"{head} — the backend is failing or down; try again later", **common
            )
        return BackendError(f"{head} — the backend refused the request", **common)


# JSON nested deeper is refused: no backend describes a job this deep, and pydantic cannot
# serialize a Job holding it (`jobhub get --json` would fail).
MAX_JSON_DEPTH = 200
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnreadableJson(ValueError):
    """What `read_json` refused; the message says what the text is instead ("is not JSON", "is
    nested more than 200 levels deep", ...), to follow the name of what was read."""


def read_json(content: bytes | str) -> Any:
    """JSON text as the value `json.loads` gives, made safe to carry into a Job, or
    `UnreadableJson`. Every JSON value jobhub reads from a backend comes through here.

    pydantic-core's parser reads it first: it is faster than `json.loads` and shares one
    object among equal short strings (status words, names, times), so jobs held for long take
    less memory. Text it refuses (lone surrogates, a byte-order mark, nesting deeper than it
    goes, a huge number) is read by `json.loads`, whose result and errors are the reference,
    with the limits every Job must meet to be printable: lone surrogates become U+FFFD, and
    nesting deeper than `MAX_JSON_DEPTH` is refused."""
    try:
        return from_json(content, cache_strings=True)
    except ValueError:
        pass
    try:
        return _carriable(json.loads(content, parse_int=_whole_number))
    except RecursionError:
        raise UnreadableJson(f"is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except UnreadableJson:
        raise
    except ValueError:
        raise UnreadableJson("is not JSON") from None


# Python refuses to read longer integers (a guard against slow conversions): say so plainly.
_MAX_DIGITS = 4300


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise UnreadableJson(
            f"holds an integer of {len(text.lstrip('-'))} digits (more than {_MAX_DIGITS} "
            "cannot be read)"
        )
    return int(text)


def _carriable(value: Any) -> Any:
    """`json.loads`' result made safe to carry into a Job: a lone surrogate (JSON allows
    `"\\ud800"`; no UTF-8 output can hold it) becomes U+FFFD, and nesting past
    `MAX_JSON_DEPTH` is refused. Changes `value` in place; iterative, so any depth is walked."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise UnreadableJson(f"is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(node, dict):
            for key in [k for k in node if _SURROGATE.search(k)]:
                node[_SURROGATE.sub("\ufffd", key)] = node.pop(key)
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for key, item in list(items):
            if isinstance(item, str):
                if _SURROGATE.search(item):
                    node[key] = _SURROGATE.sub("\ufffd", item)
            elif isinstance(item, dict | list):
                stack.append((item, depth + 1))
    return value


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return response.content[:2000].decode("utf-8", "replace")
