"""Every answer the emulator gives, for every endpoint and status it can return, validated
against the vendor's own API description (tests/vendor/) with jsonschema.

Schemas are made strict (no properties beyond the documented ones) so a field the vendor does not
send shows up here. Where a vendor's description is known to be stale, the test says so in its
name and docstring. Error bodies the Sieve spec only gives by example are compared with that
example.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import jwt
import pytest

from jobhub.emulator import Emulator
from tests.specs import allow_null, load_spec, response_schema, schema

NAIVE_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RFC3339_FRACTION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def strict(node: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its
    properties and says nothing about others."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def validate(body: Any, node: dict[str, Any], *, formats: bool = True) -> None:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER if formats else None
    jsonschema.Draft202012Validator(strict(node), format_checker=checker).validate(body)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=11, speed=0, await_hold=0.2) as emulator:
        yield emulator


# -- Sieve ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sieve(emu: Emulator) -> Iterator[httpx.Client]:
    key = emu.backends["sieve"].credentials["api_key"]
    with httpx.Client(base_url=emu.urls["sieve"], headers={"X-API-Key": key}) as client:
        yield client


def sieve_example(path: str, method: str, status: int) -> Any:
    content = load_spec("sieve")["paths"][path][method]["responses"][str(status)]["content"]
    return content["application/json"]["example"]


def check_sieve(response: httpx.Response, path: str, method: str, status: int) -> Any:
    """Sieve's description is OpenAPI 3.1, so its schemas are JSON Schema as they stand. Its
    ``date-time`` fields hold zone-less times (the vendor's own examples are
    ``2024-12-15T01:41:59.195000``), so formats are checked by pattern, not RFC 3339."""
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, response_schema("sieve", path, method, status), formats=False)
    return body


def sieve_job(emu: Emulator, *, advance: float = 0.0, **steer: Any) -> str:
    job_id = emu.submit("sieve", **steer)
    emu.clock.advance(advance)
    return job_id


@pytest.mark.parametrize(
    ("steer", "advance", "status"),
    [
        ({"duration": 10}, 0.0, "queued"),
        ({"duration": 10}, 5.0, "processing"),
        ({"duration": 10, "outcome": "succeeded"}, 20.0, "finished"),
        ({"duration": 10, "outcome": "failed"}, 20.0, "error"),
    ],
)
def test_sieve_get_job_200_matches_job_schema_in_every_state(
    emu: Emulator, sieve: httpx.Client, steer: dict[str, Any], advance: float, status: str
) -> None:
    job_id = sieve_job(emu, advance=advance, **steer)
    body = check_sieve(sieve.get(f"/v2/jobs/{job_id}"), "/v2/jobs/{job_id}", "get", 200)
    assert body["status"] == status
    for key in ("created_at", "started_at", "completed_at"):
        assert body[key] is None or NAIVE_UTC.match(body[key]), body[key]


def test_sieve_get_cancelled_job_200_matches_job_schema(emu: Emulator, sieve: httpx.Client) -> None:
    job_id = sieve_job(emu, advance=3.0, duration=10)
    sieve.delete(f"/v2/jobs/{job_id}")
    body = check_sieve(sieve.get(f"/v2/jobs/{job_id}"), "/v2/jobs/{job_id}", "get", 200)
    assert body["status"] == "cancelled"


def test_sieve_get_unknown_job_404_is_the_documented_body(sieve: httpx.Client) -> None:
    response = sieve.get(f"/v2/jobs/{UNKNOWN_ID}")
    assert check_sieve(response, "/v2/jobs/{job_id}", "get", 404) == sieve_example(
        "/v2/jobs/{job_id}", "get", 404
    )


@pytest.mark.parametrize(
    ("method", "path", "spec_path"),
    [
        ("get", "/v2/jobs/{id}", "/v2/jobs/{job_id}"),
        ("delete", "/v2/jobs/{id}", "/v2/jobs/{job_id}"),
        ("get", "/v2/jobs/{id}/await", "/v2/jobs/{job_id}/await"),
        ("get", "/v2/jobs", "/v2/jobs"),
        (
            "get",
            "/v2/functions/sieve/whisper/jobs",
            "/v2/functions/{owner_name}/{function_name}/jobs",
        ),
        ("post", "/v2/push", "/v2/push"),
        ("get", "/v2/logs", "/v2/logs"),
    ],
)
def test_sieve_every_endpoint_401_is_the_documented_body(
    emu: Emulator, method: str, path: str, spec_path: str
) -> None:
    url = emu.urls["sieve"] + path.replace("{id}", UNKNOWN_ID)
    response = httpx.request(method, url, headers={"X-API-Key": "wrong"}, json={})
    assert check_sieve(response, spec_path, method, 401) == sieve_example(spec_path, method, 401)


@pytest.mark.parametrize(
    ("path", "spec_path"),
    [
        ("/v2/jobs/{id}?offset=many", "/v2/jobs/{job_id}"),
        ("/v2/jobs/{id}/await?offset=many", "/v2/jobs/{job_id}/await"),
        ("/v2/jobs?limit=many", "/v2/jobs"),
        (
            "/v2/functions/sieve/whisper/jobs?offset=x",
            "/v2/functions/{owner_name}/{function_name}/jobs",
        ),
    ],
)
def test_sieve_non_integer_query_422_matches_validation_error_schema(
    emu: Emulator, sieve: httpx.Client, path: str, spec_path: str
) -> None:
    job_id = sieve_job(emu, duration=1)
    response = sieve.get(path.replace("{id}", job_id))
    body = check_sieve(response, spec_path, "get", 422)
    assert body["detail"][0]["loc"][0] == "query"


def test_sieve_await_200_when_the_job_ends_matches_job_schema(
    emu: Emulator, sieve: httpx.Client
) -> None:
    job_id = sieve_job(emu, advance=30.0, duration=5, outcome="succeeded")
    body = check_sieve(sieve.get(f"/v2/jobs/{job_id}/await"), "/v2/jobs/{job_id}/await", "get", 200)
    assert body["status"] == "finished"


def test_sieve_await_408_after_the_hold_is_the_documented_body(
    emu: Emulator, sieve: httpx.Client
) -> None:
    job_id = sieve_job(emu, duration=60)
    response = sieve.get(f"/v2/jobs/{job_id}/await")
    assert check_sieve(response, "/v2/jobs/{job_id}/await", "get", 408) == sieve_example(
        "/v2/jobs/{job_id}/await", "get", 408
    )


def test_sieve_await_unknown_job_404_is_the_documented_body(sieve: httpx.Client) -> None:
    response = sieve.get(f"/v2/jobs/{UNKNOWN_ID}/await")
    assert check_sieve(response, "/v2/jobs/{job_id}/await", "get", 404) == sieve_example(
        "/v2/jobs/{job_id}/await", "get", 404
    )


def test_sieve_list_jobs_200_matches_list_response_schema(
    emu: Emulator, sieve: httpx.Client
) -> None:
    sieve_job(emu, duration=3, outcome="failed")
    body = check_sieve(sieve.get("/v2/jobs", params={"limit": 2}), "/v2/jobs", "get", 200)
    assert len(body["data"]) <= 2


def test_sieve_list_function_jobs_200_matches_list_response_schema(
    emu: Emulator, sieve: httpx.Client
) -> None:
    sieve_job(emu, duration=3, workflow="sieve/yolov8")
    path = "/v2/functions/{owner_name}/{function_name}/jobs"
    body = check_sieve(sieve.get("/v2/functions/sieve/yolov8/jobs"), path, "get", 200)
    assert {job["function"]["name"] for job in body["data"]} == {"yolov8"}


def test_sieve_list_jobs_of_unknown_function_404_is_the_documented_body(
    sieve: httpx.Client,
) -> None:
    path = "/v2/functions/{owner_name}/{function_name}/jobs"
    response = sieve.get("/v2/functions/nobody/nothing/jobs")
    assert check_sieve(response, path, "get", 404) == sieve_example(path, "get", 404)


def test_sieve_cancel_200_matches_status_response_schema(
    emu: Emulator, sieve: httpx.Client
) -> None:
    job_id = sieve_job(emu, advance=2.0, duration=10)
    check_sieve(sieve.delete(f"/v2/jobs/{job_id}"), "/v2/jobs/{job_id}", "delete", 200)


def test_sieve_cancel_of_ended_job_400_is_the_documented_body(
    emu: Emulator, sieve: httpx.Client
) -> None:
    job_id = sieve_job(emu, advance=30.0, duration=2)
    response = sieve.delete(f"/v2/jobs/{job_id}")
    assert check_sieve(response, "/v2/jobs/{job_id}", "delete", 400) == sieve_example(
        "/v2/jobs/{job_id}", "delete", 400
    )


def test_sieve_cancel_unknown_job_404_is_the_documented_body(sieve: httpx.Client) -> None:
    response = sieve.delete(f"/v2/jobs/{UNKNOWN_ID}")
    assert check_sieve(response, "/v2/jobs/{job_id}", "delete", 404) == sieve_example(
        "/v2/jobs/{job_id}", "delete", 404
    )


def test_sieve_push_200_matches_push_response_schema(sieve: httpx.Client) -> None:
    response = sieve.post("/v2/push", json={"function": "sieve/whisper:latest", "inputs": {}})
    body = check_sieve(response, "/v2/push", "post", 200)
    assert body["status"] == "queued"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"function": "no-owner", "inputs": {}}, 400),
        ({"function": "nobody/nothing", "inputs": {}}, 404),
    ],
)
def test_sieve_push_refusals_are_the_documented_bodies(
    sieve: httpx.Client, payload: dict[str, Any], status: int
) -> None:
    response = sieve.post("/v2/push", json=payload)
    assert check_sieve(response, "/v2/push", "post", status) == sieve_example(
        "/v2/push", "post", status
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"function": "sieve/whisper"},
        {"function": "sieve/whisper", "inputs": {"duration": "soon"}},
        {"function": "sieve/whisper", "inputs": {"outcome": "maybe"}},
    ],
)
def test_sieve_push_unusable_body_422_matches_validation_error_schema(
    sieve: httpx.Client, payload: dict[str, Any]
) -> None:
    check_sieve(sieve.post("/v2/push", json=payload), "/v2/push", "post", 422)


def test_sieve_logs_200_matches_logs_response_schema(emu: Emulator, sieve: httpx.Client) -> None:
    job_id = sieve_job(emu, advance=30.0, duration=4, outcome="failed")
    body = check_sieve(sieve.get("/v2/logs", params={"job_id": job_id}), "/v2/logs", "get", 200)
    assert body["data"][0]["labels"]["job_id"] == job_id


def test_sieve_logs_of_unknown_job_404_is_the_documented_body(sieve: httpx.Client) -> None:
    response = sieve.get("/v2/logs", params={"job_id": UNKNOWN_ID})
    assert check_sieve(response, "/v2/logs", "get", 404) == sieve_example("/v2/logs", "get", 404)


def test_sieve_logs_bad_window_400_is_the_documented_body(sieve: httpx.Client) -> None:
    response = sieve.get("/v2/logs", params={"start_time": "yesterday"})
    assert check_sieve(response, "/v2/logs", "get", 400) == sieve_example("/v2/logs", "get", 400)


# -- Pixxel --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pixxel(emu: Emulator) -> Iterator[httpx.Client]:
    key = emu.backends["pixxel"].credentials["api_key"]
    with httpx.Client(base_url=emu.urls["pixxel"], headers={"Authorization": key}) as client:
        yield client


def check_pixxel(response: httpx.Response, path: str, method: str, status: int) -> Any:
    """Pixxel's description is OpenAPI 3.0; tests/specs.py turns it into JSON Schema."""
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, response_schema("pixxel", path, method, status))
    return body


