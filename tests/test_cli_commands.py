"""Every `jobhub` command, against the emulator on loopback.

One emulator serves the whole module (at 20x speed); each test runs a command with a jobhub.toml
written from the emulator's configuration, and checks what a user sees: stdout, stderr and the
exit code. Commands run in this process (tests/cli_helpers.py) unless the process is the point:
Ctrl-C, a live event stream read while the command runs, commands waiting out a timeout at
once, the emulator's own server process; those start the installed `jobhub` script.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jobhub.emulator import Emulator, config_toml
from jobhub.hub import Hub
from jobhub.model import Job, JobEvent, JobState
from jobhub.plugins import get_registry
from jobhub.waiting import policy
from tests.cli_helpers import JOBHUB, run_command
from tests.conftest import SECRET

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

SPEED = 20.0  # emulated seconds per real second
MOVING = 40.0  # emulated seconds (2 s real): still running once a command has started
LONG = 100_000.0  # emulated seconds: a job that runs for the whole module
POLL = {"poll_interval": 0.1, "poll_max": 0.4}
CREDENTIAL_VARS = ("SIEVE_API_KEY", "PIXXEL_API_KEY", "PRUNNER_JWT_SECRET")


class Env:
    """The emulator, a config file for it, and jobs submitted for the module's tests."""

    def __init__(self, emu: Emulator, home: Path) -> None:
        self.emu = emu
        self.home = home
        self.config = home / "jobhub.toml"
        self.write_config(self.config, emu.hub_config())
        self.hub = Hub(emu.hub_config())

    @staticmethod
    def write_config(path: Path, backends: dict[str, dict[str, Any]]) -> Path:
        entries = {name: {**entry, **POLL} for name, entry in backends.items()}
        path.write_text(config_toml(entries), encoding="utf-8")
        path.chmod(0o600)
        return path

    def submit(self, backend: str, duration: float, outcome: str = "succeeded") -> str:
        return f"{backend}:{self.emu.submit(backend, duration=duration, outcome=outcome)}"

    def ended(self, ref: str) -> Job:
        return self.hub.wait(ref, timeout=30)

    def final_state(self, ref: str) -> str:
        backend, job_id = ref.split(":", 1)
        return self.emu.final_state(backend, job_id)

    def environ(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in CREDENTIAL_VARS and not key.startswith("JOBHUB_") and key != "COLUMNS"
        }
        env["HOME"] = str(self.home)
        env["TZ"] = "UTC"  # event lines start "HH:MM:SS UTC "
        return env

    @contextmanager
    def background(self, *args: str) -> Iterator[subprocess.Popen[str]]:
        """The command running in the background, ready to receive Ctrl-C (SIGINT); killed
        at the end if it is still running (a failed test leaves nothing behind)."""
        process = subprocess.Popen(
            [JOBHUB, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.home,
            env=self.environ(),
            # A shell running the tests in the background ignores SIGINT, and children inherit
            # that; give the command the default, as a terminal would.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()

    def run(
        self,
        *args: str,
        config: Path | None = None,
        stdin: str | None = None,
        tz: str = "UTC",
    ) -> subprocess.CompletedProcess[str]:
        """The command's output and exit code, run in this process."""
        result = run_command(
            ["--config", str(config or self.config), *args],
            env={**self.environ(), "TZ": tz},
            cwd=self.home,
            stdin=stdin,
        )
        # No command ever shows a credential, whatever it prints.
        assert SECRET not in result.stdout + result.stderr
        return result


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    emulators = get_registry().emulators
    credentials = {t: dict.fromkeys(cls.credential_names, SECRET) for t, cls in emulators.items()}
    with Emulator(seed=5, speed=SPEED, credentials=credentials) as emu:
        environment = Env(emu, tmp_path_factory.mktemp("cli"))
        yield environment
        environment.hub.close()


@pytest.fixture(scope="module")
def succeeded(env: Env) -> str:
    """A prunner job that has succeeded (tasks and all)."""
    ref = env.submit("prunner", 2.0)
    assert env.ended(ref).state is JobState.SUCCEEDED
    return ref


@pytest.fixture(scope="module")
def failed(env: Env) -> str:
    """A Sieve job that has failed."""
    ref = env.submit("sieve", 2.0, "failed")
    assert env.ended(ref).state is JobState.FAILED
    return ref


@pytest.fixture(scope="module")
def running(env: Env) -> str:
    """A Pixxel job that keeps running (Pixxel has no cancel, so nothing ends it)."""
    return env.submit("pixxel", LONG)


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("jobhub: ")
    return lines[0]


def json_lines(stdout: str) -> list[Any]:
    return [json.loads(line) for line in stdout.splitlines()]


# -- get -----------------------------------------------------------------------------------------


def test_get_shows_the_job_and_its_tasks_in_dependency_order(env: Env, succeeded: str) -> None:
    result = env.run("get", succeeded)
    assert result.returncode == 0, result.stderr
    job = env.hub.get(succeeded)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ref", succeeded]
    assert ["state", "succeeded"] in [line.split() for line in lines]
    tree = lines[lines.index(f"tasks ({len(job.tasks)})") + 1 :]
    shown = [name for line in tree for name in [t.name for t in job.tasks] if f" {name} " in line]
    assert sorted(shown) == sorted(t.name for t in job.tasks)  # each task once
    for task in job.tasks:  # a task is drawn below every task it depends on
        for dependency in task.depends_on:
            assert shown.index(dependency) < shown.index(task.name)


def test_get_json_of_one_ref_is_its_job_document_and_of_several_an_array(
    env: Env, succeeded: str, failed: str
) -> None:
    result = env.run("get", succeeded, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == env.hub.get(succeeded).model_dump(mode="json")
    assert json.loads(env.run("get", succeeded, "-o", "json").stdout) == json.loads(result.stdout)
    several = json.loads(env.run("get", failed, succeeded, "--json").stdout)
    assert several == [env.hub.get(ref).model_dump(mode="json") for ref in (failed, succeeded)]


def test_get_json_validates_against_jobhub_schema(env: Env, succeeded: str, failed: str) -> None:
    schema = json.loads(env.run("schema").stdout)
    result = env.run("get", succeeded, failed, "-o", "json")
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert [doc["ref"] for doc in documents] == [succeeded, failed]
    for document in documents:
        jsonschema.validate(document, schema)


def test_get_jsonl_is_one_job_per_line_and_name_the_refs(
    env: Env, succeeded: str, failed: str
) -> None:
    lines = json_lines(env.run("get", succeeded, failed, "-o", "jsonl").stdout)
    assert [doc["ref"] for doc in lines] == [succeeded, failed]
    assert env.run("get", succeeded, failed, "-o", "name").stdout.split() == [succeeded, failed]


def test_get_of_a_missing_job_exits_3_in_one_line(env: Env) -> None:
    result = env.run("get", "sieve:00000000-0000-4000-8000-000000000000")
    assert result.returncode == 3
    assert result.stdout == ""
    assert "404" in one_line(result.stderr)


def test_get_of_several_refs_shows_those_found_and_exits_3(env: Env, succeeded: str) -> None:
    missing = "sieve:00000000-0000-4000-8000-000000000000"
    result = env.run("get", succeeded, missing)
    assert result.returncode == 3
    assert f"ref       {succeeded}" in result.stdout
    assert one_line(result.stderr).startswith(f"jobhub: {missing}: sieve backend 'sieve': 404")


def test_under_json_an_error_is_a_json_record_on_stderr(env: Env, succeeded: str) -> None:
    missing = "sieve:00000000-0000-4000-8000-000000000000"
    result = env.run("get", succeeded, missing, "-o", "jsonl")
    assert result.returncode == 3
    assert [doc["ref"] for doc in json_lines(result.stdout)] == [succeeded]
    (record,) = json_lines(result.stderr)
    assert record["error"]["type"] == "JobNotFound"
    assert record["error"]["ref"] == missing and record["error"]["exit_code"] == 3
    assert "404" in record["error"]["message"]
    usage = env.run("get", "nowhere:1", "--json")
    assert usage.returncode == 2
    assert json_lines(usage.stderr)[0]["error"]["type"] == "ConfigError"


def test_refs_are_trimmed_and_read_from_stdin_with_a_dash(env: Env, succeeded: str) -> None:
    assert env.run("get", f"  {succeeded}\n", "-o", "name").stdout.split() == [succeeded]
    result = env.run("get", "-", "-o", "name", stdin=f"{succeeded}\n  {succeeded}  \n")
    assert result.stdout.split() == [succeeded]


def test_get_of_an_unconfigured_backend_is_a_usage_error(env: Env) -> None:
    result = env.run("get", "nowhere:1")
    assert result.returncode == 2
    assert "no backend named 'nowhere'" in one_line(result.stderr)


# -- list ----------------------------------------------------------------------------------------


def test_list_shows_a_table_of_the_backends_jobs_with_copyable_refs(env: Env, failed: str) -> None:
    result = env.run("list", "sieve")
    assert result.returncode == 0, result.stderr
    header, *rows = [line.split() for line in result.stdout.splitlines()]
    assert header == ["ref", "workflow", "state", "progress", "age", "duration"]
    row = next(row for row in rows if row[0] == failed)  # the whole ref, ready to paste
    assert row[2] == "failed"
    assert env.run("get", row[0]).returncode == 0


def test_list_shows_pixxel_workflows_by_their_names(env: Env) -> None:
    ref = env.submit("pixxel", LONG)
    workflow_id = env.hub.get(ref).workflow
    workflows = env.emu.backends["pixxel"].workflows  # type: ignore[attr-defined]
    result = env.run("list", "pixxel")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith(ref))
    assert workflows[workflow_id].name in row  # the name the workflow list gave, not its id
    listed = json.loads(env.run("list", "pixxel", "-o", "json").stdout)
    job = next(job for job in listed if job["ref"] == ref)
    assert (job["workflow"], job["labels"]["workflow_name"]) == (
        workflow_id,
        workflows[workflow_id].name,
    )


def test_list_without_a_name_merges_every_backend_newest_first(
    env: Env, succeeded: str, failed: str, running: str
) -> None:
    result = env.run("list", "-o", "json", "--limit", "0")
    assert result.returncode == 0, result.stderr
    jobs = [Job.model_validate(doc) for doc in json.loads(result.stdout)]
    assert {succeeded, failed} <= {job.ref for job in jobs}
    assert {job.backend for job in jobs} >= {"sieve", "prunner", "pixxel"}
    created = [job.created_at for job in jobs if job.created_at is not None]
    assert created == sorted(created, reverse=True)


def test_list_states_repeat_and_split_on_commas_in_any_case(
    env: Env, succeeded: str, failed: str
) -> None:
    result = env.run("list", "--state", "FAILED", "--state", "Succeeded,cancelled", "-o", "jsonl")
    assert result.returncode == 0, result.stderr
    jobs = json_lines(result.stdout)
    assert {succeeded, failed} <= {job["ref"] for job in jobs}
    assert {job["state"] for job in jobs} <= {"failed", "succeeded", "cancelled"}


def test_list_since_and_user_filter(env: Env, succeeded: str) -> None:
    user = env.hub.get(succeeded).user
    assert user
    recent = env.run("list", "prunner", "--since", "2h", "--user", user, "-o", "name")
    assert succeeded in recent.stdout.split()
    later = env.run("list", "prunner", "--since", "2999-01-01", "-o", "name")
    assert later.returncode == 0 and later.stdout == ""
    nobody = env.run("list", "prunner", "--user", "nobody-at-all")
    assert nobody.stdout == "" and "no jobs on 'prunner' match" in nobody.stderr
    bad = env.run("list", "--since", "yesterday")
    assert bad.returncode == 2 and "a duration like 2h" in bad.stderr


def test_list_sorts_by_duration_and_reverses(env: Env, succeeded: str, failed: str) -> None:
    def durations(*options: str) -> list[float]:
        result = env.run("list", "--state", "succeeded,failed", *options, "-o", "json")
        return [Job.model_validate(doc).duration or 0.0 for doc in json.loads(result.stdout)]

    longest_first = durations("--sort", "duration")
    assert longest_first == sorted(longest_first, reverse=True)
    assert durations("--sort", "duration", "--reverse") == sorted(longest_first)


def test_list_says_when_the_limit_cut_it(env: Env, succeeded: str, failed: str) -> None:
    result = env.run("list", "--limit", "1")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2  # the header and one job
    assert "more available: raise --limit" in one_line(result.stderr)
    assert len(json.loads(env.run("list", "--limit", "1", "--json").stdout)) == 1
    everything = env.run("list", "--limit", "0")
    assert everything.stderr == "" and len(everything.stdout.splitlines()) > 2


def test_a_single_valued_option_given_twice_is_a_usage_error(env: Env) -> None:
    for args in (
        ("list", "--limit", "1", "--limit", "2"),
        ("wait", "x:1", "-o", "json", "-o", "name"),
    ):
        result = env.run(*args)
        assert result.returncode == 2
        assert "given more than once" in result.stderr


def test_list_of_an_unknown_state_is_a_usage_error(env: Env) -> None:
    result = env.run("list", "sieve", "--state", "running,done")
    assert result.returncode == 2
    assert "unknown state 'done'" in result.stderr


# -- wait ----------------------------------------------------------------------------------------


def test_wait_exits_0_when_every_job_succeeded(env: Env) -> None:
    refs = [env.submit("prunner", MOVING), env.submit("sieve", MOVING)]
    result = env.run("wait", *refs)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for ref in refs:  # one line per change, the last one the job's end
        assert any(line.split()[2:4] == [ref, "running"] or ref in line for line in lines)
    ends = [line for line in lines if "succeeded  after" in line]  # seen moving, or ended
    assert {line.split()[2] for line in ends} == set(refs)
    assert lines[-1] == "2 jobs: 2 succeeded"


def test_wait_exits_1_when_a_job_failed(env: Env) -> None:
    refs = [env.submit("prunner", MOVING), env.submit("pixxel", MOVING, "failed")]
    result = env.run("wait", *refs)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "2 jobs: 1 succeeded, 1 failed"


def test_wait_json_is_the_jobs_as_they_ended(env: Env) -> None:
    refs = [env.submit("prunner", MOVING), env.submit("sieve", MOVING, "failed")]
    result = env.run("wait", *refs, "--json")
    assert result.returncode == 1
    jobs = [Job.model_validate(doc) for doc in json.loads(result.stdout)]
    assert [(job.ref, job.state) for job in jobs] == [
        (refs[0], JobState.SUCCEEDED),
        (refs[1], JobState.FAILED),
    ]


def test_wait_name_prints_each_ref_as_its_job_ends(env: Env) -> None:
    refs = [env.submit("prunner", MOVING), env.submit("sieve", 2.0)]
    result = env.run("wait", *refs, "-o", "name")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(refs)


def test_wait_jsonl_is_the_event_stream(env: Env) -> None:
    # Emulated time stands still until the command has seen the job, however long it takes to
    # start on a busy machine: it then sees the job's tasks move.
    env.emu.clock.speed = 0
    try:
        ref = env.submit("prunner", MOVING)
        with env.background("--config", str(env.config), "wait", ref, "-o", "jsonl") as process:
            first = read_line(process, 60)
            env.emu.clock.speed = SPEED
            rest, errors = process.communicate(timeout=60)
    finally:
        env.emu.clock.speed = SPEED
    assert process.returncode == 0, errors
    assert SECRET not in first + rest + errors
    events = [JobEvent.model_validate_json(line) for line in [first, *rest.splitlines()]]
    assert {event.ref for event in events} == {ref}
    assert events[0].kind == "state" and events[0].old is None
    assert any(event.kind == "task" for event in events)  # tasks seen moving
    assert (events[-1].kind, events[-1].new) == ("state", "succeeded")


def test_wait_past_its_timeout_exits_4_naming_the_open_job(env: Env, running: str) -> None:
    result = env.run("wait", running, "--timeout", "0.5")
    assert result.returncode == 4
    line = one_line(result.stderr)
    assert "waited 0.5 s" in line
    assert running in line


def test_wait_timeout_under_json_is_a_record_naming_the_open_jobs(env: Env, running: str) -> None:
    result = env.run("wait", running, "--timeout", "0.5", "-o", "json")
    assert result.returncode == 4
    (record,) = json_lines(result.stderr)
    assert record["error"]["type"] == "WaitTimeout" and record["error"]["exit_code"] == 4
    # Its last state seen; on a busy machine the half second may pass before the first look.
    assert record["error"]["pending"] in ({running: "running"}, {running: None})


def test_wait_timeout_0_is_accepted_and_gives_up_at_once(env: Env, running: str) -> None:
    result = env.run("wait", running, "--timeout", "0")
    assert result.returncode == 4
    assert running in one_line(result.stderr)


def test_wait_can_cancel_what_is_open_at_the_timeout(env: Env) -> None:
    ref = env.submit("prunner", LONG)
    result = env.run("wait", ref, "--timeout", "0.5", "--cancel-on-timeout")
    assert result.returncode == 4
    assert "cancel requested for 1" in one_line(result.stderr)
    assert env.final_state(ref) == "cancelled"


def test_wait_names_a_job_it_could_not_cancel(env: Env, running: str) -> None:
    result = env.run("wait", running, "--timeout", "0.5", "--cancel-on-timeout")
    assert result.returncode == 4
    assert f"{running} not cancelled: its backend has no cancel" in one_line(result.stderr)


# -- watch ---------------------------------------------------------------------------------------


def test_watch_json_ends_when_the_jobs_have_ended(env: Env) -> None:
    refs = [env.submit("sieve", MOVING), env.submit("prunner", MOVING, "failed")]
    result = env.run("watch", *refs, "-o", "jsonl")
    assert result.returncode == 0, result.stderr  # watching says nothing of the outcome
    events = [JobEvent.model_validate(item) for item in json_lines(result.stdout)]
    last = {event.ref: event for event in events}
    assert {ref: last[ref].job.state for ref in refs} == {
        refs[0]: JobState.SUCCEEDED,
        refs[1]: JobState.FAILED,
    }


def test_watch_a_backend_follows_its_jobs_until_the_timeout(env: Env, running: str) -> None:
    result = env.run("watch", "--backend", "pixxel", "--timeout", "1", "-o", "jsonl")
    assert result.returncode == 0, result.stderr
    events = [JobEvent.model_validate(item) for item in json_lines(result.stdout)]
    assert {event.job.backend for event in events} == {"pixxel"}
    assert running in {event.ref for event in events}


def test_watch_without_refs_or_backend_is_a_usage_error(env: Env) -> None:
    result = env.run("watch")
    assert result.returncode == 2
    assert "one of the two" in one_line(result.stderr)


@pytest.mark.parametrize("command", ["watch", "wait"])
def test_ctrl_c_exits_130_without_a_traceback(env: Env, running: str, command: str) -> None:
    with env.background("--config", str(env.config), command, running) as process:
        first = read_line(process, timeout=30)  # the first change shown: it is under way
        assert first.split()[2:] == [running, "running"]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=15)
    assert process.returncode == 130
    assert err.strip() == ""  # no traceback, no message


def test_times_are_local_and_name_their_zone_or_utc_on_request(env: Env, succeeded: str) -> None:
    job = env.hub.get(succeeded)
    assert job.created_at is not None
    local = env.run("get", succeeded, tz="JST-9")  # a POSIX zone: 9 hours east of UTC
    shown = job.created_at.astimezone(timezone(timedelta(hours=9)))
    assert f"created   {shown:%Y-%m-%d %H:%M:%S} JST" in local.stdout
    utc = env.run("get", succeeded, "--utc", tz="JST-9")
    assert f"created   {job.created_at:%Y-%m-%d %H:%M:%S} UTC" in utc.stdout
    wide = env.run("list", "prunner", "-o", "wide", "--utc", tz="JST-9")
    assert f"{job.created_at:%Y-%m-%d %H:%M:%S} UTC" in wide.stdout


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def down_backend(env: Env, path: Path) -> tuple[Path, str]:
    """A config whose one backend, `down`, listens nowhere (a closed loopback port)."""
    down = {"type": "sieve", "url": f"http://127.0.0.1:{closed_port()}", "api_key": "k"}
    return env.write_config(path, {"down": down}), "down:8c1c6a5e-1111-4222-8333-944455556666"


def test_wait_on_a_backend_that_never_answers_warns_once_then_names_its_error(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a backend stays down, `wait` warns once on stderr, however many requests fail
    after the first warning, and its timeout error names the backend and what it answered
    (nothing). When the engine warns (FAILURES_WARNED failures in a row over
    FAILING_WARNED_AFTER) is tested on virtual time in test_waiting_faults; here the first
    failure is enough, so how many requests a loaded machine sends within the wait does not
    decide whether the warning comes."""
    monkeypatch.setattr(policy, "FAILURES_WARNED", 1)
    monkeypatch.setattr(policy, "FAILING_WARNED_AFTER", 0.0)
    config, ref = down_backend(env, tmp_path / "down.toml")
    result = env.run("wait", ref, "--timeout", "3", config=config)
    machine = env.run("wait", ref, "--timeout", "3", "-o", "json", config=config)
    assert result.returncode == machine.returncode == 4
    *warnings, last = result.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("jobhub: warning: ")
    assert "down" in warnings[0]
    assert "unreachable" in last and ref in last
    *json_warnings, json_error = json_lines(machine.stderr)
    assert len(json_warnings) == 1 and "warning" in json_warnings[0]
    assert "down" in json_error["error"]["backend_errors"]


# -- cancel --------------------------------------------------------------------------------------


def test_cancel_asks_the_backend_to_cancel(env: Env) -> None:
    ref = env.submit("prunner", LONG)
    result = env.run("cancel", ref)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cancel requested for {ref}"
    assert env.ended(ref).state is JobState.CANCELLED


def test_cancel_json(env: Env) -> None:
    ref = env.submit("sieve", LONG)
    result = env.run("cancel", ref, "--json")
    assert json.loads(result.stdout) == [{"ref": ref, "cancel_requested": True}]


def test_cancel_takes_several_refs_and_carries_on_past_one_it_cannot(
    env: Env, running: str
) -> None:
    refs = [env.submit("prunner", LONG), env.submit("sieve", LONG)]
    result = env.run("cancel", refs[0], running, f" {refs[1]} ")
    assert result.returncode == 3
    assert result.stdout.splitlines() == [f"cancel requested for {ref}" for ref in refs]
    assert one_line(result.stderr).startswith(f"jobhub: {running}: ")
    assert [env.ended(ref).state for ref in refs] == [JobState.CANCELLED] * 2


def test_cancel_reads_refs_from_stdin(env: Env) -> None:
    refs = [env.submit("prunner", LONG), env.submit("sieve", LONG)]
    result = env.run("cancel", "-", "-o", "name", stdin="\n".join(refs) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == refs


def test_cancel_of_an_ended_job_exits_3(env: Env, failed: str) -> None:
    result = env.run("cancel", failed)
    assert result.returncode == 3
    assert "already ended" in one_line(result.stderr)


def test_cancel_where_the_backend_cannot_exits_3(env: Env, running: str) -> None:
    result = env.run("cancel", running)
    assert result.returncode == 3
    assert "no way to cancel" in one_line(result.stderr)


# -- backends, plugins ---------------------------------------------------------------------------


def test_backends_shows_each_backend_and_whether_credentials_are_set(env: Env) -> None:
    result = env.run("backends")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["sieve"][:3] == ["sieve", "sieve", env.emu.urls["sieve"]]
    assert rows["prunner"][3:] == ["jwt_secret", "set"]
    assert rows["pixxel"][3:] == ["api_key", "set"]


def test_backends_json(env: Env) -> None:
    result = env.run("backends", "--json")
    by_name = {row["name"]: row for row in json.loads(result.stdout)}
    assert by_name["prunner"] == {
        "name": "prunner",
        "type": "prunner",
        "url": env.emu.urls["prunner"],
        "credentials": {"jwt_secret": True},
    }


def test_backends_says_when_a_credential_is_missing(env: Env, tmp_path: Path) -> None:
    config = env.write_config(tmp_path / "nokey.toml", {"sieve": {"url": env.emu.urls["sieve"]}})
    result = env.run("backends", "--json", config=config)
    assert json.loads(result.stdout)[0]["credentials"] == {"api_key": False}


def test_plugins_lists_the_built_in_backends(env: Env) -> None:
    result = env.run("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {info["name"]: info for info in json.loads(result.stdout)}
    for name in ("sieve", "pixxel", "prunner"):
        assert plugins[name]["adapters"] == [name]
        assert plugins[name]["emulators"] == [name]
        assert plugins[name]["error"] is None


def test_plugins_table(env: Env) -> None:
    result = env.run("plugins")
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["prunner"][2:] == ["jobhub_prunner", "prunner", "prunner", "ok"]


# -- configuration, credentials, errors ----------------------------------------------------------


def test_a_bad_setting_is_one_line_naming_file_key_and_problem(env: Env, tmp_path: Path) -> None:
    config = env.write_config(
        tmp_path / "bad.toml", {"sieve": {**env.emu.hub_config()["sieve"], "timeout": -1}}
    )
    result = env.run("list", "sieve", config=config)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"jobhub: {config}: backends.sieve: timeout: Input should be greater than 0"
    )


def test_a_misspelled_setting_is_named(env: Env, tmp_path: Path) -> None:
    config = env.write_config(tmp_path / "typo.toml", {"sieve": {"api_kee": "x"}})
    result = env.run("backends", config=config)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"jobhub: {config}: backends.sieve: api_kee: unknown setting (check its spelling)"
    )


def test_a_file_that_is_not_toml_is_named_with_the_line(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[backends.sieve]\napi_key = "unterminated\n')
    result = env.run("backends", config=config)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(f"jobhub: {config}: not valid TOML:")
    assert "line 2" in result.stderr


@pytest.mark.parametrize("backend", ["sieve", "prunner"])
def test_wrong_credentials_exit_3(env: Env, tmp_path: Path, backend: str) -> None:
    entry = env.emu.hub_config()[backend]
    wrong = {
        key: "wrong-" + SECRET[::-1] if key in ("api_key", "jwt_secret") else value
        for key, value in entry.items()
    }
    config = env.write_config(tmp_path / "wrong.toml", {backend: wrong})
    result = env.run("list", backend, config=config)
    assert result.returncode == 3
    assert "401" in one_line(result.stderr)
    assert SECRET[::-1] not in result.stderr


def test_library_warnings_are_one_line_each(env: Env, tmp_path: Path) -> None:
    # PyJWT warns about a short HS256 key; it reaches the user as one `jobhub:` line.
    entry = {**env.emu.hub_config()["prunner"], "jwt_secret": "short"}
    config = env.write_config(tmp_path / "short.toml", {"prunner": entry})
    result = env.run("list", "prunner", config=config)
    assert result.returncode == 3
    assert all(line.startswith("jobhub: ") for line in result.stderr.splitlines())
    assert "401" in result.stderr.splitlines()[-1]


def test_an_unreachable_backend_exits_3(env: Env, tmp_path: Path) -> None:
    entry = {**env.emu.hub_config()["sieve"], "url": "http://127.0.0.1:9", "retries": 0}
    config = env.write_config(tmp_path / "down.toml", {"sieve": entry})
    result = env.run("list", "sieve", config=config)
    assert result.returncode == 3
    assert "cannot reach" in one_line(result.stderr)


def test_debug_adds_the_traceback_and_request_log_but_never_a_secret(
    env: Env, running: str
) -> None:
    result = env.run("--debug", "get", "sieve:00000000-0000-4000-8000-000000000000")
    assert result.returncode == 3
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("jobhub: sieve backend 'sieve': 404")
    assert "GET" in result.stderr  # requests are logged
    # `run` checks that SECRET appears nowhere; here with every backend's credentials in use.
    assert env.run("--debug", "get", running).returncode == 0
    assert env.run("--debug", "list", "prunner").returncode == 0


def test_no_traceback_without_debug(env: Env) -> None:
    result = env.run("get", "sieve:00000000-0000-4000-8000-000000000000")
    assert "Traceback" not in result.stderr


# -- emulator ------------------------------------------------------------------------------------


def test_emulator_serves_until_ctrl_c_and_prints_a_working_config(env: Env) -> None:
    with env.background("emulator", "--port", "0", "--seed", "1") as process:
        config = served_config(process, env.home / "served.toml")
        listed = env.run("list", "prunner", "--json", config=config)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert process.returncode == 0


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next line `process` prints, waiting at most `timeout` seconds: a command that
    prints nothing (or ignores the signal it is sent) fails the test instead of hanging it."""
    assert process.stdout is not None
    stdout, lines = process.stdout, list[str]()
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines:
        process.kill()  # ends the read: the pipe closes
        reader.join(5)
        pytest.fail(f"no line from {process.args!r} within {timeout:g} s")
    return lines[0]


def served_config(process: subprocess.Popen[str], path: Path) -> Path:
    """The jobhub.toml `jobhub emulator` prints, saved to `path`."""
    printed: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = read_line(process, timeout=max(0.1, deadline - time.monotonic()))
        if "Ctrl-C" in line or not line:
            break
        printed.append(line)
    path.write_text("".join(printed[printed.index("# jobhub.toml for this emulator\n") + 1 :]))
    path.chmod(0o600)
    return path


def test_emulator_serves_the_types_asked_writes_a_private_config_and_submits_jobs(
    env: Env, tmp_path: Path
) -> None:
    config = tmp_path / "emulated.toml"
    config.write_text("old", encoding="utf-8")
    config.chmod(0o644)  # an existing file others could read: it must not stay so
    args = ("--port", "0", "--types", "sieve,prunner", "--jobs", "2", "--write-config", str(config))
    with env.background("emulator", *args) as process:
        assert process.stdout is not None
        printed = []
        while "Ctrl-C" not in (line := process.stdout.readline()) and line:
            printed.append(line)
        submitted = [line.split()[0] for line in printed if line.startswith("  ") and "s, " in line]
        listed = env.run("list", "-o", "name", config=config)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert config.stat().st_mode & 0o777 == 0o600
    assert sorted(tomllib.loads(config.read_text())["backends"]) == ["prunner", "sieve"]
    assert len(submitted) == 4 and {ref.split(":")[0] for ref in submitted} == {"sieve", "prunner"}
    assert sorted(listed.stdout.split()) == sorted(submitted)


def test_emulator_of_an_unknown_type_is_a_usage_error(env: Env) -> None:
    result = env.run("emulator", "--port", "0", "--types", "sieve,nosuch")
    assert result.returncode == 2
    assert "no emulator for backend type 'nosuch'" in one_line(result.stderr)


def test_emulator_faults_reach_the_client(env: Env) -> None:
    with env.background("emulator", "--port", "0", "--faults", "1") as process:
        served = tomllib.loads(served_config(process, env.home / "faulty.toml").read_text())
        # No retries, and a timeout shorter than a "slow" fault's delay: every kind fails.
        sieve = {**served["backends"]["sieve"], "retries": 0, "timeout": 0.5}
        config = env.write_config(env.home / "faulty.toml", {"sieve": sieve})
        listed = env.run("list", "sieve", config=config)
    assert listed.returncode == 3, listed.stderr
    assert one_line(listed.stderr).startswith("jobhub: sieve backend 'sieve': ")


# -- installs without the emulator extra ---------------------------------------------------------


@pytest.fixture
def without_emulator_extra(tmp_path: Path) -> dict[str, str]:
    """An environment in which starlette and uvicorn cannot be imported, as after a plain
    `pip install jobhub`: a sitecustomize marks them missing (what find_spec and import see)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nsys.modules['starlette'] = None\nsys.modules['uvicorn'] = None\n"
    )
    return {"PYTHONPATH": str(tmp_path)}


def test_without_the_emulator_extra_the_library_and_queries_work(
    env: Env, succeeded: str, without_emulator_extra: dict[str, str]
) -> None:
    environ = {**env.environ(), **without_emulator_extra}
    probe = [sys.executable, "-c", "import starlette"]
    assert subprocess.run(probe, env=environ, capture_output=True, timeout=30).returncode == 1
    listed = subprocess.run(
        [JOBHUB, "--config", str(env.config), "get", succeeded, "-o", "name"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == [succeeded]
    plugins = subprocess.run(
        [JOBHUB, "plugins"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert plugins.returncode == 0 and "error" not in plugins.stdout
    assert "jobhub[emulator]" in plugins.stderr


@pytest.mark.parametrize("command", ["emulator", "demo"])
def test_a_command_needing_the_emulator_extra_says_what_to_install(
    env: Env, without_emulator_extra: dict[str, str], command: str
) -> None:
    result = subprocess.run(
        [JOBHUB, command],
        env={**env.environ(), **without_emulator_extra},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "pip install 'jobhub[emulator]'" in line and "internal error" not in line


def test_serve_without_its_extra_says_what_to_install(env: Env, tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['sse_starlette'] = None\n")
    environ = {**env.environ(), "PYTHONPATH": str(tmp_path)}
    for command in (["serve", "--port", "0"], ["demo", "--serve"]):
        result = subprocess.run(
            [JOBHUB, *command], env=environ, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2
        assert "pip install 'jobhub[serve]'" in one_line(result.stderr)
