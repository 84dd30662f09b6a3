"""The HTTP API under `/api/v1` (see docs/serve.md and `jobhub.serve.openapi`), plus `/metrics`,
`/healthz` and `/readyz`.

Answers are JSON; job documents are sent as the store holds them (JSON text, spliced into the
answer without parsing). Errors are `{"error": {"status": N, "message": "..."}}` with a message
that says what to do. Backend data is only ever sent as JSON values, never as markup.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jobhub.errors import (
    ConfigError,
    InvalidRef,
    JobAlreadyFinished,
    JobHubError,
    JobNotFound,
    NotSupported,
)
from jobhub.model import JobRef
from jobhub.serve.auth import Access
from jobhub.serve.metrics import CONTENT_TYPE_LATEST
from jobhub.serve.openapi import openapi_document
from jobhub.serve.service import Service
from jobhub.store import EventFilter, JobQuery, StoredEvent
from jobhub.store.query import MAX_LIMIT, InvalidQuery

__all__ = ["routes"]

Handler = Callable[[Request], Awaitable[Response]]
JSON = "application/json"


class Problem(Exception):
    """An answer other than 2xx, with a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def problem_response(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="jobhub"'} if status == 401 else None
    return JSONResponse({"error": {"status": status, "message": message}}, status, headers)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def guarded(access: Access) -> Callable[[Handler], Handler]:
    """Answer 401/403 unless the request's token grants `access`; map `Problem`s."""

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            tokens = _service(request).options.tokens
            granted = tokens.access(request)
            if granted < access:
                if access is Access.WRITE and tokens.write is None:
                    return problem_response(
                        403, "cancelling is off: start jobhub serve with --write-token"
                    )
                if granted is Access.NONE:
                    return problem_response(
                        401, "send Authorization: Bearer <token> (the --token of jobhub serve)"
                    )
                return problem_response(403, "this needs the write token (--write-token)")
            try:
                return await handler(request)
            except Problem as exc:
                return problem_response(exc.status, exc.message)
            except InvalidQuery as exc:
                return problem_response(400, str(exc))

        return endpoint

    return wrap


# -- parameters ---------------------------------------------------------------------------------


def _int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Problem(400, f"{name} {text!r}: a whole number") from None
    if not low <= value <= high:
        raise Problem(400, f"{name} {value}: between {low} and {high}")
    return value


def _time(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Problem(
            400, f"{name} {text!r}: an ISO 8601 time, e.g. 2026-01-31T12:00:00Z"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    return {
        "backends": tuple(params.getlist("backend")),
        "states": tuple(params.getlist("state")),
        "workflow": params.get("workflow"),
        "user": params.get("user"),
        "q": params.get("q") or None,
    }


def _ref(request: Request) -> str:
    ref: str = request.path_params["ref"]
    try:
        JobRef.parse(ref)
    except InvalidRef as exc:
        raise Problem(400, str(exc)) from None
    return ref


# -- jobs ---------------------------------------------------------------------------------------


@guarded(Access.READ)
async def list_jobs(request: Request) -> Response:
    service = _service(request)
    fields = request.query_params.getlist("fields")
    if any(field != "raw" for field in fields):
        raise Problem(400, "fields: only 'raw' (adds each job's raw payload)")
    query = JobQuery(
        **_filters(request),
        since=_time(request, "since"),
        until=_time(request, "until"),
        sort=request.query_params.get("sort", "-created"),
        limit=_int(request, "limit", 100, low=1, high=MAX_LIMIT),
        cursor=request.query_params.get("cursor") or None,
        raw="raw" in fields,
    )
    # The position read first: a stream started from it misses nothing the page lacks.
    last_seq = await service.store.last_seq()
    page = await service.store.jobs(query)
    body = (
        '{"jobs":['
        + ",".join(record.document for record in page.records)
        + f'],"next_cursor":{json.dumps(page.next_cursor)},"last_seq":{last_seq}}}'
    )
    return Response(body, media_type=JSON)


@guarded(Access.READ)
async def get_job(request: Request) -> Response:
    record = await _service(request).store.job(_ref(request))
    if record is None:
        raise Problem(404, f"no job {request.path_params['ref']!r} in the store")
    return Response(record.document, media_type=JSON)


def _event_json(event: StoredEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "ref": event.ref,
        "kind": event.kind,
        "old": event.old,
        "new": event.new,
        "task": event.task,
        "at": event.at.isoformat(),
    }


@guarded(Access.READ)
async def job_history(request: Request) -> Response:
    store = _service(request).store
    ref = _ref(request)
    if await store.job(ref, raw=False) is None:
        raise Problem(404, f"no job {ref!r} in the store")
    after = _int(request, "after", 0, low=0, high=2**62)
    limit = _int(request, "limit", 1000, low=1, high=MAX_LIMIT)
    events = await store.job_events(ref, after=after, limit=limit)
    more = events[-1].seq if len(events) == limit else None
    return JSONResponse({"events": [_event_json(e) for e in events], "next_after": more})


@guarded(Access.WRITE)
async def cancel_job(request: Request) -> Response:
    service = _service(request)
    ref = JobRef.parse(_ref(request))
    hub = service.hubs.get(ref.backend)
    if hub is None:
        raise Problem(404, f"no backend named {ref.backend!r} is followed by this server")
    try:
        await hub.cancel(str(ref))
    except NotSupported as exc:
        raise Problem(501, str(exc)) from None
    except JobAlreadyFinished as exc:
        raise Problem(409, str(exc)) from None
    except JobNotFound as exc:
        raise Problem(404, str(exc)) from None
    except (InvalidRef, ConfigError) as exc:
        raise Problem(400, str(exc)) from None
    except JobHubError as exc:
        raise Problem(502, str(exc)) from None
    return JSONResponse({"cancelled": str(ref)}, 202)


# -- backends, stream, probes -------------------------------------------------------------------


def _jobs_by_backend(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    by_backend: dict[str, dict[str, int]] = {}
    for (backend, state), count in counts.items():
        by_backend.setdefault(backend, {})[state] = count
    return by_backend


def _health(service: Service) -> list[dict[str, Any]]:
    """Each backend's health, without job counts."""
    return [health.as_json({}) for _, health in sorted(service.health.items())]


def _health_signature(service: Service) -> tuple[tuple[object, ...], ...]:
    """What a change of makes the stream send a `backends` event."""
    return tuple(
        (h.name, h.up, h.following, h.last_error, h.paused_until)
        for _, h in sorted(service.health.items())
    )


@guarded(Access.READ)
async def backends(request: Request) -> Response:
    service = _service(request)
    jobs = _jobs_by_backend(await service.store.counts())
    holders = await service.node.holders()
    answer = [
        {**health.as_json(jobs.get(name, {})), "node": holders.get(name)}
        for name, health in sorted(service.health.items())
    ]
    return JSONResponse({"backends": answer})


@guarded(Access.READ)
async def events(request: Request) -> Response:
    service = _service(request)
    since_text = request.headers.get("last-event-id") or request.query_params.get("since")
    since = None
    if since_text is not None:
        try:
            since = int(since_text)
            if since < 0:
                raise ValueError
        except ValueError:
            raise Problem(
                400, f"since {since_text!r}: an event id (a whole number, 0 or more)"
            ) from None
    wanted = EventFilter(**_filters(request))
    metrics = service.metrics

    async def stream() -> Any:
        metrics.stream_clients.inc()
        health_sent = _health_signature(service)
        try:
            async for frames in service.broadcaster.follow(since, wanted):
                if frames is not None:
                    yield frames
                health = _health_signature(service)
                if health != health_sent:  # no id: not part of the log, not resumed
                    health_sent = health
                    yield {"event": "backends", "data": json.dumps(_health(service))}
        finally:
            metrics.stream_clients.dec()

    return EventSourceResponse(
        stream(), ping=service.options.keep_alive, headers={"Cache-Control": "no-store"}
    )


@guarded(Access.READ)
async def metrics(request: Request) -> Response:
    service = _service(request)
    up = {name: health.up for name, health in service.health.items()}
    body = service.metrics.render(await service.store.counts(), up)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@guarded(Access.NONE)
async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    service = _service(request)
    if not service.ready:
        return JSONResponse({"status": "starting"}, 503)
    try:
        await service.store.last_seq()
    except JobHubError:
        return JSONResponse({"status": "store unavailable"}, 503)
    return JSONResponse({"status": "ready"})


routes = [
    Route("/api/v1/openapi.json", openapi),
    Route("/api/v1/jobs", list_jobs),
    Route("/api/v1/jobs/{ref:path}/events", job_history),
    Route("/api/v1/jobs/{ref:path}/cancel", cancel_job, methods=["POST"]),
    Route("/api/v1/jobs/{ref:path}", get_job),
    Route("/api/v1/events", events),
    Route("/api/v1/backends", backends),
    Route("/metrics", metrics),
    Route("/healthz", healthz),
    Route("/readyz", readyz),
]
