"""prunner tokens against the emulator's JWT checks: signed afresh for every request, and
accepted by a server whose clock is up to half a minute ahead of or behind the client's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jobhub_prunner.auth as auth_module
import jwt
import pytest
from jobhub_prunner.emulator import PrunnerEmulator
from starlette.requests import Request
from starlette.responses import Response

from jobhub import Hub, JobState
from jobhub.emulator import Emulator
from jobhub.errors import AuthError

FAST = {"poll_interval": 0.02, "poll_max": 0.05, "retries": 0}


class RecordingPrunner(PrunnerEmulator):
    """prunner's emulator, noting each token it checks and its own clock at that moment."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[dict[str, Any], float]] = []

    def authenticate(self, request: Request) -> Response | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        self.seen.append((claims, self.wall_time()))
        return super().authenticate(request)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator([RecordingPrunner], seed=3, speed=0) as emulator:
        yield emulator


@pytest.fixture
def server(emu: Emulator) -> RecordingPrunner:
    backend = emu.backends["prunner"]
    assert isinstance(backend, RecordingPrunner)
    return backend


def hub(emu: Emulator) -> Hub:
    return Hub({"ci": {**emu.hub_config()["prunner"], **FAST}}, env={})


def get_with_server_clock(emu: Emulator, server: RecordingPrunner, offset: float) -> Any:
    job_id = emu.submit("prunner", duration=5)
    server.clock_offset = offset
    with hub(emu) as h:
        return h.get(f"ci:{job_id}")


@pytest.mark.parametrize("offset", [30.0, -30.0], ids=["ahead", "behind"])
def test_a_server_clock_half_a_minute_off_accepts_the_tokens(
    emu: Emulator, server: RecordingPrunner, offset: float
) -> None:
    job = get_with_server_clock(emu, server, offset)
    assert job.state is JobState.QUEUED


def test_a_server_clock_90_seconds_ahead_refuses_them_as_expired(
    emu: Emulator, server: RecordingPrunner
) -> None:
    with pytest.raises(AuthError) as caught:
        get_with_server_clock(emu, server, 90.0)
    assert caught.value.status_code == 401
    assert "token is expired" in str(caught.value)
    assert "clock" in str(caught.value)  # the message says what to check


def test_the_server_checks_a_token_signed_moments_before(
    emu: Emulator, server: RecordingPrunner
) -> None:
    get_with_server_clock(emu, server, 0.0)
    (claims, checked_at), *_ = server.seen[1:]  # [0] is the emulator's own submit
    assert 58 <= claims["exp"] - checked_at <= 61


def test_consecutive_requests_carry_freshly_signed_tokens(
    emu: Emulator, server: RecordingPrunner
) -> None:
    job_id = emu.submit("prunner", duration=5)
    del server.seen[:]
    with hub(emu) as h:
        for request in range(3):
            if request:
                time.sleep(1.05)  # tokens carry whole seconds: a new second, a new signature
            h.get(f"ci:{job_id}")
    expiries = [claims["exp"] for claims, _ in server.seen]
    assert len(expiries) == 3
    assert expiries == sorted(set(expiries))  # each later one signed later, none reused
    assert all(58 <= claims["exp"] - at <= 61 for claims, at in server.seen)


class SharedWallClock:
    """The wall clock of client and server alike, jumping 20 s each time the client signs."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        self.now += 20.0
        return self.now


def test_requests_over_several_token_lifetimes_are_all_accepted(
    emu: Emulator, server: RecordingPrunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = f"ci:{emu.submit('prunner', duration=5)}"
    wall = SharedWallClock()
    monkeypatch.setattr(auth_module, "time", wall)
    monkeypatch.setattr(server, "wall_time", lambda: wall.now)
    del server.seen[:]
    with hub(emu) as h:
        states = [h.get(ref).state for _ in range(8)]  # 160 s of wall time pass meanwhile
    assert states == [JobState.QUEUED] * 8
    first, last = server.seen[0][0]["exp"], server.seen[-1][0]["exp"]
    assert last - first >= 2 * auth_module.TOKEN_LIFETIME
