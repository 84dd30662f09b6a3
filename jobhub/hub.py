"""`Hub` and `AsyncHub`: one face for every configured backend.

    hub = Hub({"sieve": {"api_key": "..."}, "ci": {"type": "prunner", "jwt_secret": "..."}})
    job = hub.get("ci:52a5cb79-...")
    for job in hub.list("sieve", state="running"): ...
    job = hub.wait("ci:52a5cb79-...", timeout=600)

Both hubs share every piece that is not I/O (`_HubBase`); the sync one sends with
`SyncRunner`, the async one with `AsyncRunner`. Waiting and watching (`jobhub.waiting`) run
on asyncio for both: the sync hub drives them on a private event loop in a worker thread.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, cast

import httpx

from jobhub.backend import Adapter, Call, Page
from jobhub.config import (
    check_permissions,
    load_config_file,
    locate_config,
    refuse_redirected_credentials,
)
from jobhub.configured import BackendsConfig, build_adapters, from_environment
from jobhub.errors import ConfigError, HubClosed, InvalidArgument, InvalidRef
from jobhub.http import AsyncRunner, SyncRunner
from jobhub.model import Job, JobEvent, JobRef, JobState
from jobhub.plugins import Registry, get_registry
from jobhub.waiting import Waiter
from jobhub.waiting.blocking import ThreadedRunner, blocking_call, blocking_iter, sync_only

__all__ = ["AsyncHub", "BackendsConfig", "Hub", "HubClosed"]

# Long-polls held at once per backend when a sync-only transport makes each take a thread.
THREADED_HOLDS = 16
Ref = str | JobRef


def _state(state: JobState | str | None) -> JobState | None:
    if state is None or isinstance(state, JobState):
        return state
    try:
        return JobState(state.lower())
    except ValueError:
        known = ", ".join(s.value for s in JobState)
        raise InvalidArgument(f"unknown state {state!r}; one of: {known}") from None


class _HubBase:
    def __init__(
        self,
        backends: BackendsConfig | None = None,
        *,
        registry: Registry | None = None,
        env: Mapping[str, str] | None = None,
        config_source: str | None = None,
    ) -> None:
        self.registry = registry or get_registry()
        environ = os.environ if env is None else env
        if backends is None:
            backends = from_environment(self.registry, environ)
        self._adapters = build_adapters(
            backends, registry=self.registry, env=environ, where=config_source or "backends"
        )

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        registry: Registry | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A hub from a TOML file (see `jobhub.config`) and the environment. Without a file,
        every backend type whose credentials are in the environment is configured under its
        type's name (e.g. `SIEVE_API_KEY` → a backend named `sieve`)."""
        registry = registry or get_registry()
        environ = os.environ if env is None else env
        located = locate_config(path)
        if located is None:
            return cls(None, registry=registry, env=environ, **kwargs)
        found, chosen = located
        backends = load_config_file(found)
        hub = cls(
            backends, registry=registry, env=environ, config_source=f"{found}: backends", **kwargs
        )
        if not chosen:
            refuse_redirected_credentials(found, backends, hub._adapters, environ)
        check_permissions(found, backends, hub._adapters)
        return hub

    @property
    def backends(self) -> Mapping[str, Adapter]:
        """Configured backends by name."""
        return dict(self._adapters)

    def adapter(self, name: str) -> Adapter:
        try:
            return self._adapters[name]
        except KeyError:
            known = ", ".join(sorted(self._adapters)) or "none"
            raise ConfigError(
                f"no backend named {name!r} is configured (configured: {known}) — "
                "add it to the config file or check the ref's prefix"
            ) from None

    def _target(self, ref: Ref) -> tuple[Adapter, str]:
        parsed = JobRef.parse(ref)
        adapter = self.adapter(parsed.backend)
        return adapter, adapter.check_id(parsed.id)

    def _wait_targets(self, refs: Iterable[Ref], *, what: str) -> list[JobRef]:
        """Refs checked before any request: each names a configured backend and a valid id."""
        if isinstance(refs, str | JobRef):
            raise InvalidRef(
                f"{what} takes a list of refs, not the single ref {str(refs)!r} — "
                f"pass [{str(refs)!r}], or use wait() for one job"
            )
        targets = []
        for ref in refs:
            adapter, job_id = self._target(ref)
            targets.append(JobRef(adapter.name, job_id))
        return targets

    def _watch_targets(self, refs: Iterable[Ref] | None, backend: str | None) -> list[JobRef]:
        if refs is None and backend is None:
            raise InvalidArgument("watch needs refs to watch, or backend=NAME to watch a backend")
        if backend is not None:
            self.adapter(backend)
        return self._wait_targets(refs or [], what="watch")

    def _first_page(
        self, name: str, state: JobState | str | None, workflow: str | None, limit: int | None
    ) -> tuple[Adapter, _Listing]:
        if limit is not None and limit < 0:
            raise InvalidArgument(f"limit must be 0 or more, not {limit}")
        limit = limit or None  # 0 is no limit, as in the command (and Kubernetes' lists)
        adapter = self.adapter(name)
        wanted = _state(state)
        call = adapter.list_jobs(workflow=workflow, state=wanted, limit=limit)
        return adapter, _Listing(call, wanted, limit)