def check_pixxel_not_found(response: httpx.Response) -> Any:
    """Pixxel's description lists no 404 at all; the emulator answers an unknown workflow or job
    with 404 and the vendor's documented error body (``common.ErrorResponse``)."""
    assert response.status_code == 404, response.text
    body = response.json()
    validate(body, schema("pixxel", "common.ErrorResponse"))
    return body


def pixxel_ids(job_ref: str) -> tuple[str, str]:
    workflow_id, job_id = job_ref.split("/")
    return workflow_id, job_id


PIXXEL_JOB = "/v0/workflows/{workflow_id}/jobs/{job_id}"
PIXXEL_JOBS = "/v0/workflows/{workflow_id}/jobs"


@pytest.mark.parametrize(
    ("steer", "advance", "status"),
    [
        ({"duration": 10}, 0.0, "queued"),
        ({"duration": 10}, 5.0, "running"),
        ({"duration": 10, "outcome": "succeeded"}, 20.0, "completed"),
        ({"duration": 10, "outcome": "failed"}, 20.0, "failed"),
    ],
)
def test_pixxel_get_job_200_matches_get_job_schema_in_every_state(
    emu: Emulator, pixxel: httpx.Client, steer: dict[str, Any], advance: float, status: str
) -> None:
    workflow_id, job_id = pixxel_ids(emu.submit("pixxel", **steer))
    emu.clock.advance(advance)
    response = pixxel.get(f"/v0/workflows/{workflow_id}/jobs/{job_id}")
    body = check_pixxel(response, PIXXEL_JOB, "get", 200)
    assert body["status"] == status
    times = [body["created_at"], body["updated_at"], body["finished_at"]]
    times += [task[key] for task in body["tasks"] for key in ("created_at", "finished_at")]
    assert all(t == "" or RFC3339_FRACTION.match(t) for t in times), times


