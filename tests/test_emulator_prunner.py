"""The prunner emulator's behaviour over time, seen with plain httpx: tasks run through the
pipeline's graph, the first failure cancels the rest, cancellation follows prunner's rules, and
every request needs a fresh HS256 token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from jobhub.emulator import Emulator

# One worker runs the module, in order: its tests share one emulator, and a pipeline runs one job
# at a time, so each test counts on the jobs of the tests before it having ended.


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["prunner"], seed=3, speed=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def secret(emu: Emulator) -> str:
    return emu.backends["prunner"].credentials["jwt_secret"]


@pytest.fixture(scope="module")
def api(emu: Emulator, secret: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.urls["prunner"], auth=Signer(secret, "j.doe")) as client:
        yield client


class Signer(httpx.Auth):
    """A fresh short-lived token per request, as prunner clients sign them."""

    def __init__(self, secret: str, user: str | None) -> None:
        self.secret, self.user = secret, user

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        now = int(time.time())
        claims: dict[str, Any] = {"iat": now, "exp": now + 60}
        if self.user is not None:
            claims["sub"] = self.user
        request.headers["Authorization"] = f"Bearer {jwt.encode(claims, self.secret, 'HS256')}"
        yield request


def schedule(api: httpx.Client, pipeline: str = "release", **variables: Any) -> str:
    response = api.post("/pipelines/schedule", json={"pipeline": pipeline, "variables": variables})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def detail(api: httpx.Client, job_id: str) -> dict[str, Any]:
    response = api.get("/job/detail", params={"id": job_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> dict[str, str]:
    return {task["name"]: task["status"] for task in body["tasks"]}


def test_token_subject_becomes_the_jobs_user(api: httpx.Client) -> None:
    assert detail(api, schedule(api, duration=5))["user"] == "j.doe"


def test_token_without_subject_schedules_a_job_without_user(emu: Emulator, secret: str) -> None:
    with httpx.Client(base_url=emu.urls["prunner"], auth=Signer(secret, None)) as anonymous:
        assert detail(anonymous, schedule(anonymous, duration=5))["user"] == ""


def test_queued_job_has_null_times_and_waiting_tasks_with_exit_code_zero(
    api: httpx.Client,
) -> None:
    body = detail(api, schedule(api, duration=5))
    assert (body["start"], body["end"], body["completed"], body["canceled"]) == (
        None,
        None,
        False,
        False,
    )
    assert {(t["status"], t["start"], t["exitCode"]) for t in body["tasks"]} == {
        ("waiting", None, 0)
    }


def test_tasks_come_in_topological_order_with_ties_by_name(api: httpx.Client) -> None:
    names = [t["name"] for t in detail(api, schedule(api, "release", duration=5))["tasks"]]
    assert names == ["checkout", "lint", "test_integration", "test_unit", "build", "publish"]


def test_empty_fields_are_left_out(api: httpx.Client) -> None:
    body = detail(api, schedule(api, "deploy"))
    assert "variables" not in body and "lastError" not in body
    assert "dependsOn" not in body["tasks"][0] and "error" not in body["tasks"][0]


def test_succeeded_job_is_completed_and_every_task_done(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, duration=6, outcome="succeeded")
    emu.clock.advance(20)
    body = detail(api, job_id)
    assert (body["completed"], body["canceled"], body["errored"]) == (True, False, False)
    assert set(statuses(body).values()) == {"done"} and body["end"]
    assert emu.backends["prunner"].final_state(job_id) == "succeeded"


def test_failing_task_cancels_the_rest_and_never_run_tasks_stay_waiting(
    emu: Emulator, api: httpx.Client
) -> None:
    ids = [schedule(api, duration=12, outcome="failed") for _ in range(8)]
    emu.clock.advance(30)
    for job_id in ids:
        body = detail(api, job_id)
        failed = [t for t in body["tasks"] if t["status"] == "error"]
        assert len(failed) == 1 and failed[0]["errored"] and failed[0]["exitCode"] > 0
        assert failed[0]["error"] == f"exit status {failed[0]['exitCode']}"
        cancelled = [t for t in body["tasks"] if t["status"] == "canceled"]
        # prunner: a failure while other tasks run cancels them, and the job with them
        assert (body["completed"], body["canceled"], body["errored"]) == (
            True,
            bool(cancelled),
            True,
        )
        assert body["lastError"] == ("context canceled" if cancelled else failed[0]["error"])
        for task in body["tasks"]:
            assert task["status"] in ("done", "error", "canceled", "waiting")
            if task["status"] == "waiting":
                assert task["start"] is None and task["end"] is None
            if task["status"] in ("canceled", "error"):
                assert task["end"] is None and task["start"] is not None
        assert emu.backends["prunner"].final_state(job_id) == "failed"


def test_no_task_starts_after_the_failure(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, duration=12, outcome="failed")
    emu.clock.advance(30)
    body = detail(api, job_id)
    started = [t["start"] for t in body["tasks"] if t["start"] is not None]
    assert all(start <= body["end"] for start in started)


def test_done_tasks_read_exit_code_minus_one_as_prunner_publishes_them(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = schedule(api, duration=6, outcome="succeeded")
    emu.clock.advance(20)
    tasks = detail(api, job_id)["tasks"]
    assert {(t["status"], t["exitCode"], t["skipped"]) for t in tasks} == {("done", -1, False)}


def test_cancel_before_start_leaves_null_times_and_waiting_tasks(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = schedule(api, duration=10)
    assert api.post("/job/cancel", params={"id": job_id}).json() is True
    emu.clock.advance(30)
    body = detail(api, job_id)
    assert (body["canceled"], body["completed"], body["start"], body["end"]) == (
        True,
        False,
        None,
        None,
    )
    assert set(statuses(body).values()) == {"waiting"}
    assert emu.backends["prunner"].final_state(job_id) == "cancelled"


def test_cancel_while_running_completes_the_job_canceled(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, duration=20, outcome="succeeded")
    emu.clock.advance(5)
    api.post("/job/cancel", params={"id": job_id})
    emu.clock.advance(30)
    body = detail(api, job_id)
    assert (body["canceled"], body["completed"], body["errored"]) == (True, True, False)
    assert body["start"] and body["end"] and "canceled" in statuses(body).values()
    assert body["lastError"] == "context canceled"


def test_cancelling_twice_is_not_an_error(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, duration=20)
    emu.clock.advance(5)
    answers = [api.post("/job/cancel", params={"id": job_id}).status_code for _ in range(2)]
    assert answers == [200, 200]


def test_cancelling_a_completed_job_is_an_error_and_changes_nothing(
    emu: Emulator, api: httpx.Client
) -> None:
    job_id = schedule(api, duration=2, outcome="succeeded")
    emu.clock.advance(10)
    response = api.post("/job/cancel", params={"id": job_id})
    assert (response.status_code, response.json()) == (500, {"error": "Error canceling job"})
    assert emu.backends["prunner"].final_state(job_id) == "succeeded"


def test_cancelling_a_failed_job_answers_as_its_canceled_flag_says(
    emu: Emulator, api: httpx.Client
) -> None:
    """prunner checks its ``canceled`` flag before ``completed``: a job whose failure cancelled
    running tasks is 200, one that failed with nothing else running 500."""
    ids = [schedule(api, duration=12, outcome="failed") for _ in range(8)]
    emu.clock.advance(30)
    answers = set()
    for job_id in ids:
        canceled = detail(api, job_id)["canceled"]
        status = api.post("/job/cancel", params={"id": job_id}).status_code
        assert status == (200 if canceled else 500)
        answers.add(status)
        assert emu.backends["prunner"].final_state(job_id) == "failed"
    assert answers == {200, 500}


def test_pipelines_jobs_lists_every_job_once_newest_first(emu: Emulator, api: httpx.Client) -> None:
    first = schedule(api, duration=5)
    emu.clock.advance(2)
    second = schedule(api, duration=5)
    ids = [job["id"] for job in api.get("/pipelines/jobs").json()["jobs"]]
    assert ids[:2] == [second, first]
    assert len(ids) == len(set(ids)) == len(emu.backends["prunner"].runs)


def test_pipeline_shows_running_while_one_of_its_jobs_runs(
    emu: Emulator, api: httpx.Client
) -> None:
    emu.clock.advance(1000)  # let earlier jobs end
    schedule(api, "nightly", duration=10, outcome="succeeded")
    emu.clock.advance(5)
    running = {p["pipeline"]: p["running"] for p in api.get("/pipelines").json()["pipelines"]}
    assert running["nightly"] is True
    emu.clock.advance(20)
    running = {p["pipeline"]: p["running"] for p in api.get("/pipelines").json()["pipelines"]}
    assert running["nightly"] is False


def test_task_logs_grow_as_the_task_runs(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, "deploy", duration=10, outcome="succeeded")
    logs = []
    for _ in range(3):
        logs.append(api.get("/job/logs", params={"id": job_id, "task": "build_assets"}).json())
        emu.clock.advance(3)
    assert [bool(entry["stdout"]) for entry in logs] == [False, True, True]
    assert (
        logs[2]["stdout"].startswith(logs[1]["stdout"]) and logs[2]["stdout"] != logs[1]["stdout"]
    )


def test_failed_task_logs_its_error_on_stderr(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, duration=6, outcome="failed")
    emu.clock.advance(20)
    failed = next(t for t in detail(api, job_id)["tasks"] if t["status"] == "error")
    logs = api.get("/job/logs", params={"id": job_id, "task": failed["name"]}).json()
    assert failed["error"] in logs["stderr"]


def token(secret: str, **claims: Any) -> str:
    return jwt.encode({"sub": "x", **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: None, "no token found"),
        (lambda s: token("a-secret-that-is-not-the-servers-secret"), "token is unauthorized"),
        (lambda s: token(s, exp=int(time.time()) - 1), "token is expired"),
        (lambda s: token(s, iat=int(time.time()) + 60), "token iat validation failed"),
        (lambda s: jwt.encode({"sub": "x"}, s, algorithm="HS512"), "token is unauthorized"),
    ],
    ids=["missing", "wrong-secret", "expired", "future-iat", "wrong-algorithm"],
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_tokens_are_refused_in_plain_text(
    emu: Emulator, secret: str, make: Any, reason: str
) -> None:
    value = make(secret)
    headers = {} if value is None else {"Authorization": f"Bearer {value}"}
    response = httpx.get(emu.urls["prunner"] + "/pipelines", headers=headers)
    assert (response.status_code, response.text) == (401, reason + "\n")


def test_token_in_the_jwt_cookie_is_accepted(emu: Emulator, secret: str) -> None:
    response = httpx.get(emu.urls["prunner"] + "/pipelines", cookies={"jwt": token(secret)})
    assert response.status_code == 200


def test_same_seed_gives_the_same_jobs() -> None:
    outcomes = []
    for _ in range(2):
        with Emulator(["prunner"], seed=17, speed=0) as emulator:
            ids = [emulator.submit("prunner") for _ in range(5)]
            outcomes.append([(i, emulator.backends["prunner"].final_state(i)) for i in ids])
    assert outcomes[0] == outcomes[1]


# -- pipelines defined in prunner's own YAML shape ------------------------------------------------

DEFINED = {
    "pipelines": {
        "one_at_a_time": {"tasks": {"work": {"script": ["sleep 2"]}}},
        "limited": {"queue_limit": 1, "tasks": {"work": {"script": ["sleep 2"]}}},
        "fast_fail": {
            "concurrency": 5,
            "tasks": {
                "bad": {"script": ["sleep 1", "exit 3"]},
                "slow": {"script": ["sleep 5"]},
                "after": {"script": ["echo"], "depends_on": ["bad"]},
            },
        },
        "going_on": {
            "concurrency": 5,
            "continue_running_tasks_after_failure": True,
            "tasks": {"bad": {"script": ["sleep 1", "exit 4"]}, "good": {"script": ["sleep 3"]}},
        },
        "handled": {
            "concurrency": 5,
            "tasks": {"bad": {"script": ["sleep 1", "exit 7"]}},
            "on_error": {"script": ["sleep 1"]},
        },
    }
}


@pytest.fixture(scope="module")
def defined(emu: Emulator) -> Emulator:
    emu.backends["prunner"].define(DEFINED)  # type: ignore[attr-defined]
    return emu


def test_a_pipeline_runs_one_job_at_a_time_by_default(defined: Emulator, api: httpx.Client) -> None:
    defined.clock.advance(10)  # the jobs of other tests have ended
    first, second = schedule(api, "one_at_a_time"), schedule(api, "one_at_a_time")
    assert (detail(api, first)["start"] is None, detail(api, second)["start"]) == (False, None)
    defined.clock.advance(2.5)
    assert detail(api, first)["completed"] and detail(api, second)["start"] is not None


def test_cancelling_the_running_job_starts_the_next_at_once(
    defined: Emulator, api: httpx.Client
) -> None:
    defined.clock.advance(10)  # the jobs of other tests have ended
    first, second = schedule(api, "one_at_a_time"), schedule(api, "one_at_a_time")
    defined.clock.advance(0.5)
    assert api.post("/job/cancel", params={"id": first}).json() is True
    body = detail(api, first)
    assert (body["canceled"], body["completed"], body["lastError"]) == (
        True,
        True,
        "context canceled",
    )
    assert detail(api, second)["start"] is not None


def test_the_job_list_shows_each_job_as_its_detail_does_as_it_moves(
    defined: Emulator, api: httpx.Client
) -> None:
    # The list encodes a job again only once it has moved; read at each step, through a
    # cancel that starts the next job at once, it must say what each job's detail says.
    defined.clock.advance(10)  # the jobs of other tests have ended
    ids = [schedule(api, "one_at_a_time") for _ in range(3)]
    seen = set()
    for step, cancel in ((0, False), (0.3, False), (0.2, True), (0.1, False), (1.0, False),
                         (0.4, False), (1.5, False), (3.0, False)):  # fmt: skip
        defined.clock.advance(step)
        if cancel:
            assert api.post("/job/cancel", params={"id": ids[0]}).json() is True
        listed = {job["id"]: job for job in api.get("/pipelines/jobs").json()["jobs"]}
        for job_id in ids:
            assert listed[job_id] == detail(api, job_id)
            seen.add(json.dumps(listed[job_id], sort_keys=True))
    assert len(seen) >= 7  # the jobs moved between the steps: the list followed them


def test_a_full_wait_list_refuses_jobs_and_the_pipeline_is_not_schedulable(
    defined: Emulator, api: httpx.Client
) -> None:
    schedule(api, "limited")
    schedule(api, "limited")  # waits
    refused = api.post("/pipelines/schedule", json={"pipeline": "limited"})
    assert refused.status_code == 400
    assert refused.text == (
        '{"error":"Error scheduling pipeline: concurrency exceeded and queue limit reached '
        'for pipeline"}\n'
    )
    limited = next(
        p for p in api.get("/pipelines/").json()["pipelines"] if p["pipeline"] == "limited"
    )
    assert (limited["schedulable"], limited["running"]) == (False, True)


def test_a_failure_while_others_run_cancels_them_and_the_job(
    defined: Emulator, api: httpx.Client
) -> None:
    job_id = schedule(api, "fast_fail")
    defined.clock.advance(1.5)
    body = detail(api, job_id)
    assert (body["completed"], body["canceled"], body["errored"], body["lastError"]) == (
        True,
        True,
        True,
        "context canceled",
    )
    assert [(t["status"], t["exitCode"], t["end"]) for t in body["tasks"]] == [
        ("error", 3, None),
        ("waiting", 0, None),
        ("canceled", -1, None),
    ]


def test_continue_after_failure_runs_the_other_tasks_to_their_end(
    defined: Emulator, api: httpx.Client
) -> None:
    job_id = schedule(api, "going_on")
    defined.clock.advance(1.5)
    running = detail(api, job_id)
    assert (running["completed"], running["errored"]) == (False, True)
    defined.clock.advance(2)
    body = detail(api, job_id)
    assert (body["completed"], body["canceled"], body["lastError"]) == (
        True,
        False,
        "exit status 4",
    )


def test_on_error_runs_after_the_failure_before_the_job_completes(
    defined: Emulator, api: httpx.Client
) -> None:
    job_id = schedule(api, "handled")
    defined.clock.advance(1.5)
    body = detail(api, job_id)
    assert [(t["name"], t["status"]) for t in body["tasks"]] == [
        ("bad", "error"),
        ("on_error", "running"),
    ]
    assert not body["completed"]
    defined.clock.advance(1)
    body = detail(api, job_id)
    assert (body["completed"], body["tasks"][-1]["status"], body["lastError"]) == (
        True,
        "done",
        "exit status 7",
    )


def test_a_reserved_variable_keeps_the_job_from_starting(emu: Emulator, api: httpx.Client) -> None:
    job_id = schedule(api, "deploy", __jobID="x")
    emu.clock.advance(5)  # past its turn to start
    body = detail(api, job_id)
    assert (body["canceled"], body["completed"], body["start"], body["lastError"]) == (
        True,
        False,
        None,
        "variable name __jobID is reserved for internal use",
    )


def test_unknown_paths_are_plain_404s_before_the_token_is_checked(emu: Emulator) -> None:
    response = httpx.get(emu.urls["prunner"] + "/pipelines/jobs/")
    assert (response.status_code, response.text) == (404, "404 page not found\n")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_known_path_with_another_method_is_an_empty_405(api: httpx.Client) -> None:
    response = api.post("/pipelines/jobs")
    assert (response.status_code, response.text, response.headers["allow"]) == (405, "", "GET")
