"""The Pixxel backend through `Hub` and `AsyncHub`: cassettes of the documented payloads for get,
list and errors; a mock transport where the request itself is under test (auth header, paths)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import (
    AuthError,
    BackendError,
    BackendUnavailable,
    ConfigError,
    InvalidPayload,
    JobHubError,
    JobNotFound,
    NotSupported,
    RateLimited,
)
from tests.conftest import CASSETTES, SECRET, SecretWatch, cassettes

WF = "8f14e45f-ceea-4671-a6c5-0d5cb3a1f2b7"
RUNNING = f"{WF}/c9f0f895-fb98-4b91-9f3a-1e2b6a7d4c21"
COMPLETED = f"{WF}/45c48cce-2e2d-4fbd-b2e1-58a2d6a0c3f9"
FAILED = f"{WF}/d3d94468-02a4-4c3a-9f8b-7a3c0e6b2d15"
QUEUED = f"{WF}/e4da3b7f-bbce-4345-9f27-6a4c3e9b8d01"
MISSING = f"{WF}/00000000-0000-4000-8000-000000000000"


def settings(**extra: Any) -> dict[str, Any]:
    return {"pixxel": {"api_key": SECRET, "retries": 0, **extra}}


@pytest.fixture
def hub() -> Hub:
    return Hub(settings(), env={})


def play(name: str) -> Any:
    return cassettes.use_cassette(f"pixxel/{name}.yaml", allow_playback_repeats=True)


def dumped(job: Any) -> dict[str, Any]:
    return dict(job.model_dump(mode="json"))


# -- get ----------------------------------------------------------------------------------------


def test_get_running_job_reads_state_progress_and_tasks(hub: Hub) -> None:
    with play("get_running"):
        job = hub.get(f"pixxel:{RUNNING}")
    assert (job.state, job.status, job.progress) == (JobState.RUNNING, "running", 0.455)
    assert [(t.name, t.state) for t in job.tasks] == [
        ("ingest", JobState.SUCCEEDED),
        ("cloud_mask", JobState.RUNNING),
        ("ndvi", JobState.PENDING),
    ]


def test_get_job_id_and_ref_round_trip(hub: Hub) -> None:
    with play("get_running"):
        job = hub.get(f"pixxel:{RUNNING}")
    assert job.id == RUNNING
    assert job.ref == f"pixxel:{RUNNING}"
    assert job.workflow == WF


def test_get_completed_job_has_duration_from_execution_times(hub: Hub) -> None:
    with play("get_completed"):
        job = hub.get(f"pixxel:{COMPLETED}")
    assert job.state is JobState.SUCCEEDED
    assert job.duration == pytest.approx(368.2)  # 14:00:02.05 → 14:06:10.25
    assert job.progress == 1.0


def test_get_completed_job_decodes_spec_and_task_results(hub: Hub) -> None:
    with play("get_completed"):
        job = hub.get(f"pixxel:{COMPLETED}")
    assert job.inputs["name"] == "ndvi-monitoring"
    assert job.outputs["ndvi"] == {
        "mean_ndvi": 0.412,
        "asset": "s3://pixxel-insights/ndvi/45c48cce/ndvi.tif",
    }
    assert set(job.outputs) == {"ingest", "cloud_mask", "ndvi"}


def test_get_failed_job_explains_the_failure(hub: Hub) -> None:
    with play("get_failed"):
        job = hub.get(f"pixxel:{FAILED}")
    assert job.state is JobState.FAILED
    assert job.error is not None
    assert "band B08 is not produced by cloud_mask" in job.error
    assert "CUDA out of memory" in job.error
    assert "runtime_exception" in job.error


def test_get_failed_job_shows_unstarted_task_as_cancelled(hub: Hub) -> None:
    with play("get_failed"):
        job = hub.get(f"pixxel:{FAILED}")
    ndvi = job.task("ndvi")
    assert ndvi is not None
    assert (ndvi.state, ndvi.status) == (JobState.CANCELLED, "created")


def test_get_failed_job_duration_falls_back_to_time_taken(hub: Hub) -> None:
    with play("get_failed"):
        job = hub.get(f"pixxel:{FAILED}")
    assert job.started_at is None  # exec_created_at is ""
    assert job.duration == 221.0  # time_taken "00:03:41"


def test_get_keeps_the_raw_payload_whole(hub: Hub) -> None:
    with play("get_running"):
        job = hub.get(f"pixxel:{RUNNING}")
    assert isinstance(job.raw["spec"], list)  # the byte list as sent
    assert job.raw["tasks"][1]["block_info"]["name"] == "cloud-mask"


@pytest.mark.anyio
@pytest.mark.parametrize("ref", [RUNNING, COMPLETED, FAILED])
async def test_async_get_equals_sync_get(ref: str) -> None:
    cassette = {RUNNING: "get_running", COMPLETED: "get_completed", FAILED: "get_failed"}[ref]
    with play(cassette):
        sync_job = Hub(settings(), env={}).get(f"pixxel:{ref}")
        async with AsyncHub(settings(), env={}) as hub:
            async_job = await hub.get(f"pixxel:{ref}")
    assert dumped(async_job) == dumped(sync_job)


# -- list ---------------------------------------------------------------------------------------


def test_list_for_a_workflow_reads_every_item(hub: Hub) -> None:
    with play("list_workflow"):
        jobs = list(hub.list("pixxel", workflow=WF))
    assert [(j.id, j.state) for j in jobs] == [
        (QUEUED, JobState.QUEUED),
        (RUNNING, JobState.RUNNING),
        (COMPLETED, JobState.SUCCEEDED),
        (FAILED, JobState.FAILED),
    ]


def test_list_items_read_progress_and_time_taken(hub: Hub) -> None:
    with play("list_workflow"):
        _, running, completed, failed = hub.list("pixxel", workflow=WF)
    assert (running.progress, running.duration, running.tasks) == (0.455, None, [])
    assert completed.duration == pytest.approx(372.4)  # time_taken "6m12.4s"
    assert failed.progress is None  # "" and no tasks to count


def test_list_with_a_documented_status_sends_the_server_filter(hub: Hub) -> None:
    # the cassette only answers ?status=running
    with play("list_workflow_running"):
        jobs = list(hub.list("pixxel", workflow=WF, state="running"))
    assert [j.id for j in jobs] == [RUNNING]


def test_list_filter_without_a_server_word_is_applied_by_the_hub(hub: Hub) -> None:
    with play("list_workflow"):
        jobs = list(hub.list("pixxel", workflow=WF, state=JobState.QUEUED))
    assert [j.id for j in jobs] == [QUEUED]


def test_list_without_workflow_walks_every_workflow_page(hub: Hub) -> None:
    hub.backends["pixxel"].workflows_page_size = 2  # type: ignore[attr-defined]
    with play("list_all"):
        jobs = list(hub.list("pixxel"))
    assert [j.workflow for j in jobs] == [WF, WF, "c4ca4238-a0b9-4382-8dcc-509a6f75849b"]


def test_list_without_workflow_names_each_job_by_its_workflow(hub: Hub) -> None:
    hub.backends["pixxel"].workflows_page_size = 2  # type: ignore[attr-defined]
    with play("list_all"):
        jobs = list(hub.list("pixxel"))
    assert [j.labels["workflow_name"] for j in jobs] == [
        "NDVI monitoring — Bengaluru",
        "NDVI monitoring — Bengaluru",
        "Crop-type classification",
    ]
    with play("list_workflow"):  # a job answer names no workflow: no label is made up
        assert all("workflow_name" not in j.labels for j in hub.list("pixxel", workflow=WF))


def test_list_without_workflow_stops_walking_at_the_limit(hub: Hub) -> None:
    hub.backends["pixxel"].workflows_page_size = 2  # type: ignore[attr-defined]
    with play("list_all") as cassette:
        jobs = list(hub.list("pixxel", limit=1))
        played = cassette.play_count
    assert [j.id for j in jobs] == [RUNNING]
    assert played == 2  # the first workflow page and the first workflow's jobs


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cassette", "workflow"), [("list_workflow", WF), ("list_all", None)], ids=["workflow", "all"]
)
async def test_async_list_equals_sync_list(cassette: str, workflow: str | None) -> None:
    sync_hub = Hub(settings(), env={})
    sync_hub.backends["pixxel"].workflows_page_size = 2  # type: ignore[attr-defined]
    with play(cassette):
        sync_jobs = [dumped(j) for j in sync_hub.list("pixxel", workflow=workflow)]
        async with AsyncHub(settings(), env={}) as hub:
            hub.backends["pixxel"].workflows_page_size = 2  # type: ignore[attr-defined]
            async_jobs = [dumped(j) async for j in hub.list("pixxel", workflow=workflow)]
    assert async_jobs == sync_jobs
    assert sync_jobs


# -- cancel -------------------------------------------------------------------------------------


def test_cancel_is_not_supported(hub: Hub) -> None:
    with pytest.raises(NotSupported, match="no way to cancel") as caught:
        hub.cancel(f"pixxel:{RUNNING}")
    assert caught.value.backend == "pixxel"


@pytest.mark.anyio
async def test_async_cancel_is_not_supported() -> None:
    async with AsyncHub(settings(), env={}) as hub:
        with pytest.raises(NotSupported, match="its API has no way to cancel"):
            await hub.cancel(f"pixxel:{RUNNING}")


# -- errors -------------------------------------------------------------------------------------

ERRORS = [
    ("error_400", f"{WF}/not-a-uuid", BackendError, 400),
    ("error_403", RUNNING, AuthError, 403),
    ("error_404", MISSING, JobNotFound, 404),
    ("error_429", RUNNING, RateLimited, 429),
    ("error_503", RUNNING, BackendUnavailable, 503),
]


@pytest.mark.parametrize(("cassette", "ref", "kind", "status"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_is_typed_with_backend_and_status(
    hub: Hub, cassette: str, ref: str, kind: type[JobHubError], status: int
) -> None:
    with play(cassette), pytest.raises(kind) as caught:
        hub.get(f"pixxel:{ref}")
    assert type(caught.value) is kind
    assert (caught.value.backend, caught.value.status_code) == ("pixxel", status)
    assert f"pixxel backend 'pixxel': {status}" in str(caught.value)


@pytest.mark.parametrize(
    ("cassette", "ref", "words"),
    [
        ("error_400", f"{WF}/not-a-uuid", "BAD_REQUEST: invalid job id (job_id must be a UUID)"),
        ("error_403", RUNNING, "FORBIDDEN: you do not have access to this workflow"),
        ("error_404", MISSING, "NOT_FOUND: job not found"),
    ],
)
def test_error_message_carries_pixxels_error_body(
    hub: Hub, cassette: str, ref: str, words: str
) -> None:
    with play(cassette), pytest.raises(BackendError) as caught:
        hub.get(f"pixxel:{ref}")
    assert words in str(caught.value)


def test_auth_error_says_the_key_is_sent_bare(hub: Hub) -> None:
    with play("error_403"), pytest.raises(AuthError, match="without 'Bearer'"):
        hub.get(f"pixxel:{RUNNING}")


def test_not_found_error_shows_the_id_form(hub: Hub) -> None:
    with play("error_404"), pytest.raises(JobNotFound, match="'<workflow_id>/<job_id>'"):
        hub.get(f"pixxel:{MISSING}")


def test_rate_limit_carries_retry_after(hub: Hub) -> None:
    with play("error_429"), pytest.raises(RateLimited) as caught:
        hub.get(f"pixxel:{RUNNING}")
    assert caught.value.retry_after == 7.0


def test_html_error_page_is_not_quoted_in_the_message(hub: Hub) -> None:
    with play("error_503"), pytest.raises(BackendUnavailable) as caught:
        hub.get(f"pixxel:{RUNNING}")
    assert "<html>" not in str(caught.value)


def test_list_error_is_typed(hub: Hub) -> None:
    with play("error_403_list"), pytest.raises(AuthError, match="API key is not valid"):
        list(hub.list("pixxel", workflow=WF))


@pytest.mark.anyio
@pytest.mark.parametrize(("cassette", "ref", "kind", "status"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_async_error_equals_sync_error(
    cassette: str, ref: str, kind: type[JobHubError], status: int
) -> None:
    with play(cassette):
        with pytest.raises(kind) as sync_caught:
            Hub(settings(), env={}).get(f"pixxel:{ref}")
        async with AsyncHub(settings(), env={}) as hub:
            with pytest.raises(kind) as async_caught:
                await hub.get(f"pixxel:{ref}")
    assert str(async_caught.value) == str(sync_caught.value)


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cassette", [e[0] for e in ERRORS])
def test_secret_absent_from_errors_and_logs(
    hub: Hub, secret_watch: SecretWatch, cassette: str
) -> None:
    ref = next(e[1] for e in ERRORS if e[0] == cassette)
    with play(cassette), pytest.raises(JobHubError) as caught:
        hub.get(f"pixxel:{ref}")
    secret_watch.assert_clean(caught.value, caught.value.args, caught.value.raw)


def test_secret_absent_from_reprs_of_hub_adapter_settings_and_jobs(
    hub: Hub, secret_watch: SecretWatch
) -> None:
    adapter = hub.backends["pixxel"]
    with play("get_running"):
        job = hub.get(f"pixxel:{RUNNING}")
    secret_watch.assert_clean(hub, adapter, adapter.settings, adapter.auth(), job, dumped(job))


def test_cassettes_hold_no_credential() -> None:
    for path in sorted((CASSETTES / "pixxel").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text, path
        assert "authorization" not in text.lower(), path


# -- the request itself (mock transport) --------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def job_echo(request: httpx.Request) -> httpx.Response:
    """Answers a job GET with a job whose ids are the ones in the path (after any prefix)."""
    parts = request.url.raw_path.split(b"?")[0].split(b"/")
    workflow_id, job_id = unquote(parts[-3].decode()), unquote(parts[-1].decode())
    return httpx.Response(200, json={"id": job_id, "workflow_id": workflow_id, "status": "running"})


def mock_hub(
    handler: Handler,
    seen: list[httpx.Request],
    entry: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Hub:
    """A hub whose Pixxel backend is answered by `handler`; every request lands in `seen`."""

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return Hub(
        {"pixxel": settings()["pixxel"] if entry is None else entry},
        env=env or {},
        transport=httpx.MockTransport(record),
    )


def test_authorization_header_is_exactly_the_bare_key() -> None:
    seen: list[httpx.Request] = []
    mock_hub(job_echo, seen).get(f"pixxel:{RUNNING}")
    assert seen[0].headers["Authorization"] == SECRET


def test_api_key_defaults_from_pixxel_api_key_variable() -> None:
    seen: list[httpx.Request] = []
    mock_hub(job_echo, seen, entry={}, env={"PIXXEL_API_KEY": SECRET}).get(f"pixxel:{RUNNING}")
    assert seen[0].headers["Authorization"] == SECRET


def test_missing_api_key_is_a_config_error_naming_the_setting() -> None:
    seen: list[httpx.Request] = []
    hub = mock_hub(job_echo, seen, entry={})
    with pytest.raises(ConfigError, match="api_key"):
        hub.get(f"pixxel:{RUNNING}")
    assert seen == []  # nothing was sent without the credential


def test_default_url_is_pixxels_public_api() -> None:
    seen: list[httpx.Request] = []
    mock_hub(job_echo, seen).get(f"pixxel:{RUNNING}")
    assert str(seen[0].url).startswith("https://api.pixxel.space/v0/workflows/")


def test_configured_url_with_a_path_prefix_is_kept() -> None:
    seen: list[httpx.Request] = []
    entry = {**settings()["pixxel"], "url": "http://127.0.0.1:9/pixxel/"}
    mock_hub(job_echo, seen, entry=entry).get(f"pixxel:{RUNNING}")
    assert seen[0].url.raw_path.startswith(b"/pixxel/v0/workflows/")


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.QUEUED, JobState.CANCELLED])
def test_list_sends_no_status_for_states_without_a_documented_word(state: JobState) -> None:
    seen: list[httpx.Request] = []
    hub = mock_hub(lambda r: httpx.Response(200, json={"jobs": []}), seen)
    list(hub.list("pixxel", workflow=WF, state=state))
    assert "status" not in seen[0].url.params


@pytest.mark.parametrize(
    ("state", "word"),
    [(JobState.RUNNING, "running"), (JobState.SUCCEEDED, "completed"), (JobState.FAILED, "failed")],
)
def test_list_sends_the_documented_status_word(state: JobState, word: str) -> None:
    seen: list[httpx.Request] = []
    hub = mock_hub(lambda r: httpx.Response(200, json={"jobs": []}), seen)
    list(hub.list("pixxel", workflow=WF, state=state))
    assert seen[0].url.params["status"] == word


def test_list_item_without_workflow_id_takes_the_listed_workflow() -> None:
    seen: list[httpx.Request] = []
    hub = mock_hub(lambda r: httpx.Response(200, json={"jobs": [{"id": "j1"}]}), seen)
    (job,) = hub.list("pixxel", workflow=WF)
    assert job.id == f"{WF}/j1"


def test_list_walk_stops_when_a_page_repeats_workflows() -> None:
    """A server that ignores `offset` must not make the walk loop forever."""
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v0/workflows":
            return httpx.Response(200, json={"workflows": [{"id": "wf-a"}, {"id": "wf-b"}]})
        return httpx.Response(200, json={"jobs": []})

    hub = mock_hub(server, seen)
    hub.backends["pixxel"].workflows_page_size = 2  # type: ignore[attr-defined]
    assert list(hub.list("pixxel")) == []
    assert [r.url.path for r in seen].count("/v0/workflows") == 2


@pytest.mark.parametrize(
    "body",
    [b"<html>maintenance</html>", b'{"jobs": {"id": "x"}}', b'"jobs"', b'{"jobs": [42]}'],
    ids=["html", "jobs-object", "string", "item-not-object"],
)
def test_unreadable_list_body_is_invalid_payload(body: bytes) -> None:
    seen: list[httpx.Request] = []
    hub = mock_hub(lambda r: httpx.Response(200, content=body), seen)
    with pytest.raises(InvalidPayload) as caught:
        list(hub.list("pixxel", workflow=WF))
    assert caught.value.backend == "pixxel"


def test_unreadable_workflow_page_is_invalid_payload() -> None:
    seen: list[httpx.Request] = []
    hub = mock_hub(lambda r: httpx.Response(200, json={"workflows": "wf-a"}), seen)
    with pytest.raises(InvalidPayload, match="workflow"):
        list(hub.list("pixxel"))


def test_vendor_docs_example_job_reads_as_unknown_not_an_error() -> None:
    """docs/003's example body has placeholder values: "string" everywhere, 0 and [0]."""
    example = json.loads(
        '{"created_by": "string","status": "string","time_taken": "string","id": "string",'
        '"tasks": [{"id": "string","info_logs": [0],"created_at": "string","updated_at":'
        ' "string","finished_at": "string","estimated_time_duration": 0,"time_taken": "string",'
        '"status": "string","state_msg": "string","inputs": [0],"result": [0],"depends_on":'
        ' ["string"],"name": "string","progress": 0,"disclaimer": ["string"],"recv_time":'
        ' "string","send_time": "string","block_inf_start_time": "string","block_inf_end_time":'
        ' "string","block_info": {"id": "string","name": "string","version": "string"},'
        '"err_msg": "string","failure_type": "string"}],"val_errors": [{"from": "string","to":'
        ' "string","err": "string","reason": "string","component_name": "string"}],"spec": [0],'
        '"cost": 0,"workflow_id": "string","updated_at": "string","finished_at": "string",'
        '"exec_created_at": "string","exec_updated_at": "string","created_at": "string",'
        '"estimated_duration": 0,"progress": "string"}'
    )
    seen: list[httpx.Request] = []
    job = mock_hub(lambda r: httpx.Response(200, json=example), seen).get("pixxel:string/string")
    assert (job.state, job.status, job.created_at, job.duration) == (
        JobState.UNKNOWN,
        "string",
        None,
        None,
    )
    assert job.inputs == [0]  # one zero byte is not JSON: kept as sent
