"""Secrets never leak: one sentinel value is every credential (API keys, the prunner JWT secret,
tokens), and it must show up in no error message, traceback, repr, log record (DEBUG, jobhub's
and httpx's own), command output (with `--debug`) or cassette. Signed URLs stay whole in a job's
data and lose their query strings in messages and log lines.

The emulator's `serve()` prints its own credentials on purpose: they are generated from its
seed, open nothing but that local emulator, and are what a user pastes into a config to try it.
They are not a user's secret; what is checked is that nothing of the user's reaches its output.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from pydantic import SecretStr

from jobhub import AsyncHub, Hub
from jobhub.backend import HeaderAuth, excerpt
from jobhub.emulator import Emulator, Faults, config_toml, serve
from jobhub.errors import (
    AuthError,
    BackendError,
    BackendUnavailable,
    ConfigError,
    InvalidPayload,
    JobHubError,
    JobNotFound,
)
from jobhub.plugins import get_registry
from tests.cli_helpers import run_command
from tests.conftest import CASSETTES, SECRET

# Many seconds in all: the module starts first, so a parallel run does not end waiting on it.
pytestmark = pytest.mark.slow

TYPES = ("sieve", "pixxel", "prunner")
CREDENTIAL = {"sieve": "api_key", "pixxel": "api_key", "prunner": "jwt_secret", "wes": "token"}
UNKNOWN = {
    "sieve": "00000000-0000-4000-8000-000000000000",
    "pixxel": "00000000-wf/00000000-job",
    "prunner": "00000000-0000-4000-8000-000000000000",
    "wes": "no-such-run",
}
FAST = {"retries": 0, "timeout": 5.0, "poll_interval": 0.05, "poll_max": 0.2}
SIGNED = (
    "https://bucket.storage.googleapis.com/out/video.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256"
    "&X-Goog-Credential=svc%40project.iam.gserviceaccount.com&X-Goog-Signature=5ec7e75ec7e7"
)


@pytest.fixture(scope="module")
def trusting() -> Iterator[Emulator]:
    """Emulated backends whose credentials are the sentinel: requests get through."""
    emulators = get_registry().emulators
    credentials = {t: dict.fromkeys(cls.credential_names, SECRET) for t, cls in emulators.items()}
    with Emulator(TYPES, seed=2, speed=20, credentials=credentials) as emu:
        yield emu


@pytest.fixture(scope="module")
def refusing() -> Iterator[Emulator]:
    """Emulated backends with credentials of their own: the sentinel is refused."""
    with Emulator(TYPES, seed=2, speed=20) as emu:
        yield emu


def entry(emu: Emulator, backend: str, **settings: Any) -> dict[str, Any]:
    """The emulator's entry for `backend`, with the sentinel as its credential."""
    return {**emu.hub_config()[backend], CREDENTIAL[backend]: SECRET, **FAST, **settings}


def assert_clean(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text), f"the secret shows in: {str(text)[:300]}"


def assert_error_clean(exc: BaseException) -> None:
    """Message, repr, the whole traceback (causes included) and the kept body."""
    assert_clean(exc, repr(exc), "".join(traceback.format_exception(exc)))
    if isinstance(exc, JobHubError):
        assert_clean(exc.raw)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """DEBUG from jobhub, httpx and httpcore, all captured; none may hold the secret."""
    with caplog.at_level(logging.DEBUG):
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        yield caplog
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    records = caplog.get_records("call")
    assert records, "nothing was logged: the check would prove nothing"
    for record in records:
        assert_clean(record.getMessage(), record.exc_text or "")


# -- the library's error paths --------------------------------------------------------------------


@pytest.mark.parametrize("backend", TYPES)
def test_refused_credentials_never_show_the_secret(
    refusing: Emulator, every_log: Any, backend: str
) -> None:
    with Hub({backend: entry(refusing, backend)}) as hub, pytest.raises(AuthError) as caught:
        hub.get(f"{backend}:{UNKNOWN[backend]}")
    assert_error_clean(caught.value)


def test_a_refused_ready_token_never_shows() -> None:
    with Emulator(["prunner"], seed=2) as emu:
        config = {"ci": {**emu.hub_config()["prunner"], "jwt_secret": None, "token": SECRET}}
        with Hub(config) as hub, pytest.raises(AuthError) as caught:
            hub.get(f"ci:{UNKNOWN['prunner']}")
    assert_error_clean(caught.value)


