"""The canonical model and the shared parsing helpers adapters build on."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError

from jobhub import Job, JobRef, JobState, Task
from jobhub.backend import StateTable, excerpt, parse_retry_after, parse_time, read_json
from jobhub.errors import InvalidPayload, InvalidRef
from tests.fakes import FakeAdapter, FakeSettings


def job(**fields: object) -> Job:
    base: dict[str, object] = {
        "ref": "b:1",
        "backend": "b",
        "type": "t",
        "id": "1",
        "state": JobState.RUNNING,
    }
    return Job.model_validate({**base, **fields})


def test_terminal_states_are_exactly_the_four_ends() -> None:
    assert {s for s in JobState if s.terminal} == {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.SKIPPED,
    }


def test_job_state_is_a_string() -> None:
    assert JobState.RUNNING == "running" and f"{JobState.FAILED}" == "failed"


def test_refs_split_on_the_first_colon() -> None:
    assert JobRef.parse("ci:urn:x:1") == JobRef("ci", "urn:x:1")
    assert str(JobRef("pixxel", "wf/job")) == "pixxel:wf/job"


@pytest.mark.parametrize("bad", ["", "x", ":1", "x:", 42])
def test_bad_refs_raise_invalid_ref(bad: object) -> None:
    with pytest.raises(InvalidRef):
        JobRef.parse(bad)  # type: ignore[arg-type]


def test_json_dump_round_trips() -> None:
    original = job(
        created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        progress=0.5,
        raw={"anything": [1, None]},
    )
    assert Job.model_validate_json(original.model_dump_json()) == original


def test_naive_times_are_refused_by_the_model() -> None:
    with pytest.raises(ValidationError):
        job(created_at=datetime(2025, 1, 1))


def test_progress_must_be_a_share() -> None:
    with pytest.raises(ValidationError):
        job(progress=45)


def test_repr_is_short_and_leaves_out_the_raw_payload() -> None:
    text = repr(job(raw={"huge": "x" * 10_000}))
    assert "xxxx" not in text and text.startswith("<Job ") and len(text) < 80
    long = Job(
        ref="prunner:52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8",
        backend="prunner",
        type="prunner",
        id="52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8",
        state=JobState.RUNNING,
        tasks=[
            Task(name=str(i), state=JobState.SUCCEEDED if i < 3 else JobState.RUNNING)
            for i in range(6)
        ],
    )
    assert repr(long) == "<Job prunner:52a5cb79… running 3/6 tasks>"


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-15T01:41:59.195000", datetime(2024, 12, 15, 1, 41, 59, 195000, tzinfo=UTC)),
        ("2025-08-15T12:00:00Z", datetime(2025, 8, 15, 12, tzinfo=UTC)),
        ("2023-05-04T11:42:00+02:00", datetime(2023, 5, 4, 9, 42, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_time_gives_aware_utc(text: str | None, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == 90.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_state_table_matches_any_case_and_warns_once_per_unknown_word(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = StateTable("demo", {"Finished": JobState.SUCCEEDED})
    assert table("FINISHED") is JobState.SUCCEEDED
    with caplog.at_level(logging.WARNING):
        assert table("warming") is JobState.UNKNOWN
        assert table("warming") is JobState.UNKNOWN
    assert [r.getMessage() for r in caplog.records] == [
        "demo: unknown status word 'warming', reported as 'unknown'"
    ]


def test_excerpt_is_short_and_printable() -> None:
    assert excerpt(b"\xff" + b"a" * 1000, 20).endswith("…")
    assert len(excerpt({"k": "v" * 500}, 50)) == 50


def test_state_table_stops_remembering_unknown_words_past_a_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = StateTable("noisy", {})
    with caplog.at_level(logging.WARNING):
        for n in range(1000):
            assert table(f"word-{n}") is JobState.UNKNOWN
    assert len(caplog.records) == StateTable.MAX_WARNED + 1
    assert caplog.records[-1].getMessage() == "noisy: many unknown status words; no more are logged"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "is nested more than 200 levels deep"),
        (b"[" * 300 + b"]" * 300, "is nested more than 200 levels deep"),
        (b'{"n": 1' + b"0" * 10_000 + b"}", "holds an integer of 10001 digits"),
        (b'{"n": -1' + b"0" * 10_000 + b"}", "holds an integer of 10001 digits"),
        (b"<html>busy</html>", "is not JSON"),
        (b"", "is not JSON"),
    ],
    ids=[
        "deep past recursion",
        "deep past the limit",
        "huge integer",
        "huge negative",
        "html",
        "empty",
    ],
)
def test_an_unreadable_body_is_named_for_what_it_is(body: bytes, said: str) -> None:
    adapter = FakeAdapter("f", FakeSettings(type="fake"))
    response = httpx.Response(200, content=body)
    with pytest.raises(InvalidPayload) as caught:
        adapter.json(response)
    assert f"HTTP 200 body {said}" in str(caught.value)
    if "not JSON" not in said:
        assert "not JSON" not in str(caught.value)


def test_json_within_every_limit_is_read_as_json_loads_reads_it() -> None:
    body = b'{"n": 1' + b"0" * 4000 + b', "deep": ' + b"[" * 150 + b"]" * 150 + b"}"
    assert read_json(body) == json.loads(body)