def test_pixxel_get_unknown_job_404_has_the_error_body(emu: Emulator, pixxel: httpx.Client) -> None:
    workflow_id = next(iter(emu.backends["pixxel"].workflows))  # type: ignore[attr-defined]
    check_pixxel_not_found(pixxel.get(f"/v0/workflows/{workflow_id}/jobs/{UNKNOWN_ID}"))


@pytest.mark.parametrize(
    ("method", "path", "spec_path"),
    [
        ("get", "/v0/workflows", "/v0/workflows"),
        ("get", "/v0/workflows/{wf}/jobs", PIXXEL_JOBS),
        ("post", "/v0/workflows/{wf}/jobs?project_id=p", PIXXEL_JOBS),
        ("get", "/v0/workflows/{wf}/jobs/{id}", PIXXEL_JOB),
    ],
)
def test_pixxel_every_endpoint_403_matches_error_response_schema(
    emu: Emulator, method: str, path: str, spec_path: str
) -> None:
    workflow_id = next(iter(emu.backends["pixxel"].workflows))  # type: ignore[attr-defined]
    url = emu.urls["pixxel"] + path.replace("{wf}", workflow_id).replace("{id}", UNKNOWN_ID)
    response = httpx.request(method, url, headers={"Authorization": "Bearer wrong"})
    body = check_pixxel(response, spec_path, method, 403)
    assert body["error"]["code"] == "FORBIDDEN"