@pytest.mark.parametrize("backend", TYPES)
def test_an_unknown_job_never_shows_the_secret(
    trusting: Emulator, every_log: Any, backend: str
) -> None:
    with Hub({backend: entry(trusting, backend)}) as hub, pytest.raises(JobNotFound) as caught:
        hub.get(f"{backend}:{UNKNOWN[backend]}")
    assert_error_clean(caught.value)


@pytest.mark.parametrize("backend", [*TYPES, "wes"])
def test_an_unreachable_backend_never_shows_the_secret(every_log: Any, backend: str) -> None:
    config = {backend: {"type": backend, "url": "http://127.0.0.1:9", CREDENTIAL[backend]: SECRET}}
    with Hub(config) as hub, pytest.raises(BackendUnavailable) as caught:
        hub.get(f"{backend}:{UNKNOWN[backend]}")
    assert_error_clean(caught.value)


@pytest.mark.parametrize("backend", TYPES)
def test_an_unreadable_answer_never_shows_the_secret(
    trusting: Emulator, every_log: Any, backend: str
) -> None:
    trusting.faults[backend] = Faults(rate=1.0, kinds=("cut",))
    try:
        with Hub({backend: entry(trusting, backend)}) as hub, pytest.raises(InvalidPayload) as c:
            list(hub.list(backend, limit=1))
    finally:
        del trusting.faults[backend]
    assert_error_clean(c.value)


@pytest.mark.parametrize("backend", [*TYPES, "wes"])
@pytest.mark.parametrize("bad", ["\n", "\r\nX-Evil: 1", " ", "\x00"], ids=repr)
def test_a_header_credential_with_a_stray_newline_is_refused_without_quoting_it(
    backend: str, bad: str
) -> None:
    key = "token" if backend == "prunner" else CREDENTIAL[backend]  # a JWT secret is no header
    config = {backend: {"type": backend, "url": "https://x.test", key: SECRET + bad}}
    with pytest.raises(ConfigError, match=f"{key}: .*stray newline") as caught:
        Hub(config, env={})
    assert_error_clean(caught.value)


@pytest.mark.parametrize("backend", TYPES)
def test_a_header_value_refused_when_sending_is_not_quoted_either(
    trusting: Emulator, backend: str
) -> None:
    """What a plugin's own header might hold, past the settings' check."""
    with Hub({backend: entry(trusting, backend, retries=3)}) as hub:
        adapter = hub.backends[backend]
        bad = SecretStr(SECRET + "\n")
        adapter.auth = lambda: HeaderAuth(adapter, "X-Key", bad, setting="key")  # type: ignore[method-assign]
        with pytest.raises(ConfigError, match="stray whitespace") as caught:
            hub.get(f"{backend}:{UNKNOWN[backend]}")
    assert_error_clean(caught.value)


def test_a_wait_through_faults_logs_no_secret_at_debug(trusting: Emulator, every_log: Any) -> None:
    refs = [f"{t}:{trusting.submit(t, duration=2, outcome='succeeded')}" for t in TYPES]
    for backend in TYPES:
        trusting.faults[backend] = Faults(rate=0.4, seed=7, delay=0.1)
    config = {t: entry(trusting, t, retries=2) for t in TYPES}
    try:
        with Hub(config) as hub:
            jobs = hub.wait_all(refs, timeout=30)
    finally:
        trusting.faults.clear()
    assert [job.state.value for job in jobs] == ["succeeded"] * 3
    assert any("trying again" in r.getMessage() for r in every_log.records)  # faults were met


# -- reprs ----------------------------------------------------------------------------------------


def everything_with_a_secret() -> list[object]:
    config = {
        "sieve": {"api_key": SECRET},
        "pixxel": {"api_key": SECRET},
        "ci": {"type": "prunner", "jwt_secret": SECRET, "token": SECRET},
        "wes": {"type": "wes", "url": "https://wes.example/ga4gh/wes/v1", "token": SECRET},
    }
    hub, ahub = Hub(config, env={}), AsyncHub(config, env={})
    objects: list[object] = [hub, ahub]
    for adapter in hub.backends.values():
        settings = adapter.settings
        objects += [adapter, adapter.auth(), settings, settings.model_dump()]
        objects += [settings.model_dump_json(), settings.model_dump(mode="json")]
    return objects


@pytest.mark.parametrize("show", [repr, str], ids=["repr", "str"])
def test_hubs_adapters_settings_and_auth_show_no_secret(show: Any) -> None:
    objects = everything_with_a_secret()
    assert len(objects) == 26
    for thing in objects:
        assert_clean(show(thing))


def test_an_emulator_serving_the_secret_shows_it_in_no_repr(trusting: Emulator) -> None:
    assert_clean(repr(trusting), *(repr(backend) for backend in trusting.backends.values()))


