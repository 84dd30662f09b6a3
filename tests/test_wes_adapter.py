"""The WES adapter: the state table, how a RunLog becomes a Job, task logs (embedded, or paged
behind `task_logs_url`), listing pages, errors and auth — over cassettes recorded from the
reference server (`wes-service` 5.0) and hand-written from the WES 1.1 description."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jobhub_wes
import pytest
import yaml
from jobhub_wes.adapter import WES_STATES, WesAdapter, task_state
from jobhub_wes.wire import WireLog

from jobhub import AsyncHub, Hub, JobState
from jobhub.errors import (
    AuthError,
    BackendUnavailable,
    ConfigError,
    InvalidPayload,
    JobNotFound,
    NotSupported,
)
from jobhub.plugins import Registry
from tests.conftest import CASSETTES, SECRET, SecretWatch, cassettes

REFERENCE = "http://127.0.0.1:8080/ga4gh/wes/v1"  # where the reference server was recorded
SERVICE = "https://wes.example.org/ga4gh/wes/v1"  # the hand-written WES 1.1 answers
COMPLETE = "bd919535e0a24a4aad191cd1a5f9670c"
FAILED = "59a482f8dda04bb78043f832df0bf70b"
RUNNING = "c824b74fcb844a07953ad9be9be75932"


@pytest.fixture
def wes_registry() -> Registry:
    registry = Registry()
    registry.register(jobhub_wes, name="wes")
    return registry


def make_hub(registry: Registry, url: str = REFERENCE, **settings: Any) -> Hub:
    config = {"wes": {"url": url, "retries": 0, **settings}}
    return Hub(config, registry=registry, env={})


@pytest.fixture
def hub(wes_registry: Registry) -> Iterator[Hub]:
    with make_hub(wes_registry) as hub:
        yield hub


@pytest.fixture
def service(wes_registry: Registry) -> Iterator[Hub]:
    with make_hub(wes_registry, SERVICE, token=SECRET) as hub:
        yield hub


def recorded(name: str, index: int = 0) -> Any:
    """The JSON body of one answer in cassettes/wes/<name>.yaml."""
    data = yaml.safe_load((CASSETTES / "wes" / f"{name}.yaml").read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def adapter(**settings: Any) -> WesAdapter:
    entry = {"url": SERVICE, **settings}
    return WesAdapter("wes", WesAdapter.settings_from("wes", entry, {}))


def run(state: str | None = "RUNNING", **fields: Any) -> dict[str, Any]:
    return {"run_id": "r1", "state": state, **fields}


# -- the state table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("UNKNOWN", JobState.UNKNOWN),
        ("QUEUED", JobState.QUEUED),
        ("INITIALIZING", JobState.QUEUED),
        ("RUNNING", JobState.RUNNING),
        ("PAUSED", JobState.RUNNING),
        ("COMPLETE", JobState.SUCCEEDED),
        ("EXECUTOR_ERROR", JobState.FAILED),
        ("SYSTEM_ERROR", JobState.FAILED),
        ("CANCELED", JobState.CANCELLED),
        ("CANCELING", JobState.RUNNING),
        ("PREEMPTED", JobState.FAILED),
    ],
)
def test_each_wes_state_maps_to_its_canonical_state(word: str, state: JobState) -> None:
    job = adapter().normalize(run(word))
    assert (job.state, job.status) == (state, word)


def test_the_table_holds_exactly_the_wes_11_state_enum() -> None:
    words = {word.upper() for word, _ in WES_STATES.items()}
    assert words == {
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
    }


def test_an_unknown_state_word_is_unknown_and_kept() -> None:
    job = adapter().normalize(run("HIBERNATING"))
    assert (job.state, job.status) == (JobState.UNKNOWN, "HIBERNATING")


def test_a_run_without_state_is_unknown() -> None:
    job = adapter().normalize({"run_id": "r1"})
    assert (job.state, job.status) == (JobState.UNKNOWN, None)


# -- normalize: the reference server's RunLogs ---------------------------------------------


def test_a_complete_run_reads_as_a_succeeded_job() -> None:
    job = adapter().normalize(recorded("get_complete"))
    assert (job.id, job.state, job.status, job.progress) == (
        COMPLETE,
        JobState.SUCCEEDED,
        "COMPLETE",
        1.0,
    )
    assert job.outputs["out"]["basename"] == "out.txt"
    assert job.error is None


def test_the_request_gives_workflow_inputs_and_labels() -> None:
    job = adapter().normalize(recorded("get_complete"))
    assert job.workflow is not None and job.workflow.endswith("/sh.cwl")
    assert job.inputs == {"script": "echo hello"}
    assert job.labels == {"purpose": "succeeds"}


def test_an_executor_error_says_what_failed_and_the_exit_code() -> None:
    job = adapter().normalize(recorded("get_executor_error"))
    assert job.state is JobState.FAILED
    assert job.error == "EXECUTOR_ERROR: a step of the workflow failed; exit code 1"


def test_empty_times_are_null() -> None:
    job = adapter().normalize(recorded("get_running"))
    assert (job.started_at, job.finished_at, job.duration) == (None, None, None)


def test_the_payload_is_kept_untouched_in_raw() -> None:
    payload = recorded("get_complete")
    assert adapter().normalize(payload).raw == payload


def test_tag_values_that_are_not_strings_become_json() -> None:
    job = adapter().normalize(run(request={"tags": {"n": 2, "ok": True, "name": "x"}}))
    assert job.labels == {"n": "2", "ok": "true", "name": "x"}


def test_times_give_duration() -> None:
    log = {"start_time": "2025-03-01T09:00:00Z", "end_time": "2025-03-01T09:01:30Z"}
    job = adapter().normalize(run("COMPLETE", run_log=log))
    assert job.started_at is not None and job.started_at.isoformat() == "2025-03-01T09:00:00+00:00"
    assert job.duration == 90.0


def test_a_system_error_names_the_system_and_its_log() -> None:
    log = {"exit_code": -1, "system_logs": ["worker ran out of disk space"]}
    job = adapter().normalize(run("SYSTEM_ERROR", run_log=log))
    assert job.error == (
        "SYSTEM_ERROR: the workflow system failed (not a step of the workflow); "
        "worker ran out of disk space"
    )


def test_a_preempted_run_has_failed_and_says_why() -> None:
    job = adapter().normalize(run("PREEMPTED"))
    assert job.state is JobState.FAILED
    assert job.error == "PREEMPTED: the system preempted the run (reclaimed its compute)"


def test_a_listing_summary_normalizes_with_its_times_and_tags() -> None:
    summary = recorded("v11_list_paged")["runs"][1]
    job = adapter().normalize(summary)
    assert (job.id, job.state, job.duration) == ("run-0f9e", JobState.FAILED, 5400.0)
    assert job.workflow is None and job.tasks == []


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "a run must be a JSON object, not an array"),
        ({"state": "RUNNING"}, "run_id: Field required"),
        ({"run_id": ""}, "empty run_id"),
        ({"run_id": 7}, "run_id: Input should be a valid string"),
        (run(state=3), "state: Input should be a valid string"),
        (run(run_log={"exit_code": "1"}), "run_log.exit_code: Input should be a valid integer"),
        (run(task_logs={"a": 1}), "task_logs must be a list, not an object"),
        (run(task_logs=[{"exit_code": 1.5}]), "a task log does not match"),
    ],
)
def test_unreadable_runs_raise_invalid_payload(payload: Any, problem: str) -> None:
    with pytest.raises(InvalidPayload, match=problem) as caught:
        adapter().normalize(payload)
    assert caught.value.backend == "wes"


# -- tasks -----------------------------------------------------------------------------------


def test_embedded_task_logs_become_tasks() -> None:
    logs = [
        {"id": "t1", "name": "index", "exit_code": 0, "end_time": "2025-03-01T09:02:05Z"},
        {"id": "t2", "name": "map", "exit_code": 2, "system_logs": ["OOM killed"]},
    ]
    job = adapter().normalize(run("EXECUTOR_ERROR", task_logs=logs))
    assert [(t.name, t.id, t.state, t.exit_code) for t in job.tasks] == [
        ("index", "t1", JobState.SUCCEEDED, 0),
        ("map", "t2", JobState.FAILED, 2),
    ]
    assert job.tasks[1].error == "OOM killed"
    assert job.error == "EXECUTOR_ERROR: a step of the workflow failed; task 'map' OOM killed"
    assert job.tasks[0].raw == logs[0]


def test_a_task_without_name_or_id_is_named_by_its_position() -> None:
    job = adapter().normalize(run(task_logs=[{}, {}]))
    assert [task.name for task in job.tasks] == ["task 1", "task 2"]


def test_progress_is_the_share_of_ended_tasks() -> None:
    logs = [{"exit_code": 0}, {"start_time": "2025-03-01T09:00:00Z"}, {}, {"exit_code": 0}]
    assert adapter().normalize(run(task_logs=logs)).progress == 0.5


@pytest.mark.parametrize(
    ("log", "run_state", "expected"),
    [
        ({"state": "COMPLETE"}, JobState.RUNNING, JobState.SUCCEEDED),
        ({"exit_code": 0}, JobState.RUNNING, JobState.SUCCEEDED),
        ({"exit_code": 137}, JobState.RUNNING, JobState.FAILED),
        (
            {"exit_code": -1, "start_time": "2025-03-01T09:00:00Z"},
            JobState.RUNNING,
            JobState.RUNNING,
        ),
        ({"start_time": "2025-03-01T09:00:00Z"}, JobState.RUNNING, JobState.RUNNING),
        ({"start_time": "2025-03-01T09:00:00Z"}, JobState.CANCELLED, JobState.CANCELLED),
        ({"end_time": "2025-03-01T09:00:00Z"}, JobState.RUNNING, JobState.UNKNOWN),
        ({}, JobState.RUNNING, JobState.PENDING),
        ({}, JobState.SUCCEEDED, JobState.CANCELLED),
        ({}, JobState.FAILED, JobState.CANCELLED),
    ],
)
def test_task_state_follows_exit_code_times_and_the_run(
    log: dict[str, Any], run_state: JobState, expected: JobState
) -> None:
    assert task_state(WireLog.model_validate(log), run_state) is expected


def test_tasks_behind_task_logs_url_are_fetched_page_after_page(service: Hub) -> None:
    with cassettes.use_cassette("wes/v11_get_task_pages.yaml") as cassette:
        job = service.get("wes:run-1a2b")
    assert cassette.all_played
    assert [(t.name, t.state) for t in job.tasks] == [
        ("align.index", JobState.SUCCEEDED),
        ("align.map", JobState.RUNNING),
        ("align.sort", JobState.PENDING),
    ]
    assert job.progress == pytest.approx(1 / 3)
    assert job.raw == recorded("v11_get_task_pages")


@pytest.mark.anyio
async def test_async_hub_follows_task_pages_too(wes_registry: Registry) -> None:
    config = {"wes": {"url": SERVICE, "retries": 0}}
    with cassettes.use_cassette("wes/v11_get_task_pages.yaml") as cassette:
        async with AsyncHub(config, registry=wes_registry, env={}) as hub:
            job = await hub.get("wes:run-1a2b")
    assert cassette.all_played
    assert [task.id for task in job.tasks] == ["task-1", "task-2", "task-3"]


def test_task_pages_go_to_the_configured_service_not_the_url_in_the_answer(
    wes_registry: Registry,
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"task_logs": [{"name": "a", "exit_code": 0}]})
        return httpx.Response(200, json=run(task_logs_url="https://elsewhere.test/steal"))

    config = {"wes": {"url": SERVICE, "token": SECRET}}
    with Hub(config, registry=wes_registry, env={}, transport=httpx.MockTransport(answer)) as hub:
        job = hub.get("wes:r1")
    assert seen == [f"{SERVICE}/runs/r1", f"{SERVICE}/runs/r1/tasks"]
    assert [task.name for task in job.tasks] == ["a"]


def test_embedded_task_logs_need_no_second_request(wes_registry: Registry) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=run(task_logs=[], task_logs_url=f"{SERVICE}/runs/r1/t"))

    with Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={},
             transport=httpx.MockTransport(answer)) as hub:  # fmt: skip
        hub.get("wes:r1")
    assert seen == ["/ga4gh/wes/v1/runs/r1"]


def test_a_task_page_token_that_repeats_is_refused(wes_registry: Registry) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"task_logs": [], "next_page_token": "same"})
        return httpx.Response(200, json=run(task_logs_url="x"))

    transport = httpx.MockTransport(answer)
    with (
        Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={}, transport=transport) as hub,
        pytest.raises(InvalidPayload, match="next_page_token 'same' repeats an earlier one"),
    ):
        hub.get("wes:r1")


def test_task_paging_that_never_ends_is_cut_off(wes_registry: Registry) -> None:
    count = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"task_logs": [], "next_page_token": f"p{count}"})
        return httpx.Response(200, json=run(task_logs_url="x"))

    transport = httpx.MockTransport(answer)
    with (
        Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={}, transport=transport) as hub,
        pytest.raises(InvalidPayload, match="still asked for more after 1000 follow-up requests"),
    ):
        hub.get("wes:r1")
    assert count == 1001


# -- listing ---------------------------------------------------------------------------------


def test_the_reference_servers_workflows_key_is_read_as_runs(hub: Hub) -> None:
    with cassettes.use_cassette("wes/list_runs.yaml"):
        jobs = list(hub.list("wes"))
    assert [(job.id, job.status) for job in jobs] == [
        (RUNNING, "RUNNING"),
        (COMPLETE, "COMPLETE"),
        (FAILED, "EXECUTOR_ERROR"),
    ]


def test_list_follows_next_page_token(wes_registry: Registry) -> None:
    with (
        cassettes.use_cassette("wes/v11_list_paged.yaml") as cassette,
        make_hub(wes_registry, SERVICE, page_size=2) as hub,
    ):
        ids = [job.id for job in hub.list("wes")]
    assert ids == ["run-1a2b", "run-0f9e", "run-77aa"]
    assert cassette.all_played


def test_list_asks_for_pages_no_larger_than_the_limit(wes_registry: Registry) -> None:
    with cassettes.use_cassette("wes/list_runs_page_size.yaml"), make_hub(wes_registry) as hub:
        jobs = list(hub.list("wes", limit=2))
    # The reference server ignores page_size and sends all three: the hub still stops at two.
    assert [job.id for job in jobs] == [RUNNING, COMPLETE]


def test_list_filters_by_state_on_the_client(hub: Hub) -> None:
    with cassettes.use_cassette("wes/list_runs.yaml"):
        jobs = list(hub.list("wes", state="failed"))
    assert [job.id for job in jobs] == [FAILED]


def test_list_by_workflow_is_not_supported(hub: Hub) -> None:
    with pytest.raises(NotSupported, match="cannot list one workflow's runs"):
        list(hub.list("wes", workflow="align.wdl"))


def test_an_empty_listing_may_leave_out_every_field(wes_registry: Registry) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={}, transport=transport) as h:
        assert list(h.list("wes")) == []


def test_a_list_token_that_repeats_is_refused(wes_registry: Registry) -> None:
    body = {"runs": [run()], "next_page_token": "t"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with (
        Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={}, transport=transport) as hub,
        pytest.raises(InvalidPayload, match="next_page_token 't' repeats an earlier one"),
    ):
        list(hub.list("wes"))


def cycling_tokens(path_end: str, first: dict[str, Any]) -> httpx.MockTransport:
    """Pages whose tokens cycle a → b → a; past 50 requests the transport refuses to answer,
    so a client that never notices the cycle fails instead of paging for ever."""
    following = {None: "a", "a": "b", "b": "a"}
    sent = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        sent += 1
        assert sent <= 50, "the client kept paging through a cycle of tokens"
        if not request.url.path.endswith(path_end):
            return httpx.Response(200, json=first)
        token = request.url.params.get("page_token")
        items = {"runs": [run()]} if path_end == "/runs" else {"task_logs": []}
        return httpx.Response(200, json={**items, "next_page_token": following[token]})

    return httpx.MockTransport(answer)


def test_list_tokens_that_cycle_end_the_listing(wes_registry: Registry) -> None:
    transport = cycling_tokens("/runs", {})
    with (
        Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={}, transport=transport) as hub,
        pytest.raises(InvalidPayload, match="next_page_token 'a' repeats an earlier one"),
    ):
        list(hub.list("wes"))


def test_task_page_tokens_that_cycle_are_refused(wes_registry: Registry) -> None:
    transport = cycling_tokens("/tasks", run(task_logs_url="x"))
    with (
        Hub({"wes": {"url": SERVICE}}, registry=wes_registry, env={}, transport=transport) as hub,
        pytest.raises(InvalidPayload, match="next_page_token 'a' repeats an earlier one"),
    ):
        hub.get("wes:r1")


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_posts_to_the_runs_cancel_endpoint(hub: Hub) -> None:
    with cassettes.use_cassette("wes/cancel.yaml") as cassette:
        hub.cancel(f"wes:{RUNNING}")
    assert cassette.all_played


def test_a_cancel_answered_with_an_empty_body_is_accepted() -> None:
    call = adapter().cancel_job("r1")
    assert call.parse(httpx.Response(200, content=b"")) is None


def test_a_cancel_answered_with_html_is_invalid() -> None:
    call = adapter().cancel_job("r1")
    with pytest.raises(InvalidPayload):
        call.parse(httpx.Response(200, content=b"<html>login</html>"))


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "error", "message"),
    [
        ("wes:run-secret", AuthError, "401 The request is unauthorized. — check token"),
        ("wes:run-other-user", AuthError, "403 The requester is not authorized"),
        ("wes:run-gone", JobNotFound, "404 The requested workflow run not found."),
        ("wes:run-broken", BackendUnavailable, "500 An unexpected error occurred."),
    ],
)
def test_wes_error_responses_map_to_typed_errors_with_their_msg(
    service: Hub, ref: str, error: type[Exception], message: str
) -> None:
    with cassettes.use_cassette("wes/v11_errors.yaml"), pytest.raises(error, match=message):
        service.get(ref)


def test_cancelling_an_unknown_run_is_job_not_found(service: Hub) -> None:
    with cassettes.use_cassette("wes/v11_errors.yaml"), pytest.raises(JobNotFound):
        service.cancel("wes:run-gone")


def test_the_reference_servers_500_for_an_unknown_run_is_backend_unavailable(hub: Hub) -> None:
    with (
        cassettes.use_cassette("wes/unknown_run.yaml"),
        pytest.raises(BackendUnavailable, match="500 The server encountered an internal error"),
    ):
        hub.get("wes:0000000000000000000000000000dead")


def test_an_id_with_a_slash_stays_one_segment(hub: Hub) -> None:
    # Escaped, the id reaches the server as one segment, which it does not route: a 404.
    with (
        cassettes.use_cassette("wes/id_with_slash.yaml") as cassette,
        pytest.raises(JobNotFound, match="/ga4gh/wes/v1"),
    ):
        hub.get("wes:a/b")
    assert cassette.all_played


# -- settings and auth -----------------------------------------------------------------------


def test_url_is_required(wes_registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"backends\.wes: url: required setting is missing"):
        Hub({"wes": {}}, registry=wes_registry, env={})


def test_url_and_token_come_from_the_environment(wes_registry: Registry) -> None:
    env = {"WES_URL": SERVICE, "WES_TOKEN": SECRET}
    hub = Hub(None, registry=wes_registry, env=env)
    settings = hub.adapter("wes").settings
    assert settings.url == SERVICE
    assert settings.token is not None and settings.token.get_secret_value() == SECRET


def test_wes_url_alone_configures_a_backend_without_a_token(wes_registry: Registry) -> None:
    assert WesAdapter.configured_from_env({"WES_URL": SERVICE})
    assert not WesAdapter.configured_from_env({"WES_TOKEN": SECRET})


def test_a_token_is_sent_as_a_bearer_header(service: Hub, secret_watch: SecretWatch) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=run())

    runner_adapter = service.adapter("wes")
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        client.send(runner_adapter.get_job("r1").request, auth=runner_adapter.auth())
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    secret_watch.assert_clean(runner_adapter, runner_adapter.auth(), runner_adapter.settings)


def test_without_a_token_no_authorization_header_is_sent(hub: Hub) -> None:
    assert hub.adapter("wes").auth() is None
    assert "Authorization" not in hub.adapter("wes").get_job("r1").request.headers


# -- waiting -----------------------------------------------------------------------------------


def test_runs_of_one_workflow_are_waited_for_with_gets(wes_registry: Registry) -> None:
    # Waits list a workflow shared by several jobs to spot changes; WES cannot, so each run
    # is followed with its own GETs.
    polls: dict[str, int] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        run_id = request.url.path.rsplit("/", 1)[-1]
        polls[run_id] = polls.get(run_id, 0) + 1
        state = "COMPLETE" if polls[run_id] >= 3 else "RUNNING"
        body = {"run_id": run_id, "state": state, "request": {"workflow_url": "align.cwl"}}
        return httpx.Response(200, json=body)

    config = {"wes": {"url": SERVICE, "poll_interval": 0.01, "poll_max": 0.02}}
    transport = httpx.MockTransport(answer)
    with Hub(config, registry=wes_registry, env={}, transport=transport) as hub:
        jobs = hub.wait_all(["wes:r1", "wes:r2", "wes:r3"], timeout=10)
    assert [job.state for job in jobs] == [JobState.SUCCEEDED] * 3
    assert set(polls) == {"r1", "r2", "r3"}
