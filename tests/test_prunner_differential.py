"""The emulator's prunner against the real server: the same requests and the same scenarios,
answered alike.

Static requests (unknown routes and methods, trailing slashes, bad ids, malformed JSON, odd
Authorization headers) are compared on status code, content type, `Allow` and body. Scenarios
(a pipeline that succeeds, fail-fast, a single failure, allow_failure, continue after failure,
on_error, a reserved variable, cancels while running and queued, queueing with concurrency 1,
a start delay with a queue limit)
are observed over time on both: the real server polled every few hundredths of a second, the
emulator on a frozen clock moved in the same steps. Each observation keeps what a client can
rely on — field names in order, flags, null or set, task statuses and exit codes, errors — and
what jobhub makes of it. The real trace must be the emulator's with, at most, states that
lasted under a quarter of a second left out (a loaded machine may poll past them); the final
answers and jobhub's final Jobs must be equal.

The real server shows a few passing states the emulator does not: they are dropped from both
traces by `passing` and listed in docs/emulator.md, as is every difference kept below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from jobhub_prunner.adapter import PrunnerAdapter

from jobhub.emulator import Emulator
from tests.realprunner import PIPELINES, SECRET, RealPrunner

STEP = 0.05  # seconds between observations
KEPT = 0.25  # a state the emulator holds this long must show on the real server too
BOUND = 40.0  # seconds a scenario may take on the real server
UNKNOWN = "6f0e5d4c-3b2a-4190-8f7e-6d5c4b3a2918"
# Explained difference: the text after this prefix is Go's JSON decoder's own wording.
DECODE_ERROR = "Error decoding JSON: "


class Side:
    """One server the scenarios run on: how to send, and how time passes there."""

    def __init__(self, name: str, url: str, tick: Callable[[], None]) -> None:
        self.name, self.url, self.tick = name, url, tick
        self.client = httpx.Client(timeout=10)  # one connection pool: polls stay quick
        self._token = ("", 0.0)

    def token(self, **claims: Any) -> str:
        if not claims and time.monotonic() - self._token[1] < 20:
            return self._token[0]  # signed once every 20 s: a poll costs one request only
        token = jwt.encode({"sub": "tester", "exp": int(time.time()) + 60, **claims}, SECRET)
        if not claims:
            self._token = (token, time.monotonic())
        return token

    def send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if auth:
            headers.setdefault("Authorization", f"Bearer {self.token()}")
        return self.client.request(method, self.url + path, headers=headers, **kwargs)

    def schedule(self, pipeline: str, **variables: Any) -> str:
        response = self.send(
            "POST", "/pipelines/schedule", json={"pipeline": pipeline, "variables": variables}
        )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["jobId"]
        return job_id

    def detail(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.send("GET", "/job/detail", params={"id": job_id}).json()
        return body


@pytest.fixture(scope="module")
def real(real_prunner: RealPrunner) -> Iterator[Side]:
    side = Side("real", real_prunner.url, lambda: time.sleep(STEP))
    yield side
    side.client.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(["prunner"], speed=0, credentials={"prunner": {"jwt_secret": SECRET}}) as emu:
        emu.backends["prunner"].define(PIPELINES, replace=True)  # type: ignore[attr-defined]
        yield emu


@pytest.fixture(scope="module")
def emulated(emulator: Emulator) -> Iterator[Side]:
    lock = threading.Lock()

    def tick() -> None:
        with lock:
            emulator.clock.advance(STEP)

    side = Side("emulator", emulator.urls["prunner"], tick)
    yield side
    side.client.close()


# -- static answers -----------------------------------------------------------------------------


def answer(response: httpx.Response) -> tuple[Any, ...]:
    body: Any = response.text
    if response.headers.get("content-type") == "application/json":
        assert body.endswith("\n"), f"a JSON body ends with a newline: {body!r}"
        body = response.json()
        if isinstance(body, dict) and str(body.get("error", "")).startswith(DECODE_ERROR):
            body = {"error": DECODE_ERROR + "…"}
    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get("allow"),
        response.headers.get("x-content-type-options"),
        body,
    )


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/nope", {"auth": False}),
    ("GET", "/nope", {}),
    ("GET", "/", {}),
    ("GET", "/pipelines", {}),
    ("GET", "/pipelines/", {}),
    ("GET", "/pipelines/", {"auth": False}),
    ("GET", "/pipelines/jobs/", {}),
    ("GET", "/job/detail/", {}),
    ("POST", "/pipelines/jobs", {}),
    ("POST", "/pipelines/jobs", {"auth": False}),
    ("GET", "/job/cancel", {}),
    ("HEAD", "/pipelines/", {}),
    ("DELETE", "/job/detail", {}),
    ("PUT", "/pipelines/schedule", {}),
    ("GET", "/job/detail", {}),
    ("GET", "/job/detail?id=zzz", {}),
    ("GET", "/job/detail?id=" + UNKNOWN, {}),
    ("GET", "/job/detail?id=" + UNKNOWN.upper(), {}),
    ("GET", "/job/detail?id={" + UNKNOWN + "}", {}),
    ("POST", "/job/cancel?id=" + UNKNOWN, {}),
    ("POST", "/job/cancel?id=build-42", {}),
    ("GET", "/job/logs?id=" + UNKNOWN, {}),
    ("GET", "/job/logs?id=" + UNKNOWN + "&task=a", {}),
    ("GET", "/job/logs?id=nope&task=a", {}),
    ("POST", "/pipelines/schedule", {"content": b""}),
    ("POST", "/pipelines/schedule", {"content": b"{"}),
    ("POST", "/pipelines/schedule", {"content": b"[]"}),
    ("POST", "/pipelines/schedule", {"content": b"null"}),
    ("POST", "/pipelines/schedule", {"content": b"{}"}),
    ("POST", "/pipelines/schedule", {"content": b'{"pipeline":"nope"}'}),
    ("POST", "/pipelines/schedule", {"content": b'{"pipeline":3}'}),
    ("POST", "/pipelines/schedule", {"content": b'{"pipeline":"ok","variables":[]}'}),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS, ids=lambda v: str(v))
def test_static_answer_is_the_same(real, emulated, method, path, options) -> None:
    assert answer(emulated.send(method, path, **options)) == answer(
        real.send(method, path, **options)
    )


def authorizations(side: Side) -> list[dict[str, Any]]:
    good = side.token()
    now = int(time.time())
    return [
        {"headers": {"Authorization": "Bearer"}},
        {"headers": {"Authorization": "Bearerx" + good}},
        {"headers": {"Authorization": "bearer " + good}},
        {"headers": {"Authorization": "BEARER " + good}},
        {"headers": {"Authorization": "Bearer  " + good}},
        {"headers": {"Authorization": "Token " + good}},
        {"headers": {"Authorization": good}},
        {"headers": {"Authorization": "Bearer x.y.z"}},
        {"headers": {"Authorization": "Bearer  x"}},
        {"headers": {"Authorization": "Bearer " + side.token(exp=now - 5)}},
        {"headers": {"Authorization": "Bearer " + side.token(iat=now + 100)}},
        {"headers": {"Authorization": "Bearer " + side.token(nbf=now + 100)}},
        {"headers": {"Authorization": "Bearer " + jwt.encode({"sub": "x"}, "w" * 40)}},
        {"headers": {"Authorization": "Bearer " + jwt.encode({"sub": "x"}, SECRET, "HS512")}},
        {"headers": {"Authorization": "Bearer " + jwt.encode({"sub": 5}, SECRET)}},
        {"headers": {"Cookie": "jwt=" + good}},
        {"headers": {"Cookie": "jwt=x.y.z"}},
    ]


@pytest.mark.parametrize("case", range(17))
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 case
def test_authorization_is_read_alike(real, emulated, case) -> None:
    options = [authorizations(side)[case] for side in (emulated, real)]
    got = [
        answer(side.send("GET", "/pipelines/", auth=False, **option))
        for side, option in zip((emulated, real), options, strict=True)
    ]
    assert got[0] == got[1]


# -- scenarios over time ------------------------------------------------------------------------


def shape(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a client may rely on in a job answer; ids and times reduced to set or not."""
    tasks = tuple(
        (
            tuple(task),
            task["name"],
            task.get("dependsOn"),
            task["status"],
            task["start"] is not None,
            task["end"] is not None,
            task["skipped"],
            task["exitCode"],
            task["errored"],
            task.get("error"),
        )
        for task in body.get("tasks") or ()
    )
    return (
        tuple(body),
        body["pipeline"],
        body["completed"],
        body["canceled"],
        body["errored"],
        body["start"] is not None,
        body["end"] is not None,
        body.get("lastError"),
        body.get("variables"),
        body["user"],
        tasks,
    )


