"""Waiting on a prunner server whose `/pipelines/jobs` answer passes `max_response_bytes`: the
wait goes on with one `/job/detail` per open job, says so once, and takes the one-request
refresh up again once the answer fits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from jobhub import AsyncHub, Hub
from jobhub.emulator import Emulator
from jobhub.errors import ConfigError
from jobhub.waiting import refresh

CAP = 4000  # bytes: one job's detail (about 1.3 KB) fits, the six jobs' listing (6.4 KB) does not
SPEED = 10.0  # emulated seconds per real one
BALLAST = 4  # jobs that end at once and fill the listing
FOLLOWED_FOR = 10.0  # emulated seconds the followed jobs run


class CountingEmulator(Emulator):
    """Counts what it is asked, by path and answer status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: Counter[str] = Counter()

    def asgi_app(self) -> Any:
        app = super().asgi_app()

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            async def sent(message: Any) -> None:
                if message["type"] == "http.response.start":
                    path = scope["path"].removeprefix("/prunner")
                    self.asked[f"{path} {message['status']}"] += 1
                await send(message)

            await app(scope, receive, sent if scope["type"] == "http" else send)

        return counted


@pytest.fixture
def emu() -> Iterator[CountingEmulator]:
    with CountingEmulator(["prunner"], seed=2, speed=SPEED) as emulator:
        yield emulator


def config(emu: Emulator) -> dict[str, Any]:
    entry = emu.hub_config()["prunner"]
    entry |= {"max_response_bytes": CAP, "poll_interval": 0.05, "poll_max": 0.2}
    return {"prunner": entry}


def submit(emu: Emulator) -> tuple[list[str], list[str]]:
    """Ballast that ends at once, and two jobs to wait for that run on."""
    ballast = [emu.submit("prunner", duration=0.1) for _ in range(BALLAST)]
    followed = [emu.submit("prunner", duration=FOLLOWED_FOR) for _ in range(2)]
    return ballast, followed


def until_ended(prunner: Any, job_id: str) -> None:
    """Until the emulated job has ended (its planned end is at most a few emulated s away)."""
    for _ in range(500):
        if prunner.find(job_id).ends <= prunner.now():
            return
        time.sleep(0.01)
    raise AssertionError(f"{job_id} did not end")


def cap_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "max_response_bytes" in r.getMessage()
    ]


@pytest.mark.timeout(30)
def test_a_wait_past_the_size_cap_ends_with_each_jobs_state_fetching_each_job(
    emu: CountingEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    _, followed = submit(emu)
    with Hub(config(emu), env={}) as hub, caplog.at_level(logging.WARNING, "jobhub"):
        jobs = hub.wait_all([f"prunner:{job_id}" for job_id in followed], timeout=20)
    assert [job.state.value for job in jobs] == [emu.final_state("prunner", i) for i in followed]
    # One listing, refused at its Content-Length (so never counted as answered by the
    # client, though the server sent its 200); then the jobs one by one.
    assert emu.asked["/pipelines/jobs 200"] == 1
    assert emu.asked["/job/detail 200"] >= len(followed) * 2  # a first look, then the end
    (warning,) = cap_warnings(caplog)
    assert "'prunner'" in warning and f"({CAP} bytes)" in warning
    assert "each of the 2 open jobs on its own" in warning
    assert f"every {refresh.REFRESH_RETRY_AFTER:g} s" in warning
    assert "retention_count" in warning


@pytest.mark.anyio
@pytest.mark.timeout(30)
async def test_the_refresh_is_taken_up_again_once_the_answer_fits(
    emu: CountingEmulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refresh, "REFRESH_RETRY_AFTER", 0.3)
    ballast, followed = submit(emu)
    prunner = emu.backends["prunner"]
    refs = [f"prunner:{job_id}" for job_id in followed]
    with caplog.at_level(logging.WARNING, "jobhub"):
        async with AsyncHub(config(emu), env={}) as hub:
            waiting = asyncio.ensure_future(hub.wait_all(refs, timeout=20))
            while not cap_warnings(caplog):
                await asyncio.sleep(0.02)
            for job_id in ballast:  # the server's retention removes the ended jobs
                await asyncio.to_thread(until_ended, prunner, job_id)
                prunner.forget(job_id)
            while not any("fits again" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.02)
            refreshed = emu.asked["/job/detail 200"]
            jobs = await waiting
    assert [job.state.value for job in jobs] == [emu.final_state("prunner", i) for i in followed]
    assert len(cap_warnings(caplog)) == 1
    # Tried again while it did not fit, then read every cycle until the jobs ended; once it
    # fits, the jobs are no longer fetched one by one (but for a late answer in flight).
    assert emu.asked["/pipelines/jobs 200"] >= 3
    assert emu.asked["/job/detail 200"] <= refreshed + len(followed)


def test_the_emulator_forgets_only_an_ended_job(emu: CountingEmulator) -> None:
    ballast, followed = submit(emu)
    prunner = emu.backends["prunner"]
    with pytest.raises(ConfigError, match="has not ended"):
        prunner.forget(followed[0])
    until_ended(prunner, ballast[0])
    prunner.forget(ballast[0])
    with Hub(emu.hub_config(), env={}) as hub:
        listed = {job.id for job in hub.list("prunner")}
    assert ballast[0] not in listed and followed[0] in listed


@pytest.mark.timeout(60)
def test_a_wait_past_the_size_cap_on_the_real_prunner(
    real_prunner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.test_prunner_real_server import schedule

    pipelines = ["allow_fail", "fail_single", "allow_fail", "fail_single"]
    job_ids = [schedule(real_prunner, pipeline) for pipeline in pipelines]
    with real_prunner.client() as client:
        detail = len(client.get("/job/detail", params={"id": job_ids[0]}).content)
        listing = len(client.get("/pipelines/jobs").content)
    cap = 3 * detail  # room for a job's detail to grow as it runs; not for four jobs
    assert listing > cap
    settings = real_prunner.hub_settings(max_response_bytes=cap, poll_interval=0.1, poll_max=0.5)
    with Hub({"ci": settings}, env={}) as hub, caplog.at_level(logging.WARNING, "jobhub"):
        jobs = hub.wait_all([f"ci:{job_id}" for job_id in job_ids], timeout=40)
    assert [job.state.value for job in jobs] == ["succeeded", "failed", "succeeded", "failed"]
    assert len(cap_warnings(caplog)) == 1
