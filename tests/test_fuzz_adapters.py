"""Schema-driven fuzzing: payloads the vendors' schemas allow, then bent out of shape (fields
missing, null, of the wrong type, huge, nested far too deep, in odd unicode, numbers as strings,
booleans as numbers, lists for objects), fed to every adapter's `normalize` and, as HTTP
bodies, to its response parsers (get, list, refresh, await). Each must give a `Job` (or a page,
or a list of jobs) that can be printed as JSON, or raise `InvalidPayload` — nothing else.

Each example generates one payload from a schema and bends it `MUTANTS` (12) ways; a job goes
to `normalize` and to the parser of the call it answers, a listing to its parser, an error body
(with a status from 300 to 599) through the runners' error mapping. `JOBHUB_FUZZ_EXAMPLES` sets
the examples per test (default 30; about 1,100 bent payloads per adapter), the whole file in
about 13 s of CPU. Thirty is enough to find a time parser that lets a `ValueError` out on
unreadable text (tried: found through Sieve and Pixxel). For a long run:
`JOBHUB_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_adapters.py -p no:randomly`.

WES has no machine-readable spec among the vendors' files, so its payloads follow the shapes
the WES 1.1 specification documents (RunLog, Log, RunListResponse, TaskListResponse), written
out below as JSON Schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobhub import Hub
from jobhub.backend import Adapter, Call, Page
from jobhub.errors import InvalidPayload, InvalidRef, JobHubError
from jobhub.http import follow_up, interpret
from jobhub.model import Job
from jobhub.testing.fuzz import JUNK, _paths, _replace
from tests import specs
from tests.conftest import SECRET

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("JOBHUB_FUZZ_EXAMPLES", "30"))
MUTANTS = 12  # bent payloads per generated one
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the mutations ------------------------------------------------------------------------------

HUGE = "x" * 1_000_000  # one shared megabyte
ODD_TEXT = (
    "\ud800",  # a lone surrogate: valid JSON (`"\ud800"`), not valid UTF-8
    "a\udfffb",
    "\x00\x1f\x7f",
    "\u202eevil\u202c",  # right-to-left override
    "e\u0301\u0327",  # combining marks
    "\U0001f600\u2603",
    "\ufeff",
    "١٢٣",  # Arabic-Indic digits: int() reads them, JSON numbers are not these
)


def nested(depth: int, leaf: Any = None) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


DEEP = (nested(150), nested(400), nested(900))


def variants(value: Any) -> list[Any]:
    """Hostile stand-ins for `value`, some chosen for its type."""
    out: list[Any] = [None, HUGE, *ODD_TEXT, *DEEP, *JUNK]
    if isinstance(value, bool):
        out += [int(value), str(value).lower(), "yes"]
    elif isinstance(value, int | float):
        out += [str(value), f"{value}abc", value * 10**6, -value, 1e308 * 10 if value else 0]
    elif isinstance(value, str):
        out += [42, 4.2, True, [value], {"value": value}, value.upper()]
        out += [value * 1000] if len(value) < 1000 else []
    elif isinstance(value, dict):
        out += [[value], list(value), {**value, "\ud800": "x"}]
        out += [json.dumps(value)] if len(value) < 50 else []
    elif isinstance(value, list):
        out += [{"0": value[0]} if value else {}, [value], [None, *value]]
        out += [value * 50] if len(value) < 50 else []
    return out


DELETE = object()


def at(payload: Any, path: tuple[str | int, ...]) -> Any:
    """The value at `path`, or DELETE when an earlier mutation removed or replaced it."""
    for part in path:
        if not isinstance(payload, dict | list):
            return DELETE
        try:
            payload = payload[part]
        except (KeyError, IndexError, TypeError):
            return DELETE
    return payload


@st.composite
def mutation(draw: st.DrawFn, payload: Any) -> Any:
    """`payload` with one to three fields removed or replaced (copies: `payload` is kept)."""
    paths = list(_paths(payload))  # of the payload as generated, not of what is put in
    if not paths:
        return draw(st.sampled_from(variants(payload)))
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        target = at(payload, path)
        if target is DELETE:
            continue
        new = draw(st.sampled_from([DELETE, *variants(target)]))
        if new is DELETE:
            payload = _replace(payload, path, None, delete=True)
        else:
            payload = _replace(payload, path, new)
    return payload


# -- what each adapter reads --------------------------------------------------------------------

Reader = Callable[[Adapter, httpx.Response], Any]


@dataclass(frozen=True)
class Endpoint:
    """One way a body reaches an adapter: the call it answers, and the body's schema."""

    name: str
    call: Callable[[Adapter], Call[Any]]
    schema: dict[str, Any]


