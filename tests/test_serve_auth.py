"""Who may read and who may cancel on `jobhub serve`: Bearer tokens, read vs write, what stays
open (the page, the probes), tokens never shown, security headers on every answer."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobhub.emulator import Emulator, config_toml
from jobhub.errors import ConfigError
from jobhub.serve import Options, Tokens
from jobhub.serve.auth import check_exposure
from tests.conftest import SECRET
from tests.serve_helpers import Live, live_server, serve_command

pytestmark = pytest.mark.timeout(120)

READ = SECRET  # the sentinel: it must show up in no answer
WRITE = "write-" + SECRET


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["prunner"], seed=5, speed=0, await_hold=0.2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def live(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("auth") / "serve.db"
    with live_server(emu.hub_config(), db, Options(tokens=Tokens(READ, WRITE))) as server:
        yield server


READS = ["/api/v1/jobs", "/api/v1/backends", "/metrics", "/api/v1/jobs/prunner:x/events"]


@pytest.mark.parametrize("path", READS)
def test_reading_needs_a_token(live: Live, path: str) -> None:
    for token in (None, "not-the-token-at-all-0000"):
        with live.client(token) as client:
            answer = client.get(path)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in answer.json()["error"]["message"]


@pytest.mark.parametrize("token", [READ, WRITE])
def test_the_read_and_the_write_token_both_read(live: Live, token: str) -> None:
    with live.client(token) as client:
        assert client.get("/api/v1/jobs").status_code == 200
        with client.stream("GET", "/api/v1/events") as stream:
            assert stream.status_code == 200


def test_the_stream_needs_a_token(live: Live) -> None:
    with live.client() as client:
        assert client.get("/api/v1/events").status_code == 401


def test_only_the_write_token_cancels(emu: Emulator, live: Live) -> None:
    ref = f"prunner:{emu.submit('prunner', duration=600)}"
    with live.client(READ) as reader:
        refused = reader.post(f"/api/v1/jobs/{ref}/cancel")
    assert refused.status_code == 403
    assert "write token" in refused.json()["error"]["message"]
    with live.client(WRITE) as writer:
        assert writer.post(f"/api/v1/jobs/{ref}/cancel").status_code == 202
    assert emu.final_state("prunner", ref.split(":", 1)[1]) == "cancelled"


def test_the_page_and_the_probes_are_open_and_every_answer_has_security_headers(
    live: Live,
) -> None:
    with live.client() as client:
        for path in ("/", "/healthz", "/readyz", "/api/v1/openapi.json"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert "script-src 'self'" in answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert SECRET not in answer.text


def test_no_answer_holds_a_token(live: Live) -> None:
    with live.client(WRITE) as client:
        for path in ("/api/v1/jobs", "/api/v1/backends", "/metrics", "/", "/api/v1/openapi.json"):
            assert SECRET not in client.get(path).text, path


def test_tokens_stay_out_of_reprs() -> None:
    assert SECRET not in repr(Tokens(READ, WRITE))
    assert SECRET not in repr(Options(tokens=Tokens(READ, WRITE)))


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "192.168.1.10", "::", "example.org", "127.attacker.example"]
)
def test_listening_beyond_loopback_needs_a_token_or_no_auth(host: str) -> None:
    with pytest.raises(ConfigError, match="--token"):
        check_exposure(host, Tokens(), no_auth=False)
    check_exposure(host, Tokens(READ), no_auth=False)
    check_exposure(host, Tokens(), no_auth=True)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"]
)
def test_loopback_needs_no_token(host: str) -> None:
    check_exposure(host, Tokens(), no_auth=False)


@pytest.mark.parametrize("token", ["short", " padded-token-0123456789 "])
def test_a_weak_or_padded_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters") as caught:
        Tokens(read=token)
    assert token.strip() not in str(caught.value)


def test_the_command_takes_its_token_from_the_environment(emu: Emulator, tmp_path: Path) -> None:
    config = tmp_path / "jobhub.toml"
    config.write_text(config_toml(emu.hub_config()))
    config.chmod(0o600)
    process = serve_command(
        "--config",
        str(config),
        "--db",
        f"sqlite:///{tmp_path / 's.db'}",
        "--port",
        "0",
        env={"JOBHUB_SERVE_TOKEN": READ},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" on ", 1)[1].strip()
        assert httpx.get(f"{url}/api/v1/jobs", timeout=30).status_code == 401
        authorized = {"Authorization": f"Bearer {READ}"}
        assert httpx.get(f"{url}/api/v1/jobs", headers=authorized, timeout=30).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert SECRET not in out + err
