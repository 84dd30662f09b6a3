"""Injected faults: off by default; with a rate set, the chosen kinds happen at about that share,
each the way it happens on a real network, with the backend's own error bodies."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from jobhub.emulator import FAULT_KINDS, Emulator, Faults
from tests.specs import load_spec, schema


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(["sieve", "pixxel", "prunner"], speed=0) as emulator:
        yield emulator


@pytest.fixture
def sieve(emu: Emulator) -> Iterator[httpx.Client]:
    """A Sieve client; whatever faults a test sets are cleared after it."""
    key = emu.backends["sieve"].credentials["api_key"]
    with httpx.Client(base_url=emu.urls["sieve"], headers={"X-API-Key": key}, timeout=5) as client:
        yield client
    emu.faults.clear()


def outcome(client: httpx.Client) -> str:
    """What a client sees: the status code, or the kind of failure."""
    try:
        response = client.get("/v2/jobs")
        json.loads(response.content)
    except httpx.RemoteProtocolError:
        return "broken"
    except ValueError:
        return "bad-json"
    return str(response.status_code)


def test_faults_are_off_by_default(sieve: httpx.Client) -> None:
    assert {outcome(sieve) for _ in range(100)} == {"200"}


def test_fault_draws_happen_at_about_the_rate() -> None:
    faults = Faults(rate=0.3, seed=1)
    drawn = [faults.draw() for _ in range(5000)]
    share = sum(kind is not None for kind in drawn) / len(drawn)
    assert 0.27 < share < 0.33
    assert {kind for kind in drawn if kind} == set(FAULT_KINDS)


def test_same_fault_seed_gives_the_same_sequence() -> None:
    first, second = Faults(rate=0.5, seed=9), Faults(rate=0.5, seed=9)
    assert [first.draw() for _ in range(50)] == [second.draw() for _ in range(50)]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"rate": 1.5}, "share"),
        ({"kinds": ("teapot",)}, "unknown fault kind"),
        ({"kinds": ()}, "unknown fault kind"),
        ({"delay": -1}, "must be >= 0"),
    ],
)
def test_faults_refuse_settings_they_cannot_use(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Faults(**options)


def test_server_errors_happen_at_about_the_rate_with_sieves_error_body(
    emu: Emulator, sieve: httpx.Client
) -> None:
    emu.faults["sieve"] = Faults(rate=0.4, kinds=("500", "502", "503"), seed=2)
    answers = [sieve.get("/v2/jobs") for _ in range(300)]
    counts = Counter(response.status_code for response in answers)
    assert 0.32 < (counts[500] + counts[502] + counts[503]) / 300 < 0.48
    assert min(counts[500], counts[502], counts[503]) > 0
    failed = next(response for response in answers if response.status_code == 503)
    assert set(failed.json()) == {"detail"}


def test_rate_limit_answers_429_with_retry_after(emu: Emulator, sieve: httpx.Client) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("429",), retry_after=7)
    response = sieve.get("/v2/jobs")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")


def test_dropped_connection_gets_no_answer_and_does_nothing(
    emu: Emulator, sieve: httpx.Client
) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("drop",))
    before = len(emu.backends["sieve"].runs)
    # Closed without an answer: a clean close reads as a disconnect, a close with unread
    # request bytes as a reset (TCP sends RST); which one depends on timing.
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as caught:
        sieve.post("/v2/push", json={"function": "sieve/whisper", "inputs": {}})
    if isinstance(caught.value, httpx.RemoteProtocolError):
        assert "without sending a response" in str(caught.value)
    assert len(emu.backends["sieve"].runs) == before


def test_truncated_body_stops_short_of_its_content_length(
    emu: Emulator, sieve: httpx.Client
) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("truncate",))
    with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|peer closed"):
        sieve.get("/v2/jobs")


def test_cut_body_is_well_formed_http_with_half_the_json(
    emu: Emulator, sieve: httpx.Client
) -> None:
    emu.submit("sieve", duration=5)
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("cut",))
    response = sieve.get("/v2/jobs")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_slow_answer_comes_after_the_delay(emu: Emulator, sieve: httpx.Client) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("slow",), delay=0.3)
    started = time.monotonic()
    assert sieve.get("/v2/jobs").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_slow_answer_times_out_a_client_in_a_hurry(emu: Emulator, sieve: httpx.Client) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("slow",), delay=0.4)
    with pytest.raises(httpx.ReadTimeout):
        sieve.get("/v2/jobs", timeout=0.1)


def test_every_kind_shows_up_when_all_are_on(emu: Emulator, sieve: httpx.Client) -> None:
    emu.faults["sieve"] = Faults(rate=0.5, seed=4, delay=0.01)
    seen = Counter(outcome(sieve) for _ in range(200))
    assert {"200", "500", "502", "503", "429", "broken", "bad-json"} <= set(seen)
    assert 0.38 < 1 - seen["200"] / 200 < 0.55  # "slow" answers arrive, so count as 200


def test_submit_is_never_faulted(emu: Emulator, sieve: httpx.Client) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("drop", "500", "cut"))
    ids = [emu.submit("sieve", duration=1) for _ in range(5)]
    assert len(set(ids)) == 5 and set(ids) <= set(emu.backends["sieve"].runs)


def test_faults_hit_only_the_backend_they_are_set_for(emu: Emulator, sieve: httpx.Client) -> None:
    emu.faults["sieve"] = Faults(rate=1.0, kinds=("503",))
    token = emu.backends["prunner"].token("ops")  # type: ignore[attr-defined]
    prunner = httpx.get(
        emu.urls["prunner"] + "/pipelines", headers={"Authorization": f"Bearer {token}"}
    )
    assert (sieve.get("/v2/jobs").status_code, prunner.status_code) == (503, 200)


def test_faults_set_at_construction_apply_from_the_first_request() -> None:
    faults = {"prunner": Faults(rate=1.0, kinds=("500",))}
    with Emulator(["prunner"], speed=0, faults=faults) as emu:
        assert httpx.get(emu.urls["prunner"] + "/pipelines").status_code == 500


@pytest.mark.parametrize("backend", ["pixxel", "prunner"])
def test_fault_error_bodies_are_the_vendors_error_shape(
    emu: Emulator, sieve: httpx.Client, backend: str
) -> None:
    emu.faults[backend] = Faults(rate=1.0, kinds=("502",))
    body = httpx.get(emu.urls[backend] + "/anything").json()
    if backend == "pixxel":
        node = schema("pixxel", "common.ErrorResponse")
        assert body["error"]["message"]
    else:
        node = load_spec("prunner")["responses"]["genericErrorResponse"]["schema"]
        assert body["error"]
    jsonschema.validate(body, node)