def passing(body: dict[str, Any]) -> bool:
    """The real server's passing states, over in a few hundredths of a second."""
    if body["completed"] or body["canceled"] or body["start"] is None:
        return False
    statuses = [task["status"] for task in body["tasks"]]
    if any(t["status"] == "running" and t["start"] is None for t in body["tasks"]):
        return True  # a task about to start
    if "running" not in statuses:
        return True  # between a task's end and its dependents' start, or before `completed`
    keeps_going = PIPELINES["pipelines"][body["pipeline"]].get(
        "continue_running_tasks_after_failure"
    )
    handler = any(task["name"] == "on_error" for task in body["tasks"])
    return body["errored"] and not keeps_going and not handler  # fail-fast stopping the rest


ADAPTER = PrunnerAdapter("ci", PrunnerAdapter.settings_from("ci", {}, env={}))


def jobhub_view(body: dict[str, Any]) -> tuple[Any, ...]:
    job = ADAPTER.normalize(body)
    return (
        job.state,
        job.error,
        job.progress,
        job.started_at is not None,
        job.finished_at is not None,
        tuple((t.name, t.state, t.exit_code, t.finished_at is not None) for t in job.tasks),
    )


def final_job(body: dict[str, Any]) -> dict[str, Any]:
    dumped = ADAPTER.normalize(body).model_dump(mode="json")
    for key in ("ref", "id", "raw", "created_at", "started_at", "finished_at", "duration"):
        dumped[key] = dumped[key] is not None if key.endswith("_at") else None
    for task in dumped["tasks"]:
        task["raw"] = None
        task["started_at"] = task["started_at"] is not None
        task["finished_at"] = task["finished_at"] is not None
    return dumped