def nullable(node: dict[str, Any], *fields: str) -> dict[str, Any]:
    return specs.allow_null(node, *fields)


PRUNNER_JOB = nullable(specs.schema("prunner", "job"), "start", "end")
PRUNNER_LISTING = specs.response_schema("prunner", "/pipelines/jobs", "get", 200)
PRUNNER_LISTING["properties"]["jobs"]["items"] = PRUNNER_JOB
PRUNNER_ID = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"

TIME = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}
WES_STATES = [
    "UNKNOWN",
    "QUEUED",
    "INITIALIZING",
    "RUNNING",
    "PAUSED",
    "COMPLETE",
    "EXECUTOR_ERROR",
    "SYSTEM_ERROR",
    "CANCELED",
    "CANCELING",
    "PREEMPTED",
]
WES_LOG = {
    "type": "object",
    "properties": {
        "name": TEXT,
        "id": TEXT,
        "cmd": {"type": "array", "items": TEXT},
        "start_time": TIME,
        "end_time": TIME,
        "stdout": TEXT,
        "stderr": TEXT,
        "exit_code": {"type": "integer"},
        "system_logs": {"type": "array", "items": TEXT},
    },
}
WES_RUN = {
    "type": "object",
    "required": ["run_id"],
    "properties": {
        "run_id": TEXT,
        "state": {"enum": WES_STATES},
        "request": {
            "type": "object",
            "properties": {
                "workflow_params": {"type": "object"},
                "workflow_type": TEXT,
                "workflow_type_version": TEXT,
                "tags": {"type": "object", "additionalProperties": TEXT},
                "workflow_url": TEXT,
            },
        },
        "run_log": WES_LOG,
        "task_logs_url": TEXT,
        "task_logs": {"anyOf": [{"type": "array", "items": WES_LOG}, {"type": "null"}]},
        "outputs": {"type": "object"},
    },
}
WES_LISTING = {
    "type": "object",
    "properties": {
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["run_id"],
                "properties": {
                    "run_id": TEXT,
                    "state": {"enum": WES_STATES},
                    "start_time": TIME,
                    "end_time": TIME,
                    "tags": {"type": "object", "additionalProperties": TEXT},
                },
            },
        },
        "next_page_token": TEXT,
    },
}

JOBS: dict[str, list[Endpoint]] = {
    "sieve": [
        Endpoint("get", lambda a: a.get_job("j"), specs.schema("sieve", "Job")),
        Endpoint("await", lambda a: a.await_job("j"), specs.schema("sieve", "Job")),
    ],
    "pixxel": [
        Endpoint(
            "get",
            lambda a: a.get_job("wf/j"),
            specs.schema("pixxel", "dexter.GetJobByIdTransformerResponse"),
        ),
    ],
    "prunner": [Endpoint("get", lambda a: a.get_job(PRUNNER_ID), PRUNNER_JOB)],
    "wes": [Endpoint("get", lambda a: a.get_job("run-1"), WES_RUN)],
}
LISTINGS: dict[str, list[Endpoint]] = {
    "sieve": [
        Endpoint("list", lambda a: a.list_jobs(), specs.schema("sieve", "ListResponse_Job_")),
        Endpoint(
            "list workflow",
            lambda a: a.list_jobs(workflow="sieve/whisper"),
            specs.schema("sieve", "ListResponse_Job_"),
        ),
    ],
    "pixxel": [
        Endpoint(
            "list workflow",
            lambda a: a.list_jobs(workflow="wf"),
            specs.schema("pixxel", "dexter.ListJobsTransformerResponse"),
        ),
        Endpoint(
            "list workflows",
            lambda a: a.list_jobs(),
            specs.schema("pixxel", "dexter.ListWorkflowsTransformerResponse"),
        ),
    ],
    "prunner": [
        Endpoint("list", lambda a: a.list_jobs(), PRUNNER_LISTING),
        Endpoint("refresh", lambda a: a.refresh_jobs(), PRUNNER_LISTING),
    ],
    "wes": [Endpoint("list", lambda a: a.list_jobs(), WES_LISTING)],
}
CREDENTIAL = {"sieve": "api_key", "pixxel": "api_key", "prunner": "jwt_secret", "wes": "token"}
URL = {"wes": "https://wes.example/ga4gh/wes/v1"}