def test_pixxel_list_workflows_200_matches_list_workflows_schema(pixxel: httpx.Client) -> None:
    body = check_pixxel(
        pixxel.get("/v0/workflows", params={"limit": 2}), "/v0/workflows", "get", 200
    )
    assert body["pagination"]["total"] >= len(body["workflows"])


def test_pixxel_list_workflows_bad_limit_400_matches_error_response_schema(
    pixxel: httpx.Client,
) -> None:
    check_pixxel(pixxel.get("/v0/workflows", params={"limit": "all"}), "/v0/workflows", "get", 400)


def test_pixxel_list_jobs_200_matches_list_jobs_schema(emu: Emulator, pixxel: httpx.Client) -> None:
    workflow_id, _ = pixxel_ids(emu.submit("pixxel", duration=4, outcome="failed"))
    emu.clock.advance(2)
    body = check_pixxel(pixxel.get(f"/v0/workflows/{workflow_id}/jobs"), PIXXEL_JOBS, "get", 200)
    assert body["jobs"]


def test_pixxel_list_jobs_of_unknown_workflow_404_has_the_error_body(
    pixxel: httpx.Client,
) -> None:
    check_pixxel_not_found(pixxel.get(f"/v0/workflows/{UNKNOWN_ID}/jobs"))


def test_pixxel_create_job_200_matches_post_workflow_run_schema(
    emu: Emulator, pixxel: httpx.Client
) -> None:
    backend: Any = emu.backends["pixxel"]
    workflow_id = next(iter(backend.workflows))
    response = pixxel.post(
        f"/v0/workflows/{workflow_id}/jobs",
        params={"project_id": backend.project_id, "duration": "5"},
    )
    body = check_pixxel(response, PIXXEL_JOBS, "post", 200)
    assert body["workflow_id"] == workflow_id