def ended(body: dict[str, Any]) -> bool:
    return bool(body["completed"] or body["canceled"])


def observe(side: Side, ids: dict[str, str], until: Callable[[], bool] | None = None) -> Any:
    """Every answer for each job, one per step, until all have ended (and one more)."""
    seen: dict[str, list[dict[str, Any]]] = {label: [] for label in ids}
    deadline = time.monotonic() + BOUND
    extra = 2
    while extra:
        for label, job_id in ids.items():
            seen[label].append(side.detail(job_id))
        if all(ended(bodies[-1]) for bodies in seen.values()) and (until is None or until()):
            extra -= 1
        assert time.monotonic() < deadline, f"{side.name}: {list(ids)} did not end"
        side.tick()
    return seen


def wait_running(side: Side, job_id: str) -> None:
    deadline = time.monotonic() + BOUND
    while side.detail(job_id)["start"] is None or passing(side.detail(job_id)):
        assert time.monotonic() < deadline
        side.tick()
    for _ in range(4):  # well into its run
        side.tick()


def single(pipeline: str, **variables: Any) -> Callable[[Side], Any]:
    return lambda side: observe(side, {pipeline: side.schedule(pipeline, **variables)})


def cancels(side: Side) -> Any:
    running = side.schedule("slow")
    queued = side.schedule("slow")
    wait_running(side, running)
    answers = {"queued": answer(side.send("POST", "/job/cancel", params={"id": queued}))}
    answers["running"] = answer(side.send("POST", "/job/cancel", params={"id": running}))
    seen = observe(side, {"running": running, "queued": queued})
    answers["again"] = answer(side.send("POST", "/job/cancel", params={"id": running}))
    return seen, answers


def queueing(side: Side) -> Any:
    return observe(side, {f"job{n}": side.schedule("queue") for n in range(3)})


def cancelling_ended_jobs(side: Side) -> Any:
    ids = {p: side.schedule(p) for p in ("allow_fail", "fail_single", "fail_fast", "with_handler")}
    seen = observe(side, ids)
    answers = {
        label: answer(side.send("POST", "/job/cancel", params={"id": job_id}))
        for label, job_id in ids.items()
    }
    upper = side.send("GET", "/job/detail", params={"id": ids["allow_fail"].upper()})
    answers["upper-case id"] = (upper.status_code, upper.json()["id"] == ids["allow_fail"])
    return seen, answers