def adapter_for(backend: str) -> Adapter:
    entry = {"type": backend, CREDENTIAL[backend]: SECRET}
    if backend in URL:
        entry["url"] = URL[backend]
    return Hub({backend: entry}, env={}).backends[backend]


ADAPTERS = {backend: adapter_for(backend) for backend in JOBS}
SCHEMAS: dict[int, st.SearchStrategy[Any]] = {}


def mutants(data: st.DataObject, endpoint: Endpoint) -> list[Any]:
    """`MUTANTS` payloads bent out of shape from one the endpoint's schema allows (generating
    a payload costs far more than bending it)."""
    key = id(endpoint.schema)
    if key not in SCHEMAS:
        SCHEMAS[key] = specs.strategy(endpoint.schema)
    payload = data.draw(SCHEMAS[key], label="from the schema")
    return [data.draw(mutation(payload), label=f"mutant {n}") for n in range(MUTANTS)]


# -- the checks -----------------------------------------------------------------------------------


def printable(job: Any) -> None:
    """A `Job` that prints as JSON, the way `jobhub get --json` and `watch --json` print it."""
    assert isinstance(job, Job), f"got {type(job).__name__}, not a Job"
    job.model_dump_json()
    json.dumps(job.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")


def normalized(adapter: Adapter, payload: Any) -> None:
    try:
        job = adapter.normalize(payload)
    except InvalidPayload as exc:
        assert exc.backend == adapter.name and str(exc)
        return
    assert isinstance(job, Job)


def answered(adapter: Adapter, endpoint: Endpoint, payload: Any) -> None:
    """`payload` as the HTTP body answering `endpoint`'s call, read as the runners read it
    (`interpret`, then `follow_up` for the request it asks for next, if any). The runner's
    safety net, which turns any other exception from a parser into `InvalidPayload`, must not
    be what caught it: the parser itself raises `InvalidPayload`."""
    call = endpoint.call(adapter)
    body = json.dumps(payload).encode()
    response = httpx.Response(200, content=body, request=call.request)
    try:
        result = interpret(adapter, call, response)
        following = follow_up(adapter, call, result, 0)
    except InvalidPayload as exc:
        assert exc.backend == adapter.name and str(exc)
        cause = exc.__cause__
        assert cause is None or isinstance(cause, JobHubError), (
            f"the parser raised {type(cause).__name__}: {cause}"
        )
        return
    assert following is None or isinstance(following, Call)
    if isinstance(result, Page):
        for job in result.jobs:
            printable(job)
        assert result.next is None or isinstance(result.next, Call)
    elif isinstance(result, list):
        for job in result:
            printable(job)
    else:
        printable(result)


@pytest.mark.parametrize("backend", sorted(JOBS))
@FUZZ
@given(data=st.data())
def test_a_mutated_job_is_a_job_or_invalid_payload(backend: str, data: st.DataObject) -> None:
    adapter = ADAPTERS[backend]
    endpoint = data.draw(st.sampled_from(JOBS[backend]), label="endpoint")
    for payload in mutants(data, endpoint):
        normalized(adapter, payload)
        answered(adapter, endpoint, payload)


@pytest.mark.parametrize("backend", sorted(LISTINGS))
@FUZZ
@given(data=st.data())
def test_a_mutated_listing_is_a_page_or_invalid_payload(backend: str, data: st.DataObject) -> None:
    adapter = ADAPTERS[backend]
    endpoint = data.draw(st.sampled_from(LISTINGS[backend]), label="endpoint")
    for payload in mutants(data, endpoint):
        answered(adapter, endpoint, payload)


# -- error answers --------------------------------------------------------------------------------

ERROR_BODIES = {
    "sieve": specs.schema("sieve", "HTTPValidationError"),
    "pixxel": specs.schema("pixxel", "common.ErrorResponse"),
    "prunner": {"type": "object", "properties": {"error": TEXT}, "required": ["error"]},
    "wes": {
        "type": "object",
        "properties": {"msg": TEXT, "status_code": {"type": "integer"}},
    },
}
CALLS: dict[str, list[Callable[[Adapter], Call[Any]]]] = {
    "sieve": [
        lambda a: a.get_job("j"),
        lambda a: a.await_job("j"),
        lambda a: a.cancel_job("j"),
        lambda a: a.list_jobs(),
    ],
    "pixxel": [lambda a: a.get_job("wf/j"), lambda a: a.list_jobs()],
    "prunner": [
        lambda a: a.get_job(PRUNNER_ID),
        lambda a: a.cancel_job(PRUNNER_ID),
        lambda a: a.refresh_jobs(),
    ],
    "wes": [lambda a: a.get_job("run-1"), lambda a: a.cancel_job("run-1"), lambda a: a.list_jobs()],
}


@pytest.mark.parametrize("backend", sorted(ERROR_BODIES))
@FUZZ
@given(data=st.data())
def test_a_mutated_error_answer_is_a_typed_error(backend: str, data: st.DataObject) -> None:
    adapter = ADAPTERS[backend]
    call = data.draw(st.sampled_from(CALLS[backend]), label="call")(adapter)
    status = data.draw(st.integers(300, 599), label="status")
    schema = SCHEMAS.setdefault(id(ERROR_BODIES[backend]), specs.strategy(ERROR_BODIES[backend]))
    body = data.draw(schema, label="error body")
    for payload in [body, *(data.draw(mutation(body)) for _ in range(MUTANTS))]:
        content = json.dumps(payload).encode()
        response = httpx.Response(status, content=content, request=call.request)
        with pytest.raises(JobHubError) as caught:
            interpret(adapter, call, response)
        assert caught.value.status_code == status and str(caught.value)


# -- what the fuzzing found, kept as examples -----------------------------------------------------


def answer(adapter: Adapter, call: Call[Any], body: bytes) -> Any:
    return interpret(adapter, call, httpx.Response(200, content=body, request=call.request))


def test_a_lone_surrogate_in_an_answer_becomes_a_replacement_character() -> None:
    sieve = ADAPTERS["sieve"]
    body = b'{"id": "j", "status": "error", "error": "bad \\ud800 byte", "\\udfff": 1}'
    job = answer(sieve, sieve.get_job("j"), body)
    assert job.error == "bad \ufffd byte"
    assert "\ufffd" in job.raw
    assert json.loads(job.model_dump_json())["error"] == "bad \ufffd byte"


def test_an_answer_nested_past_the_depth_limit_is_an_invalid_payload() -> None:
    sieve = ADAPTERS["sieve"]
    body = json.dumps({"id": "j", "status": "finished", "outputs": nested(400)}).encode()
    with pytest.raises(InvalidPayload, match="nested more than 200 levels deep"):
        answer(sieve, sieve.get_job("j"), body)


def test_an_answer_nested_within_the_limit_gives_a_printable_job() -> None:
    sieve = ADAPTERS["sieve"]
    body = json.dumps({"id": "j", "status": "finished", "inputs": {"x": nested(190)}}).encode()
    answer(sieve, sieve.get_job("j"), body).model_dump_json()


def test_a_job_id_too_long_for_a_url_is_an_invalid_ref() -> None:
    with pytest.raises(InvalidRef, match="cannot build the request URL"):
        ADAPTERS["sieve"].get_job("j" * 70_000)


def test_a_listed_id_too_long_for_a_url_is_an_invalid_payload() -> None:
    pixxel = ADAPTERS["pixxel"]
    body = json.dumps({"workflows": [{"id": "w" * 70_000}]}).encode()
    with pytest.raises(InvalidPayload, match="cannot build the request URL"):
        answer(pixxel, pixxel.list_jobs(), body)


def test_a_paging_token_too_long_for_a_url_is_an_invalid_payload() -> None:
    wes = ADAPTERS["wes"]
    call = wes.get_job("run-1")
    job = answer(wes, call, b'{"run_id": "run-1", "task_logs_url": "x"}')
    tasks = follow_up(wes, call, job, 0)
    assert tasks is not None
    page = json.dumps({"task_logs": [], "next_page_token": "t" * 70_000}).encode()
    job = answer(wes, tasks, page)
    with pytest.raises(InvalidPayload, match="cannot build the request URL"):
        follow_up(wes, tasks, job, 1)