@pytest.mark.parametrize(
    "params",
    [{}, {"project_id": "another"}, {"outcome": "maybe"}, {"duration": "-1"}],
)
def test_pixxel_create_job_refusals_400_match_error_response_schema(
    emu: Emulator, pixxel: httpx.Client, params: dict[str, str]
) -> None:
    backend: Any = emu.backends["pixxel"]
    workflow_id = next(iter(backend.workflows))
    query = (
        {"project_id": backend.project_id, **params} if params.keys() - {"project_id"} else params
    )
    response = pixxel.post(f"/v0/workflows/{workflow_id}/jobs", params=query)
    check_pixxel(response, PIXXEL_JOBS, "post", 400)


def test_pixxel_create_job_in_unknown_workflow_404_has_the_error_body(
    emu: Emulator, pixxel: httpx.Client
) -> None:
    backend: Any = emu.backends["pixxel"]
    response = pixxel.post(
        f"/v0/workflows/{UNKNOWN_ID}/jobs", params={"project_id": backend.project_id}
    )
    check_pixxel_not_found(response)


# -- prunner -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prunner(emu: Emulator) -> Iterator[httpx.Client]:
    token = emu.backends["prunner"].token("j.doe")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=emu.urls["prunner"], headers=headers) as client:
        yield client


def prunner_job_schema() -> dict[str, Any]:
    """prunner's ``job`` definition, corrected where its generated Swagger is stale: job and
    task ``start``/``end`` are null until set, and ``variables`` hold any JSON value (the
    Swagger renders Go's ``interface{}`` as ``type: object``)."""
    job = allow_null(schema("prunner", "job"), "start", "end")
    job["properties"]["tasks"]["items"] = allow_null(
        job["properties"]["tasks"]["items"], "start", "end"
    )
    job["properties"]["variables"] = {"type": "object"}
    return job


def check_prunner(response: httpx.Response, path: str, method: str, status: int) -> Any:
    """Swagger 2 definitions validated as JSON Schema, formats (RFC 3339 times) included."""
    assert response.status_code == status, response.text
    body = response.json()
    node = response_schema("prunner", path, method, status)
    validate(body, _with_job_fix(node))
    return body


def _with_job_fix(node: dict[str, Any]) -> dict[str, Any]:
    node = copy.deepcopy(node)
    if node.get("properties", {}).get("pipeline") and "tasks" in node.get("properties", {}):
        return prunner_job_schema()
    jobs = node.get("properties", {}).get("jobs")
    if jobs is not None:
        jobs["items"] = prunner_job_schema()
    return node


GENERIC_ERROR = "genericErrorResponse"


