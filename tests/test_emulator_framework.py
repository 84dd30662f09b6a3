"""The emulator's framework, which knows no backend by name: the clock, wire formats, task
graphs, job plans and steering, and the `Emulator` server with its plugin hook."""

from __future__ import annotations

import io
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from jobhub import hookimpl
from jobhub.emulator import (
    Clock,
    EmulatedBackend,
    Emulator,
    Faults,
    Graph,
    Planner,
    Run,
    SteeringError,
    Step,
    json_response,
    parse_steering,
    schedule,
    serve,
)
from jobhub.emulator.formats import go_duration, json_bytes, naive_utc, rfc3339_nano
from jobhub.errors import ConfigError
from tests.conftest import SECRET

# -- clock ---------------------------------------------------------------------------------------


def test_clock_runs_at_its_speed() -> None:
    clock = Clock(speed=100)
    first = clock.now()
    time.sleep(0.05)
    assert 4.0 <= clock.now() - first <= 20.0


def test_frozen_clock_moves_only_when_advanced() -> None:
    clock = Clock(speed=0)
    time.sleep(0.01)
    assert clock.now() == 0.0
    clock.advance(12.5)
    assert clock.now() == 12.5


def test_clock_refuses_to_go_backwards() -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        Clock(speed=0).advance(-1)


@pytest.mark.parametrize("speed", [-1, float("inf"), float("nan")])
def test_clock_refuses_a_speed_that_is_not_a_finite_number_from_zero(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=speed)


def test_changing_speed_keeps_the_time_reached_so_far() -> None:
    clock = Clock(speed=0)
    clock.advance(30)
    clock.speed = 1000
    assert 30.0 <= clock.now() < 40.0


def test_clock_tells_listeners_when_it_jumps() -> None:
    clock = Clock(speed=0)
    heard: list[float] = []
    clock.on_change(lambda: heard.append(clock.now()))
    clock.advance(3)
    assert heard == [3.0]


def test_clock_real_delay_is_infinite_when_frozen_and_scaled_otherwise() -> None:
    assert Clock(speed=0).real_delay(5) == float("inf")
    assert Clock(speed=10).real_delay(5) == pytest.approx(0.5)


def test_a_held_clock_stands_still_then_runs_at_its_speed_again() -> None:
    clock = Clock(speed=1000)
    with clock.held():
        held_at = clock.now()
        time.sleep(0.01)
        assert (clock.speed, clock.now()) == (0, held_at)
        assert clock.pace == 1000  # what real-time plans are made with meanwhile
        with clock.held():  # nested: the outer hold ends it
            pass
        assert clock.now() == held_at
    assert (clock.speed, clock.pace) == (1000, 1000)
    time.sleep(0.01)
    assert clock.now() > held_at


