"""The adapter contract: pure request builders and response parsers, no I/O.

The helpers adapters use live in modules named for them and are importable from here too, as
plugins import them: `parse_time` and `parse_retry_after` (`jobhub.times`), `StateTable`
(`jobhub.states`), `excerpt` (`jobhub.problems`), `read_json` and its limits
(`jobhub.json_reading`), `HeaderAuth` (`jobhub.auth`).

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
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from jobhub.auth import HeaderAuth
from jobhub.config import BackendSettings
from jobhub.errors import (
    AuthError,
    BackendError,
    BackendUnavailable,
    InvalidPayload,
    InvalidRef,
    JobHubError,
    JobNotFound,
    NotSupported,
    RateLimited,
)
from jobhub.json_reading import MAX_JSON_DEPTH, UnreadableJson, read_json
from jobhub.model import JobState
from jobhub.problems import describe, excerpt
from jobhub.states import StateTable
from jobhub.times import MAX_RETRY_AFTER_PAUSE, parse_retry_after, parse_time

if TYPE_CHECKING:
    from jobhub.model import Job

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_RETRY_AFTER_PAUSE",
    "Adapter",
    "Call",
    "Capability",
    "ErrorHints",
    "HeaderAuth",
    "Page",
    "StateTable",
    "UnreadableJson",
    "Wanted",
    "excerpt",
    "parse_retry_after",
    "parse_time",
    "read_json",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Capability(enum.StrEnum):
    """What an adapter can do beyond get and list; the waiting engine (`jobhub.waiting`) picks
    the cheapest way to wait.
    An adapter has a capability exactly when it overrides the capability's `method`."""

    CANCEL = "cancel"
    LONG_POLL = "long_poll"  # await_job(): the server holds the request until the job ends
    BATCH_REFRESH = "batch_refresh"  # refresh_jobs(): one request returns every job it holds

    @property
    def method(self) -> str:
        """The name of the `Adapter` method that provides it."""
        return _CAPABILITY_METHODS[self]


_CAPABILITY_METHODS = {
    Capability.CANCEL: "cancel_job",
    Capability.LONG_POLL: "await_job",
    Capability.BATCH_REFRESH: "refresh_jobs",
}


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


class Wanted:
    """Which jobs of a batch refresh a wait needs, and its last view of each.

    Called with a job's id as the backend answers it, it says whether the job is needed, as any
    `wanted` callable does. `unchanged(job_id, payload)` gives the view the wait holds when
    `payload` equals the payload that view was read from (its `raw`): the job has not changed,
    so an adapter may return that view instead of reading the payload again. A refresh then
    costs its parse and a comparison for each job that did not move."""

    __slots__ = ("_also", "_views")

    def __init__(self, views: Mapping[str, Job], also: Callable[[str], bool] | None = None):
        self._views = views  # the last view of each needed job, by id
        self._also = also  # other ids needed, with no view to compare (new jobs, watching)

    def __call__(self, job_id: str) -> bool:
        return job_id in self._views or (self._also is not None and self._also(job_id))

    def unchanged(self, job_id: str, payload: Any) -> Job | None:
        view = self._views.get(job_id)
        return view if view is not None and view.raw == payload else None


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
    # Derived when the class is made, from the methods it overrides: never declared apart.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    hints: ClassVar[ErrorHints] = ErrorHints()
    # True when each job a listing shows is the job a GET of it gives (the same payload, read
    # the same way): a wait then takes an end it sees in a listing without fetching the job.
    # False (a listing shows a summary): every end a listing shows is fetched in full.
    lists_whole_jobs: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        offered = frozenset(
            capability
            for capability in Capability
            if getattr(cls, capability.method) is not getattr(Adapter, capability.method)
        )
        declared = cls.__dict__.get("capabilities")
        if declared is not None and frozenset(declared) != offered:
            raise TypeError(
                f"{cls.__qualname__} declares capabilities {sorted(map(str, declared))}, but "
                f"the methods it overrides offer {sorted(map(str, offered))}: capabilities "
                "follow from the methods (cancel_job, await_job, refresh_jobs), so leave the "
                "declaration out"
            )
        cls.capabilities = offered
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
        """Cancel (`Capability.CANCEL`): asks the backend to stop the job."""
        raise NotSupported(
            f"{self.type} backend {self.name!r}: its API has no way to cancel a job, so jobhub "
            "cannot stop it; the job runs until it ends",
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
        may return them anyway. A wait passes a `Wanted`, whose `unchanged(id, payload)` gives
        the view it holds of a job whose payload has not changed: return that view as it is
        rather than normalizing the payload again."""
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


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return response.content[:2000].decode("utf-8", "replace")