# -- the command, with --debug --------------------------------------------------------------------


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JOBHUB_", "SIEVE_", "PIXXEL_", "PRUNNER_", "WES_"))
    }
    result = run_command(args, env={**environ, "HOME": str(home), **env}, cwd=home)
    assert "Traceback" in result.stderr or result.returncode == 0  # --debug showed its all
    assert_clean(result.stdout, result.stderr)
    return result


def config_file(home: Path, backends: dict[str, dict[str, Any]]) -> str:
    path = home / "jobhub.toml"
    path.write_text(config_toml(backends), encoding="utf-8")
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize(
    ("case", "code"),
    [("refused", 3), ("unknown", 3), ("unreachable", 3), ("unreadable", 3), ("newline", 2)],
)
def test_the_command_with_debug_never_prints_the_secret(
    trusting: Emulator, refusing: Emulator, tmp_path: Path, case: str, code: int
) -> None:
    emu = refusing if case == "refused" else trusting
    backends = {t: entry(emu, t) for t in TYPES}
    if case == "unreachable":
        backends = {t: {**e, "url": "http://127.0.0.1:9"} for t, e in backends.items()}
    if case == "unreadable":
        backends = {"sieve": {**backends["sieve"], "url": f"{trusting.url}/pixxel"}}
    if case == "newline":
        backends = {"sieve": {**backends["sieve"], "api_key": SECRET + "\n"}}
    config = config_file(tmp_path, backends)
    for backend in backends:
        result = run(
            ["--debug", "--config", config, "get", f"{backend}:{UNKNOWN[backend]}"], tmp_path
        )
        assert result.returncode == code, result.stderr[-500:]


def test_the_command_never_prints_a_secret_taken_from_the_environment(
    refusing: Emulator, tmp_path: Path
) -> None:
    url = refusing.urls["sieve"]
    config = config_file(tmp_path, {"sieve": {"url": url, "retries": 0}})
    result = run(["--debug", "--config", config, "list", "sieve"], tmp_path, SIEVE_API_KEY=SECRET)
    assert result.returncode == 3 and "401" in result.stderr
    listed = run(
        ["--debug", "--config", config, "backends", "--json"], tmp_path, SIEVE_API_KEY=SECRET
    )
    assert listed.returncode == 0


def test_serve_prints_only_the_emulators_own_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("SIEVE_API_KEY", "PIXXEL_API_KEY", "PRUNNER_JWT_SECRET"):
        monkeypatch.setenv(variable, SECRET)
    out, stop = io.StringIO(), threading.Event()
    server = threading.Thread(
        target=serve, kwargs={"port": 0, "seed": 4, "types": TYPES, "out": out, "stop": stop}
    )
    server.start()
    deadline = time.monotonic() + 20
    while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    server.join(timeout=20)
    printed = out.getvalue()
    assert "Ctrl-C" in printed
    assert_clean(printed)
    own = re.findall(r'(?:api_key|jwt_secret) = "(emu-[\w-]+)"', printed)
    assert len(own) == 3  # the emulator's own, generated from its seed, printed on purpose


# -- cassettes ------------------------------------------------------------------------------------

CASSETTE_FILES = sorted(path for path in CASSETTES.rglob("*") if path.is_file())
CREDENTIAL_HEADERS = {"authorization", "x-api-key", "proxy-authorization", "cookie", "set-cookie"}
LOOKS_SECRET = {
    "a JWT": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]+"),
    "a bearer token": re.compile(r"(?i)bearer\s+[\w.~+/-]{8,}"),
    "an AWS key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an API key prefix": re.compile(r"\b(?:sk|pk|rk)[-_](?:live|test)?[-_]?[A-Za-z0-9]{16,}"),
}
SIGNED_URL = re.compile(r"https?://[^\s\"']+?[?&](?:X-Goog-Signature|X-Amz-Signature)=[^\s\"']+")