# -- wire formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (0.0000015, "1.5µs"),
        (1.5, "1.5s"),
        (60, "1m0s"),
        (3723.5, "1h2m3.5s"),
        (7200, "2h0m0s"),
    ],
)
def test_go_duration_writes_what_go_writes(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_rfc3339_nano_drops_trailing_zeros_and_whole_second_dots() -> None:
    clock = Clock(speed=0, start=datetime(2025, 8, 15, 12, 0, 0, 250000, tzinfo=UTC))
    assert rfc3339_nano(clock.at(0)) == "2025-08-15T12:00:00.25Z"
    assert rfc3339_nano(clock.at(0.75)) == "2025-08-15T12:00:01Z"


def test_naive_utc_always_has_six_fraction_digits() -> None:
    clock = Clock(speed=0)
    assert naive_utc(clock.at(0)).count(".") == 1
    assert len(naive_utc(clock.at(0)).split(".")[1]) == 6


def test_json_bytes_is_the_utf8_of_compact_json() -> None:
    assert bytes(json_bytes({"a": [1, 2]})) == b'{"a":[1,2]}'
    assert json_bytes(None) == []


# -- task graphs ---------------------------------------------------------------------------------

DIAMOND = Graph(
    "diamond",
    [Step("d", ("b", "c")), Step("c", ("a",), weight=2), Step("b", ("a",)), Step("a")],
)


def test_graph_orders_steps_topologically_with_ties_by_name() -> None:
    assert DIAMOND.names == ("a", "b", "c", "d")


def test_graph_window_starts_each_step_when_its_dependencies_end() -> None:
    # a: 1, b: 1 (after a), c: 2 (after a), d: 1 (after b and c) — longest path 4.
    assert DIAMOND.window == {
        "a": (0.0, 0.25),
        "b": (0.25, 0.5),
        "c": (0.25, 0.75),
        "d": (0.75, 1.0),
    }


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([Step("a", ("b",)), Step("b", ("a",))], "cycle"),
        ([Step("a", ("ghost",))], "unknown"),
        ([Step("a"), Step("a")], "unique"),
    ],
)
def test_graph_refuses_broken_definitions(steps: list[Step], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Graph("broken", steps)


def test_schedule_runs_the_whole_graph_in_the_run_time() -> None:
    spans, ends = schedule(DIAMOND, started=10, duration=8)
    assert ends == 18
    assert [(s.name, s.start, s.end, s.outcome) for s in spans] == [
        ("a", 10, 12, "done"),
        ("b", 12, 14, "done"),
        ("c", 12, 16, "done"),
        ("d", 16, 18, "done"),
    ]


def test_fail_fast_cancels_running_tasks_and_starts_no_more() -> None:
    spans, ends = schedule(DIAMOND, started=0, duration=8, failing="b", fail_fast=True)
    by_name = {s.name: s for s in spans}
    assert ends == 4
    assert (by_name["b"].outcome, by_name["b"].end) == ("failed", 4)
    assert (by_name["c"].outcome, by_name["c"].end) == ("cancelled", 4)
    assert by_name["d"].start is None and by_name["d"].phase(100) == "waiting"


def test_without_fail_fast_only_the_failed_tasks_dependents_never_start() -> None:
    spans, ends = schedule(DIAMOND, started=0, duration=8, failing="b", fail_fast=False)
    by_name = {s.name: s for s in spans}
    assert by_name["c"].outcome == "done" and ends == 6
    assert by_name["d"].start is None


def test_cancel_stops_running_tasks_at_the_cancel_time() -> None:
    spans, ends = schedule(DIAMOND, started=0, duration=8, cancelled_at=3)
    assert ends == 3
    assert [(s.name, s.phase(10)) for s in spans] == [
        ("a", "done"),
        ("b", "cancelled"),
        ("c", "cancelled"),
        ("d", "waiting"),
    ]


def test_skipped_step_is_skipped_from_its_start() -> None:
    spans, _ = schedule(DIAMOND, started=0, duration=8, skipped=frozenset({"b"}))
    b = next(s for s in spans if s.name == "b")
    assert (b.phase(1.9), b.phase(2)) == ("waiting", "skipped")


# -- steering and plans --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "outcome", "expected"),
    [
        (None, None, (None, None)),
        ("2.5", "FAILED", (2.5, "failed")),
        (0, "succeeded", (0.0, "succeeded")),
        ("", "", (None, None)),
    ],
)
def test_parse_steering_reads_numbers_and_outcome_words(
    duration: Any, outcome: Any, expected: tuple[float | None, str | None]
) -> None:
    assert parse_steering(duration, outcome) == expected


@pytest.mark.parametrize(
    ("duration", "outcome"),
    [("soon", None), (-1, None), (float("inf"), None), (True, None), (None, "cancelled")],
)
def test_parse_steering_refuses_what_it_cannot_use(duration: Any, outcome: Any) -> None:
    with pytest.raises(SteeringError):
        parse_steering(duration, outcome)


def test_planner_repeats_its_choices_for_the_same_seed() -> None:
    first, second = Planner("7/x"), Planner("7/x")
    assert [first.plan() for _ in range(5)] == [second.plan() for _ in range(5)]
    assert first.new_id() == second.new_id()


def test_steering_one_job_does_not_shift_the_next_jobs_plan() -> None:
    steered, free = Planner("7/x"), Planner("7/x")
    steered.plan(duration=1, outcome="failed")
    free.plan()
    assert steered.plan() == free.plan()