class _Listing:
    """Paging state shared by both hubs: filters each page and knows the next call."""

    def __init__(self, call: Call[Page], wanted: JobState | None, limit: int | None) -> None:
        self.next: Call[Page] | None = call
        self.wanted = wanted
        self.remaining = limit

    def take(self, page: Page) -> list[Job]:
        jobs = [job for job in page.jobs if self.wanted is None or job.state is self.wanted]
        self.next = page.next
        if self.remaining is not None:
            jobs = jobs[: self.remaining]
            self.remaining -= len(jobs)
            if self.remaining <= 0:
                self.next = None
        return jobs


class Hub(_HubBase):
    """Get, list and cancel jobs on every configured backend, synchronously.

    `Hub(backends=None, *, transport=None, registry=None, env=None, config_source=None)`:

    - `backends`: `{name: {"type": ..., "url": ..., setting: value}}`, as the `[backends.*]`
      tables of a config file (see `Hub.from_config` to read one); None configures every
      backend type whose credentials are in the environment, named for its type.
    - `transport`: an `httpx.BaseTransport` every request goes through (tests use
      `httpx.MockTransport`); default: real connections, pooled per backend.
    - `registry`: the plugin `Registry` adapter types come from; default: the entry points.
    - `env`: the mapping environment credentials are read from; default: `os.environ`.
    - `config_source`: how errors name where the configuration came from (a file's path).

    Use it as a context manager, or call `close()`, to release its connections.
    """

    def __init__(
        self,
        backends: BackendsConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backends, **kwargs)
        self._runner = SyncRunner(transport)
        self._transport = transport

    def _run(self, adapter: Adapter, call: Call[Any]) -> Any:
        return self._runner.run(adapter, call)

    def get(self, ref: Ref) -> Job:
        """The job's current state. Raises `JobNotFound`, `AuthError`, ... on failure."""
        adapter, job_id = self._target(ref)
        return self._runner.run(adapter, adapter.expecting(job_id, adapter.get_job(job_id)))

    def list(
        self,
        name: str,
        *,
        state: JobState | str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Job]:
        """Jobs of backend `name`, newest first where the backend orders them; pages are
        fetched as the iterator advances. `limit` caps how many (0 or None: no limit)."""
        adapter, listing = self._first_page(name, state, workflow, limit)
        return self._iterate(adapter, listing)

    def _iterate(self, adapter: Adapter, listing: _Listing) -> Iterator[Job]:
        while listing.next is not None:
            yield from listing.take(self._runner.run(adapter, listing.next))

    def cancel(self, ref: Ref) -> None:
        """Ask the backend to cancel the job. `NotSupported` where its API cannot;
        `JobAlreadyFinished` when the job has ended."""
        adapter, job_id = self._target(ref)
        self._runner.run(adapter, adapter.cancel_job(job_id))

    def wait(self, ref: Ref, timeout: float | None = None, cancel_on_timeout: bool = False) -> Job:
        """Block until the job ends; return it as last seen (succeeded, failed, cancelled or
        skipped — a failed job is returned, not raised).

            job = hub.wait("ci:52a5cb79-...", timeout=600)
            if job.state is JobState.FAILED: print(job.error)

        Past `timeout` seconds it raises `WaitTimeout`, whose `pending` holds the last view of
        the job; with `cancel_on_timeout=True` the job is cancelled on its backend first.
        Transient faults (5xx, 429, timeouts, dropped connections) are ridden through;
        `AuthError`, `JobNotFound` and `ConfigError` are raised at once. Ctrl-C stops the wait
        and every request in flight. Works from any thread, with or without a running event
        loop (inside async code, prefer `AsyncHub`, which does not block the loop).
        """
        return self.wait_all([ref], timeout=timeout, cancel_on_timeout=cancel_on_timeout)[0]

    def wait_all(
        self, refs: Iterable[Ref], timeout: float | None = None, cancel_on_timeout: bool = False
    ) -> builtins.list[Job]:
        """Block until every job has ended; return them in the order of `refs`.

            jobs = hub.wait_all(["sieve:7f1c...", "ci:52a5..."], timeout=3600)
            failed = [job.ref for job in jobs if job.state is not JobState.SUCCEEDED]

        `timeout` bounds the whole call; `WaitTimeout.pending` holds the last view of each job
        still open (None if never seen), and `cancel_on_timeout=True` cancels those jobs (a
        backend without cancel, like Pixxel, is skipped and named in the message). Each
        backend is asked the cheapest way it offers: see `jobhub.waiting`.
        """
        targets = self._wait_targets(refs, what="wait_all")
        waiter = self._waiter()
        return blocking_call(
            lambda: waiter.wait_all(targets, timeout=timeout, cancel_on_timeout=cancel_on_timeout)
        )

    def as_completed(
        self,
        refs: Iterable[Ref],
        timeout: float | None = None,
        *,
        cancel_on_timeout: bool = False,
    ) -> Iterator[Job]:
        """Yield each job as it ends, in the order they end (each job once).

            for job in hub.as_completed(refs, timeout=3600):
                print(job.ref, job.state)

        `timeout` bounds the whole iteration, from its first step; past it `WaitTimeout` is
        raised from the loop. Breaking out of the loop stops every request.
        """
        targets = self._wait_targets(refs, what="as_completed")
        waiter = self._waiter()
        return blocking_iter(
            lambda: waiter.as_completed(
                targets, timeout=timeout, cancel_on_timeout=cancel_on_timeout
            )
        )

    def watch(
        self,
        refs: Iterable[Ref] | None = None,
        *,
        backend: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[JobEvent]:
        """Yield a `JobEvent` for each change seen: a job's state ("state"; `old` is None the
        first time a job is seen), a task's state ("task"), progress ("progress") and new
        outputs ("output"), each once, in order per job, a job's final state last.

            for event in hub.watch(["ci:52a5..."]):
                print(event.at, event.ref, event.kind, event.task or "", event.old, "->", event.new)

        With refs, the stream ends once every job has ended (`WaitTimeout` past `timeout`).
        With `backend=NAME`, every job the backend lists is watched, new ones as they appear,
        until you break out or `timeout` passes (then the stream simply ends).
        """
        targets = self._watch_targets(refs, backend)
        waiter = self._waiter()
        return blocking_iter(lambda: waiter.watch(targets, backend=backend, timeout=timeout))

    def _waiter(self) -> Waiter:
        if self._runner.closed:
            raise HubClosed
        if sync_only(self._transport):
            return Waiter(self._adapters, runners=self._threaded_runners)
        # No runner: each call opens one on its worker's event loop and closes it at the end.
        return Waiter(self._adapters, transport=cast(httpx.AsyncBaseTransport, self._transport))

    def _threaded_runners(self) -> tuple[ThreadedRunner, ThreadedRunner]:
        """Runners sending through this hub's own connections, from threads: GETs as many at
        once as each backend's `concurrency`, and up to `THREADED_HOLDS` held long-polls."""
        return (
            ThreadedRunner(self._runner, lambda adapter: adapter.settings.concurrency),
            ThreadedRunner(self._runner, lambda adapter: THREADED_HOLDS),
        )

    def close(self) -> None:
        self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHub(_HubBase):
    """The asyncio twin of `Hub`: the same methods, awaited (`list` is an async iterator).
    The same keyword arguments as `Hub`, `transport` being an `httpx.AsyncBaseTransport`."""

    def __init__(
        self,
        backends: BackendsConfig | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backends, **kwargs)
        self._runner = AsyncRunner(transport)
        self._waiter = Waiter(self._adapters, runner=self._runner, transport=transport)

    async def _run(self, adapter: Adapter, call: Call[Any]) -> Any:
        return await self._runner.run(adapter, call)

    async def get(self, ref: Ref) -> Job:
        adapter, job_id = self._target(ref)
        return await self._runner.run(adapter, adapter.expecting(job_id, adapter.get_job(job_id)))

    def list(
        self,
        name: str,
        *,
        state: JobState | str | None = None,
        workflow: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Job]:
        adapter, listing = self._first_page(name, state, workflow, limit)
        return self._iterate(adapter, listing)

    async def _iterate(self, adapter: Adapter, listing: _Listing) -> AsyncIterator[Job]:
        while listing.next is not None:
            for job in listing.take(await self._runner.run(adapter, listing.next)):
                yield job

    async def cancel(self, ref: Ref) -> None:
        adapter, job_id = self._target(ref)
        await self._runner.run(adapter, adapter.cancel_job(job_id))

    async def wait(
        self, ref: Ref, timeout: float | None = None, cancel_on_timeout: bool = False
    ) -> Job:
        """The job once it has ended (see `Hub.wait`).

            job = await hub.wait("sieve:7f1c...", timeout=600)

        Cancelling the awaiting task cancels every request in flight.
        """
        jobs = await self.wait_all([ref], timeout=timeout, cancel_on_timeout=cancel_on_timeout)
        return jobs[0]

    async def wait_all(
        self, refs: Iterable[Ref], timeout: float | None = None, cancel_on_timeout: bool = False
    ) -> builtins.list[Job]:
        """Every job once ended, in the order of `refs` (see `Hub.wait_all`).

        jobs = await hub.wait_all(refs, timeout=3600)
        """
        targets = self._wait_targets(refs, what="wait_all")
        return await self._waiter.wait_all(
            targets, timeout=timeout, cancel_on_timeout=cancel_on_timeout
        )

    def as_completed(
        self,
        refs: Iterable[Ref],
        timeout: float | None = None,
        *,
        cancel_on_timeout: bool = False,
    ) -> AsyncIterator[Job]:
        """Each job as it ends (see `Hub.as_completed`).

            async for job in hub.as_completed(refs, timeout=3600):
                print(job.ref, job.state)

        Leaving the loop early stops the requests once the iterator is closed: use
        `contextlib.aclosing(hub.as_completed(...))` to have that happen at once.
        """
        targets = self._wait_targets(refs, what="as_completed")
        return self._waiter.as_completed(
            targets, timeout=timeout, cancel_on_timeout=cancel_on_timeout
        )

    def watch(
        self,
        refs: Iterable[Ref] | None = None,
        *,
        backend: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[JobEvent]:
        """`JobEvent`s as changes are seen (see `Hub.watch`).

        async for event in hub.watch(backend="ci", timeout=300):
            print(event.ref, event.kind, event.old, "->", event.new)
        """
        targets = self._watch_targets(refs, backend)
        return self._waiter.watch(targets, backend=backend, timeout=timeout)

    async def aclose(self) -> None:
        await self._runner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
