"""The OpenAPI 3.1 document of the API, served at `/api/v1/openapi.json`. The Job schema is the
model's own (`Job.model_json_schema()`), so the document cannot drift from what is sent."""

from __future__ import annotations

import functools
from typing import Any

from jobhub import __version__
from jobhub.model import Job, JobState
from jobhub.store.query import MAX_LIMIT, SORTS

__all__ = ["openapi_document"]


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


_STATES = {"type": "string", "enum": [state.value for state in JobState]}
_TIME = {"type": "string", "format": "date-time"}
_FILTERS = [
    _param(
        "backend",
        {"type": "array", "items": {"type": "string"}},
        "backend name (repeatable)",
        style="form",
        explode=True,
    ),
    _param(
        "state",
        {"type": "array", "items": _STATES},
        "canonical state (repeatable)",
        style="form",
        explode=True,
    ),
    _param("workflow", {"type": "string"}, "exact workflow"),
    _param("user", {"type": "string"}, "exact user"),
    _param("q", {"type": "string"}, "text in the ref, workflow or error (case-insensitive)"),
]
_REF = {
    "name": "ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "a job ref, `<backend>:<id>`",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UNAUTHORIZED = _error("no token, or not one this server knows")


@functools.cache
def openapi_document() -> dict[str, Any]:
    job_schema = Job.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = job_schema.pop("$defs", {})
    event = {
        "type": "object",
        "required": ["seq", "ref", "kind", "at"],
        "properties": {
            "seq": {"type": "integer"},
            "ref": {"type": "string"},
            "kind": {"type": "string", "enum": ["state", "task", "progress", "output"]},
            "old": {},
            "new": {},
            "task": {"type": ["string", "null"]},
            "at": _TIME,
        },
    }
    read: dict[str, Any] = {"security": [{"bearer": []}, {}]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jobhub serve",
            "version": __version__,
            "description": "Every backend's jobs, their events and health. See docs/serve.md.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **defs,
                "Job": job_schema,
                "Event": event,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["status", "message"],
                            "properties": {
                                "status": {"type": "integer"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
        "paths": {
            "/api/v1/jobs": {
                "get": {
                    **read,
                    "summary": "Jobs, filtered and sorted, a page at a time (keyset cursor)",
                    "parameters": [
                        *_FILTERS,
                        _param("since", _TIME, "created at or after"),
                        _param("until", _TIME, "created before"),
                        _param(
                            "sort",
                            {
                                "type": "string",
                                "enum": [f"{sign}{name}" for name in SORTS for sign in ("", "-")],
                                "default": "-created",
                            },
                            "order; '-' for descending",
                        ),
                        _param(
                            "limit",
                            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
                            "jobs per page",
                        ),
                        _param("cursor", {"type": "string"}, "a page's next_cursor"),
                        _param(
                            "fields",
                            {"type": "array", "items": {"enum": ["raw"]}},
                            "raw: add each job's raw payload",
                            style="form",
                            explode=True,
                        ),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["jobs", "next_cursor"],
                                "properties": {
                                    "jobs": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Job"},
                                    },
                                    "next_cursor": {"type": ["string", "null"]},
                                    "last_seq": {"type": "integer"},
                                },
                            }
                        ),
                        "400": _error("a parameter the server cannot use"),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/api/v1/jobs/{ref}": {
                "get": {
                    **read,
                    "summary": "One job, raw payload included",
                    "parameters": [_REF],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Job"}),
                        "400": _error("not a job ref"),
                        "401": _UNAUTHORIZED,
                        "404": _error("not in the store"),
                    },
                }
            },
            "/api/v1/jobs/{ref}/events": {
                "get": {
                    **read,
                    "summary": "One job's recorded events, oldest first",
                    "parameters": [
                        _REF,
                        _param("after", {"type": "integer", "minimum": 0}, "events past this seq"),
                        _param(
                            "limit",
                            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                            "events per answer",
                        ),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["events", "next_after"],
                                "properties": {
                                    "events": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Event"},
                                    },
                                    "next_after": {"type": ["integer", "null"]},
                                },
                            }
                        ),
                        "400": _error("a parameter the server cannot use"),
                        "401": _UNAUTHORIZED,
                        "404": _error("not in the store"),
                    },
                }
            },
            "/api/v1/jobs/{ref}/cancel": {
                "post": {
                    "security": [{"bearer": []}],
                    "summary": "Ask the job's backend to cancel it",
                    "parameters": [_REF],
                    "responses": {
                        "202": _json(
                            {"type": "object", "properties": {"cancelled": {"type": "string"}}},
                            "asked",
                        ),
                        "400": _error("not a job ref"),
                        "401": _UNAUTHORIZED,
                        "403": _error("no write token, or cancelling is off"),
                        "404": _error("unknown backend or job"),
                        "409": _error("the job has ended"),
                        "501": _error("the backend has no cancel"),
                        "502": _error("the backend failed"),
                    },
                }
            },
            "/api/v1/events": {
                "get": {
                    **read,
                    "summary": "Server-Sent Events: `id` the event's seq, `event: job`, `data` the "
                    "JobEvent (its job without raw); resumes from Last-Event-ID or since",
                    "parameters": [
                        *_FILTERS,
                        _param("since", {"type": "integer", "minimum": 0}, "events past this seq"),
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "schema": {"type": "string"},
                            "description": "as since; wins over it",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "400": _error("a parameter the server cannot use"),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/api/v1/backends": {
                "get": {
                    **read,
                    "summary": "Each backend's health and jobs by state",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "backends": {"type": "array", "items": {"type": "object"}}
                                },
                            }
                        ),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
        },
    }