def test_planner_fails_about_its_failure_rate() -> None:
    planner = Planner("rate", failure_rate=0.25)
    failed = sum(planner.plan().outcome == "failed" for _ in range(4000))
    assert 850 < failed < 1150


def make_run(**fields: Any) -> Run:
    values: dict[str, Any] = dict(
        id="j",
        workflow="w",
        created=0.0,
        started=2.0,
        duration=10.0,
        finished=12.0,
        outcome="succeeded",
    )
    values.update(fields)
    return Run(**values)


def test_run_phases_follow_its_plan() -> None:
    run = make_run(outcome="failed")
    assert [run.phase(t) for t in (0, 2, 11.9, 12)] == ["queued", "running", "running", "failed"]


def test_cancelled_run_ends_cancelled_at_the_cancel_time() -> None:
    run = make_run()
    assert run.cancel(5.0)
    assert (run.phase(5.0), run.ends, run.final_state) == ("cancelled", 5.0, "cancelled")


def test_run_cancelled_while_queued_is_cancelled_before_start() -> None:
    run = make_run()
    run.cancel(1.0)
    assert run.cancelled_before_start


def test_ended_run_cannot_be_cancelled() -> None:
    run = make_run(outcome="failed")
    assert not run.cancel(12.0)
    assert run.final_state == "failed"


# -- the Emulator --------------------------------------------------------------------------------