def test_there_are_cassettes_to_check() -> None:
    assert len([p for p in CASSETTE_FILES if p.suffix == ".yaml"]) >= 40


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_a_cassette_holds_no_secret_and_no_credential_header(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    for what, pattern in LOOKS_SECRET.items():
        assert not pattern.search(text), f"{path.name} holds what looks like {what}"
    if path.suffix != ".yaml":
        return
    for interaction in yaml.safe_load(text).get("interactions", []):
        for side in ("request", "response"):
            headers = interaction[side].get("headers") or {}
            sent = CREDENTIAL_HEADERS & {name.lower() for name in headers}
            assert not sent, f"{path.name}: the {side} carries {sorted(sent)}"


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_every_signed_url_in_a_cassette_has_expired(path: Path) -> None:
    """Sieve's documented outputs carry a signed URL; the cassettes keep the vendor's own
    example, which stopped working long ago."""
    for url in SIGNED_URL.findall(path.read_text(encoding="utf-8")):
        query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        signed = datetime.strptime(query["x-goog-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert signed + timedelta(seconds=int(query["x-goog-expires"])) < datetime.now(UTC)


# -- signed URLs: whole in the data, cut in messages and log lines -------------------------------


def test_an_excerpt_cuts_every_urls_query_string() -> None:
    text = excerpt({"url": SIGNED, "other": "http://x.test/a?b=c d"}, 400)
    assert "X-Goog-Signature" not in text and "b=c" not in text
    assert "https://bucket.storage.googleapis.com/out/video.mp4?…" in text


def sieve_job(**fields: Any) -> dict[str, Any]:
    return {"id": "j", "status": "finished", **fields}


def test_a_signed_output_url_stays_whole_in_the_job() -> None:
    sieve = Hub({"sieve": {"api_key": SECRET}}, env={}).backends["sieve"]
    job = sieve.normalize(sieve_job(outputs=[{"type": "sieve.File", "data": {"url": SIGNED}}]))
    assert SIGNED in job.model_dump_json()


def test_an_unreadable_payload_with_a_signed_url_is_cut_in_the_message_not_in_raw() -> None:
    sieve = Hub({"sieve": {"api_key": SECRET}}, env={}).backends["sieve"]
    payload = {"url": SIGNED, "id": 5}
    with pytest.raises(InvalidPayload) as caught:
        sieve.normalize(payload)
    assert "X-Goog-Signature" not in str(caught.value)
    assert "X-Goog-Signature" not in (caught.value.excerpt or "")
    assert caught.value.raw["url"] == SIGNED


class SignedAnswers:
    """A MockTransport whose answers carry a signed URL: 500s, then a redirect."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.mark.parametrize("backend", ["sieve", "pixxel", "prunner", "wes"])
def test_an_error_answer_quoting_a_signed_url_is_cut_in_the_message(backend: str) -> None:
    body = {"detail": f"see {SIGNED}", "error": f"see {SIGNED}", "msg": f"see {SIGNED}"}
    transport = httpx.MockTransport(SignedAnswers(httpx.Response(403, json=body)))
    config = {backend: {"type": backend, "url": "https://x.test", CREDENTIAL[backend]: SECRET}}
    with Hub(config, env={}, transport=transport) as hub, pytest.raises(BackendError) as caught:
        hub.get(f"{backend}:{UNKNOWN[backend]}")
    assert "storage.googleapis.com/out/video.mp4?…" in str(caught.value)
    assert "X-Goog-Signature" not in str(caught.value)


def test_a_redirect_to_a_signed_url_is_cut_in_the_message() -> None:
    moved = httpx.Response(302, headers={"Location": SIGNED})
    transport = httpx.MockTransport(SignedAnswers(moved))
    hub = Hub({"sieve": {"api_key": SECRET}}, env={}, transport=transport)
    with hub, pytest.raises(BackendError, match="does not follow redirects") as caught:
        hub.get("sieve:j")
    assert "X-Goog-Signature" not in str(caught.value)


def test_waiting_logs_a_signed_url_without_its_query(caplog: pytest.LogCaptureFixture) -> None:
    broken = httpx.Response(200, json={"id": 7, "outputs": [{"data": {"url": SIGNED}}]})
    done = httpx.Response(200, json=sieve_job(outputs=[{"data": {"url": SIGNED}}]))
    transport = httpx.MockTransport(SignedAnswers(broken, done))
    config = {"sieve": {"api_key": SECRET, "poll_interval": 0.01, "poll_max": 0.02}}
    with Hub(config, env={}, transport=transport) as hub:
        job = hub.wait("sieve:j", timeout=10)
    assert SIGNED in job.model_dump_json()
    logged = [r.getMessage() for r in caplog.records]
    assert any("googleapis.com/out/video.mp4?…" in line for line in logged)
    assert not any("X-Goog-Signature" in line for line in logged)


def test_the_request_log_line_leaves_out_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": []}))
    with Hub({"sieve": {"api_key": SECRET}}, env={}, transport=transport) as hub:
        list(hub.list("sieve", workflow="sieve/whisper", limit=3))
    lines = [r.getMessage() for r in caplog.records if r.name == "jobhub.http"]
    assert lines and all("?" not in line for line in lines)