def check_prunner_error(response: httpx.Response, status: int, message: str) -> None:
    """prunner's ``{"error": "..."}`` body (its Swagger gives it only for 400; 404 and 500
    are documented without a schema, and use the same body in the source)."""
    assert response.status_code == status, response.text
    node = load_spec("prunner")["responses"][GENERIC_ERROR]["schema"]
    validate(response.json(), node)
    assert response.json() == {"error": message}


def prunner_job(emu: Emulator, *, advance: float = 0.0, **steer: Any) -> str:
    job_id = emu.submit("prunner", **steer)
    emu.clock.advance(advance)
    return job_id


def test_prunner_pipelines_matches_pipelines_response_schema(prunner: httpx.Client) -> None:
    body = check_prunner(prunner.get("/pipelines/"), "/pipelines/", "get", 200)
    assert [p["pipeline"] for p in body["pipelines"]] == sorted(
        p["pipeline"] for p in body["pipelines"]
    )


def test_prunner_pipelines_without_trailing_slash_is_the_same_answer(
    prunner: httpx.Client,
) -> None:
    assert prunner.get("/pipelines").json() == prunner.get("/pipelines/").json()


@pytest.mark.parametrize(
    ("steer", "advance"),
    [
        ({"duration": 10}, 0.0),
        ({"duration": 10, "outcome": "succeeded"}, 5.0),
        ({"duration": 10, "outcome": "succeeded"}, 30.0),
        ({"duration": 10, "outcome": "failed"}, 30.0),
    ],
    ids=["queued", "running", "succeeded", "failed"],
)
def test_prunner_job_detail_matches_job_schema_with_nullable_times_stale_in_swagger(
    emu: Emulator, prunner: httpx.Client, steer: dict[str, Any], advance: float
) -> None:
    """The Swagger says ``start``/``end`` are strings; prunner sends null until they are set."""
    job_id = prunner_job(emu, advance=advance, **steer)
    body = check_prunner(
        prunner.get("/job/detail", params={"id": job_id}), "/job/detail", "get", 200
    )
    times = [body["created"], body["start"], body["end"]]
    times += [t[key] for t in body["tasks"] for key in ("start", "end")]
    assert all(t is None or RFC3339_SECONDS.match(t) for t in times), times


def test_prunner_job_cancelled_before_start_matches_job_schema_with_null_times(
    emu: Emulator, prunner: httpx.Client
) -> None:
    """The Swagger says ``start``/``end`` are strings; a job cancelled while queued has null."""
    job_id = prunner_job(emu, duration=10)
    prunner.post("/job/cancel", params={"id": job_id})
    body = check_prunner(
        prunner.get("/job/detail", params={"id": job_id}), "/job/detail", "get", 200
    )
    assert body["start"] is None and body["end"] is None


def test_prunner_pipelines_jobs_matches_schema_with_nullable_times_stale_in_swagger(
    emu: Emulator, prunner: httpx.Client
) -> None:
    """Every job in the combined listing, queued ones with null ``start``/``end`` included."""
    prunner_job(emu, duration=10, outcome="failed")
    prunner_job(emu, duration=10)
    body = check_prunner(prunner.get("/pipelines/jobs"), "/pipelines/jobs", "get", 200)
    assert any(job["start"] is None for job in body["jobs"])


def test_prunner_schedule_answers_202_stale_in_swagger_with_the_documented_body(
    prunner: httpx.Client,
) -> None:
    """The Swagger documents only a default answer; prunner sends 202 Accepted."""
    response = prunner.post("/pipelines/schedule", json={"pipeline": "deploy"})
    assert response.status_code == 202
    validate(response.json(), response_schema("prunner", "/pipelines/schedule", "post", "default"))


@pytest.mark.parametrize(
    "payload",
    [
        {"pipeline": "nope"},
        {},
        {"pipeline": 3},
        {"pipeline": "release", "variables": ["not", "an", "object"]},
        {"pipeline": "release", "variables": {"duration": "forever"}},
        {"pipeline": "release", "variables": {"outcome": "maybe"}},
    ],
)
def test_prunner_schedule_refusals_400_match_generic_error_schema(
    prunner: httpx.Client, payload: dict[str, Any]
) -> None:
    check_prunner(
        prunner.post("/pipelines/schedule", json=payload), "/pipelines/schedule", "post", 400
    )


