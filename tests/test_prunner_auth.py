"""prunner authentication: a fresh HS256 JWT per request from jwt_secret, or a ready token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jobhub_prunner.auth as auth_module
import jwt
import pytest
from jobhub_prunner.adapter import PrunnerAdapter, PrunnerSettings

from jobhub import Hub
from jobhub.errors import ConfigError
from tests.conftest import SECRET

JOB_ID = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8"
JOB = {"id": JOB_ID, "pipeline": "release", "created": "2025-08-15T12:00:00Z"}


class FakeClock:
    """Stands in for the `time` module inside `jobhub_prunner.auth`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(1_755_259_200.0)  # 2025-08-15T12:00:00Z
    monkeypatch.setattr(auth_module, "time", fake)
    return fake


class Server:
    """A MockTransport that answers like prunner and keeps the Authorization header of every
    request as it arrived (a retry re-sends the same request object)."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.headers: list[str | None] = []
        self.answer = answer or (lambda request: httpx.Response(200, json=JOB))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers.get("Authorization"))
        return self.answer(request)

    def bearer(self, index: int = -1) -> str:
        header = self.headers[index]
        assert header is not None and header.startswith("Bearer ")
        return header.removeprefix("Bearer ")


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def make_hub(server: Server) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(env: dict[str, str] | None = None, **settings: Any) -> Hub:
        entry = {"type": "prunner", "url": "http://build:9009", **settings}
        hub = Hub({"ci": entry}, transport=httpx.MockTransport(server), env=env or {})
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


def decode(token: str, secret: str = SECRET) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, secret, algorithms=["HS256"], options={"verify_exp": False}
    )
    return claims


def test_signed_token_verifies_with_the_secret_as_hs256(make_hub, server) -> None:
    make_hub(jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    token = server.bearer()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    decode(token)  # raises if the signature does not match SECRET


def test_token_subject_is_the_configured_user(make_hub, server) -> None:
    make_hub(jwt_secret=SECRET, user="deployer").get(f"ci:{JOB_ID}")
    assert decode(server.bearer())["sub"] == "deployer"


def test_token_subject_defaults_to_jobhub(make_hub, server) -> None:
    make_hub(jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    assert decode(server.bearer())["sub"] == "jobhub"


def test_token_expires_a_minute_after_it_is_signed(make_hub, server, clock) -> None:
    make_hub(jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    assert decode(server.bearer())["exp"] == int(clock.now) + 60


def test_token_expiry_follows_the_real_clock(make_hub, server) -> None:
    before = time.time()
    make_hub(jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    assert before + 58 <= decode(server.bearer())["exp"] <= time.time() + 61


def test_token_has_no_iat_claim(make_hub, server) -> None:
    make_hub(jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    assert set(decode(server.bearer())) == {"sub", "exp"}


def test_each_request_is_signed_when_it_is_sent(make_hub, server, clock) -> None:
    hub = make_hub(jwt_secret=SECRET)
    hub.get(f"ci:{JOB_ID}")
    clock.now += 45
    hub.get(f"ci:{JOB_ID}")
    first, second = decode(server.bearer(0)), decode(server.bearer(1))
    assert second["exp"] - first["exp"] == 45


def test_a_retried_request_is_signed_again(make_hub, clock) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if len(flaky.headers) == 1:
            clock.now += 30  # the first attempt fails while time passes
            return httpx.Response(503)
        return httpx.Response(200, json=JOB)

    flaky = Server(answer)
    hub = Hub(
        {"ci": {"type": "prunner", "url": "http://build:9009", "jwt_secret": SECRET}},
        transport=httpx.MockTransport(flaky),
        env={},
    )
    with hub:
        hub.get(f"ci:{JOB_ID}")
    assert decode(flaky.bearer(1))["exp"] == decode(flaky.bearer(0))["exp"] + 30


def test_ready_token_is_sent_as_it_is(make_hub, server) -> None:
    make_hub(token=SECRET).get(f"ci:{JOB_ID}")
    assert server.bearer() == SECRET


def test_ready_token_wins_over_jwt_secret(make_hub, server) -> None:
    make_hub(token="ready.made.token", jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    assert server.bearer() == "ready.made.token"


def test_jwt_secret_defaults_to_prunner_jwt_secret_variable(make_hub, server) -> None:
    make_hub(env={"PRUNNER_JWT_SECRET": SECRET}).get(f"ci:{JOB_ID}")
    decode(server.bearer())


def test_without_credentials_nothing_is_sent_and_config_error_names_settings(
    make_hub, server
) -> None:
    hub = make_hub()
    with pytest.raises(ConfigError) as caught:
        hub.get(f"ci:{JOB_ID}")
    message = str(caught.value)
    assert "jwt_secret" in message and "token" in message and "PRUNNER_JWT_SECRET" in message
    assert "'ci'" in message
    assert server.headers == []


def test_empty_jwt_secret_counts_as_unset(make_hub) -> None:
    with pytest.raises(ConfigError, match="neither jwt_secret nor token"):
        make_hub(jwt_secret="").get(f"ci:{JOB_ID}")


def test_auth_repr_shows_no_secret(make_hub) -> None:
    adapter = make_hub(jwt_secret=SECRET).adapter("ci")
    text = repr(adapter.auth())
    assert SECRET not in text
    assert "jwt_secret=**********" in text


def test_auth_repr_shows_no_token(make_hub) -> None:
    adapter = make_hub(token=SECRET).adapter("ci")
    assert SECRET not in repr(adapter.auth())


def test_adapter_and_settings_reprs_show_no_secret(make_hub) -> None:
    adapter = make_hub(jwt_secret=SECRET, token=SECRET).adapter("ci")
    for text in (repr(adapter), repr(adapter.settings), str(adapter.settings)):
        assert SECRET not in text


def test_settings_default_to_the_local_server_and_user_jobhub() -> None:
    settings = PrunnerAdapter.settings_from("ci", {}, env={})
    assert isinstance(settings, PrunnerSettings)
    assert (settings.url, settings.user) == ("http://localhost:9009", "jobhub")


def test_empty_user_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"ci: user"):
        Hub({"ci": {"type": "prunner", "jwt_secret": SECRET, "user": ""}}, env={})


# -- secret length ------------------------------------------------------------------------------

SHORT_SECRET = "sixteen-chars-ok-20"  # prunner accepts 16+, HS256 wants 32


def test_short_secret_signs_without_a_warning_per_request(make_hub, server, caplog) -> None:
    import warnings

    hub = make_hub(jwt_secret=SHORT_SECRET)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyJWT's InsecureKeyLengthWarning would raise here
        for _ in range(3):
            hub.get(f"ci:{JOB_ID}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT's own decode warns about the length
        decode(server.bearer(), SHORT_SECRET)


def test_short_secret_is_warned_about_once_when_configured(make_hub, caplog) -> None:
    hub = make_hub(jwt_secret=SHORT_SECRET)
    for _ in range(3):
        hub.get(f"ci:{JOB_ID}")
    warned = [r for r in caplog.records if r.levelname == "WARNING" and "jwt_secret" in r.message]
    assert len(warned) == 1
    assert "19 bytes" in warned[0].message and "32" in warned[0].message
    assert SHORT_SECRET not in warned[0].message


def test_secret_prunner_would_refuse_is_named_in_the_warning(make_hub, caplog) -> None:
    make_hub(jwt_secret="too-short").get(f"ci:{JOB_ID}")
    (warned,) = [r for r in caplog.records if "jwt_secret" in r.message]
    assert "at least 16" in warned.message and "too-short" not in warned.message


def test_long_secret_gives_no_warning(make_hub, caplog) -> None:
    make_hub(jwt_secret=SECRET).get(f"ci:{JOB_ID}")
    assert not [r for r in caplog.records if "jwt_secret" in r.message]