class EchoEmulator(EmulatedBackend):
    """A third-party backend, the way a plugin author writes one."""

    type = "echo"
    credential_names = ("token",)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            self.route("/jobs/{job_id}", self.get_job),
            self.route("/jobs", self.create, ["POST"]),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Token {self.credentials['token']}":
            return self.error_response(401, "bad token")
        return None

    async def get_job(self, request: Request) -> Response:
        run = self.find(request.path_params["job_id"])
        if run is None:
            return self.error_response(404, "no such job")
        return json_response({"id": run.id, "state": run.phase(self.now())})

    async def create(self, request: Request) -> Response:
        body = await request.json()
        run = self.new_run("echo", duration=body.get("duration"), outcome=body.get("outcome"))
        return json_response({"id": run.id}, 201)

    def submit(
        self,
        client: httpx.Client,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        response = client.post(
            "/jobs",
            json={"duration": duration, "outcome": outcome},
            headers={"Authorization": f"Token {self.credentials['token']}"},
        )
        response.raise_for_status()
        job_id: str = response.json()["id"]
        return job_id


class EchoPlugin:
    @hookimpl
    def jobhub_register_emulators(self, register: Callable[[Any], None]) -> None:
        register(EchoEmulator)


def test_emulator_serves_on_a_free_port_of_loopback() -> None:
    with Emulator([EchoEmulator], speed=0) as emu:
        assert emu.url.startswith("http://127.0.0.1:") and emu.port > 0
        assert emu.urls == {"echo": f"{emu.url}/echo"}


def test_plugin_emulator_registered_through_the_hook_is_served(registry: Any) -> None:
    registry.register(EchoPlugin(), name="echo-plugin")
    with Emulator(["echo"], speed=0) as emu:
        job_id = emu.submit("echo", duration=4, outcome="failed")
        token = emu.backends["echo"].credentials["token"]
        response = httpx.get(
            f"{emu.urls['echo']}/jobs/{job_id}", headers={"Authorization": f"Token {token}"}
        )
        assert response.json() == {"id": job_id, "state": "queued"}
        emu.clock.advance(10)
        assert emu.backends["echo"].final_state(job_id) == "failed"


def test_emulator_serves_every_registered_emulator_by_default(registry: Any) -> None:
    registry.register(EchoPlugin(), name="echo-plugin")
    emu = Emulator(speed=0)
    assert {"sieve", "pixxel", "prunner", "echo"} <= set(emu.backends)


def test_emulator_refuses_a_type_nobody_registered() -> None:
    with pytest.raises(ConfigError, match="no emulator for backend type 'nope'"):
        Emulator(["nope"])


def test_emulator_refuses_faults_for_a_backend_it_does_not_serve() -> None:
    with pytest.raises(ConfigError, match="faults given for"):
        Emulator([EchoEmulator], faults={"sieve": Faults(rate=0.5)})


def test_hub_config_names_each_backend_with_its_type_url_and_credentials() -> None:
    with Emulator([EchoEmulator], speed=0) as emu:
        assert emu.hub_config() == {
            "echo": {
                "type": "echo",
                "url": emu.urls["echo"],
                "token": emu.backends["echo"].credentials["token"],
            }
        }


def test_credentials_come_from_the_seed_unless_given() -> None:
    same = Emulator([EchoEmulator], seed=4).backends["echo"].credentials
    assert same == Emulator([EchoEmulator], seed=4).backends["echo"].credentials
    assert same != Emulator([EchoEmulator], seed=5).backends["echo"].credentials
    given = Emulator([EchoEmulator], credentials={"echo": {"token": SECRET}})
    assert given.backends["echo"].credentials == {"token": SECRET}


def test_emulator_and_backend_reprs_hold_no_credentials() -> None:
    emu = Emulator([EchoEmulator], credentials={"echo": {"token": SECRET}})
    assert SECRET not in repr(emu) and SECRET not in repr(emu.backends["echo"])


def test_submit_before_start_says_how_to_start() -> None:
    with pytest.raises(ConfigError, match="not running"):
        Emulator([EchoEmulator]).submit("echo")


def test_stop_releases_a_held_long_poll_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    emu = Emulator(["sieve"], speed=0, await_hold=30).start()
    job_id = emu.submit("sieve", duration=100)
    backend = emu.backends["sieve"]
    key = backend.credentials["api_key"]
    answers: list[int] = []
    holding = threading.Event()
    hold = backend.hold

    async def held(run: Run, seconds: float) -> bool:
        holding.set()
        return await hold(run, seconds)

    monkeypatch.setattr(backend, "hold", held)

    def wait() -> None:
        url = f"{emu.urls['sieve']}/v2/jobs/{job_id}/await"
        answers.append(httpx.get(url, headers={"X-API-Key": key}, timeout=30).status_code)

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert holding.wait(10), "the long-poll was never held"
    started = time.monotonic()
    emu.stop()
    waiter.join(5)
    assert answers == [408] and time.monotonic() - started < 3


def test_emulator_serves_again_after_a_stop() -> None:
    emu = Emulator(["sieve"], speed=0, await_hold=0.1)
    for _ in range(2):
        with emu:
            job_id = emu.submit("sieve", duration=100)
            key = emu.backends["sieve"].credentials["api_key"]
            url = f"{emu.urls['sieve']}/v2/jobs/{job_id}/await"
            assert httpx.get(url, headers={"X-API-Key": key}).status_code == 408


def test_submit_from_many_threads_creates_each_job_once() -> None:
    with Emulator(["prunner"], speed=0) as emu:
        ids: list[str] = []
        workers = [
            threading.Thread(target=lambda: ids.extend(emu.submit("prunner") for _ in range(5)))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
        assert len(set(ids)) == 20 == len(emu.backends["prunner"].runs)


def test_jobs_move_with_the_clock_speed() -> None:
    with Emulator([EchoEmulator], speed=50) as emu:
        job_id = emu.submit("echo", duration=10, outcome="succeeded")
        backend = emu.backends["echo"]
        run = backend.runs[job_id]
        time.sleep(run.ends / 50 + 0.1)
        assert run.phase(backend.now()) == "succeeded"


def test_serve_prints_urls_and_a_config_file_that_reads_back() -> None:
    out, stop = io.StringIO(), threading.Event()
    server = threading.Thread(
        target=serve, kwargs={"port": 0, "types": ["prunner"], "out": out, "stop": stop}
    )
    server.start()
    deadline = time.monotonic() + 10
    while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    server.join(10)
    text = out.getvalue()
    config = tomllib.loads(text.split("# jobhub.toml for this emulator", 1)[1].split("Press")[0])
    entry = config["backends"]["prunner"]
    assert entry["type"] == "prunner" and entry["url"] in text and entry["jwt_secret"]