def test_prunner_schedule_bad_json_400_matches_generic_error_schema(prunner: httpx.Client) -> None:
    response = prunner.post("/pipelines/schedule", content=b"{not json")
    check_prunner(response, "/pipelines/schedule", "post", 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/job/detail"), ("post", "/job/cancel"), ("get", "/job/logs")],
)
def test_prunner_non_uuid_id_400_is_invalid_job_id(
    prunner: httpx.Client, method: str, path: str
) -> None:
    response = prunner.request(method, path, params={"id": "42", "task": "build"})
    check_prunner(response, path, method, 400)
    assert response.json() == {"error": "Invalid job id"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/job/detail"), ("post", "/job/cancel"), ("get", "/job/logs")],
)
def test_prunner_unknown_job_404_is_job_not_found(
    prunner: httpx.Client, method: str, path: str
) -> None:
    response = prunner.request(method, path, params={"id": UNKNOWN_ID, "task": "build"})
    check_prunner_error(response, 404, "Job not found")


def test_prunner_cancel_running_job_200_is_json_true(emu: Emulator, prunner: httpx.Client) -> None:
    """The Swagger documents cancel's answer without a schema; prunner encodes ``true``."""
    job_id = prunner_job(emu, advance=2.0, duration=10, outcome="succeeded")
    response = prunner.post("/job/cancel", params={"id": job_id})
    assert response.status_code == 200 and response.json() is True


def test_prunner_cancel_completed_job_500_is_error_canceling_job(
    emu: Emulator, prunner: httpx.Client
) -> None:
    job_id = prunner_job(emu, advance=30.0, duration=5, outcome="succeeded")
    check_prunner_error(
        prunner.post("/job/cancel", params={"id": job_id}), 500, "Error canceling job"
    )


def test_prunner_job_logs_200_matches_job_logs_schema(emu: Emulator, prunner: httpx.Client) -> None:
    job_id = prunner_job(emu, advance=30.0, duration=5, outcome="succeeded")
    response = prunner.get("/job/logs", params={"id": job_id, "task": "checkout"})
    body = check_prunner(response, "/job/logs", "get", 200)
    assert body["stdout"]


def test_prunner_job_logs_without_task_400_is_invalid_task_name(
    emu: Emulator, prunner: httpx.Client
) -> None:
    job_id = prunner_job(emu, duration=5)
    response = prunner.get("/job/logs", params={"id": job_id})
    check_prunner(response, "/job/logs", "get", 400)
    assert response.json() == {"error": "Invalid task name"}


def test_prunner_job_logs_of_unknown_task_404_is_task_not_found(
    emu: Emulator, prunner: httpx.Client
) -> None:
    job_id = prunner_job(emu, duration=5)
    response = prunner.get("/job/logs", params={"id": job_id, "task": "nope"})
    check_prunner_error(response, 404, "Task not found")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no token found"),
        ({"Authorization": "Bearer not.a.jwt"}, "token is unauthorized"),
    ],
)
def test_prunner_401_is_plain_text_not_in_swagger(
    emu: Emulator, headers: dict[str, str], reason: str
) -> None:
    """The Swagger documents no 401; jwtauth answers in plain text with a newline."""
    response = httpx.get(emu.urls["prunner"] + "/pipelines/jobs", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == reason + "\n"


def test_prunner_expired_token_401_is_plain_text(emu: Emulator) -> None:
    secret = emu.backends["prunner"].credentials["jwt_secret"]
    now = int(time.time())
    token = jwt.encode({"sub": "x", "iat": now - 120, "exp": now - 60}, secret, algorithm="HS256")
    response = httpx.get(
        emu.urls["prunner"] + "/pipelines", headers={"Authorization": f"Bearer {token}"}
    )
    assert (response.status_code, response.text) == (401, "token is expired\n")