def delayed(side: Side) -> Any:
    first = side.schedule("delayed")
    refused = answer(side.send("POST", "/pipelines/schedule", json={"pipeline": "delayed"}))
    full = pipeline(side, "delayed")
    seen = observe(side, {"delayed": first})
    return seen, {"refused": refused, "while full": full, "after": pipeline(side, "delayed")}


def pipeline(side: Side, name: str) -> Any:
    """One pipeline's entry (the others run other scenarios meanwhile)."""
    return next(
        p for p in side.send("GET", "/pipelines/").json()["pipelines"] if p["pipeline"] == name
    )


SCENARIOS: dict[str, Callable[[Side], Any]] = {
    "succeeds": single("ok", name="x"),
    "fail-fast": single("fail_fast"),
    "single failure": single("fail_single"),
    "allow_failure": single("allow_fail"),
    "continue after failure": single("keep_going"),
    "on_error": single("with_handler"),
    "reserved variable": single("ok", __jobID="x"),
    "cancel running and queued": cancels,
    "queueing with concurrency 1": queueing,
    "cancelling ended jobs": cancelling_ended_jobs,
    "start delay with a queue limit": delayed,
}


@pytest.fixture(scope="module")
def outcomes(real: Side, emulated: Side) -> dict[str, dict[str, Any]]:
    """Every scenario on both: the real server's at once, in threads (each its own pipeline),
    the emulator's one after another on its frozen clock."""
    results: dict[str, dict[str, Any]] = {name: {} for name in SCENARIOS}
    errors: list[BaseException] = []

    def on_real(name: str) -> None:
        try:
            results[name]["real"] = SCENARIOS[name](real)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=on_real, args=(name,)) for name in SCENARIOS]
    for thread in threads:
        thread.start()
    for name, scenario in SCENARIOS.items():
        results[name]["emulator"] = scenario(emulated)
    for thread in threads:
        thread.join(BOUND + 10)
    if errors:
        raise errors[0]
    return results


def trace(bodies: list[dict[str, Any]], view: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """The distinct states in order, with how many observations each lasted."""
    steps: list[list[Any]] = []
    for body in bodies:
        if passing(body):
            continue
        seen = view(body)
        if steps and steps[-1][0] == seen:
            steps[-1][1] += 1
        else:
            steps.append([seen, 1])
    return steps


def assert_same_over_time(label: str, real: list[Any], emulated: list[Any], view: Any) -> None:
    """Both sides pass through the same states in the same order. A state one side held for
    less than KEPT may be missed by the other's sampling: the real server applies a cancel a
    moment after answering it, and under load its answers come late."""
    real_steps, emulated_steps = trace(real, view), trace(emulated, view)
    shown = {"real": [s for s, _ in real_steps], "emulator": [s for s, _ in emulated_steps]}
    kept = {}
    for side, steps, other in (
        ("emulator", emulated_steps, "real"),
        ("real", real_steps, "emulator"),
    ):
        missed = [(state, count) for state, count in steps if state not in shown[other]]
        held = [state for state, count in missed if count * STEP >= KEPT]
        assert not held, f"{label}: the {other} side never showed {held}, which the {side} held"
        kept[side] = [state for state in shown[side] if state in shown[other]]
    assert kept["real"] == kept["emulator"], (
        f"{label}: real {kept['real']} != emulator {kept['emulator']}"
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_answers_alike_over_time(outcomes, name) -> None:
    real, emulated = outcomes[name]["real"], outcomes[name]["emulator"]
    if isinstance(real, tuple):  # (observations, answers to requests made along the way)
        (real, real_answers), (emulated, emulated_answers) = real, emulated
        assert emulated_answers == real_answers
    for label in real:
        assert_same_over_time(label, real[label], emulated[label], shape)
        assert_same_over_time(label, real[label], emulated[label], jobhub_view)
        assert shape(emulated[label][-1]) == shape(real[label][-1])
        assert final_job(emulated[label][-1]) == final_job(real[label][-1])
