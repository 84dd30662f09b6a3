"""A backend time jobhub cannot read degrades that one field to null; the job is kept, and the
raw payload still holds what the backend sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jobhub_prunner.adapter import PrunnerAdapter
from jobhub_sieve.adapter import SieveAdapter
from jobhub_wes.adapter import WesAdapter

from jobhub.backend import parse_time

UNREADABLE = [
    "1700000000",  # epoch seconds
    "1700000000.25",
    "2024-01-01T00:00:00+25:00",  # an offset past ±24 h
    "2024-01-01T00:00:00-99:59",
    "0001-01-01T00:00:00+05:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC
    "yesterday",
    "2024-13-01T00:00:00",
    12,
    ["2024-01-01"],
]


@pytest.mark.parametrize("value", UNREADABLE, ids=repr)
def test_parse_time_gives_none_for_what_is_not_a_readable_time(value: Any) -> None:
    assert parse_time(value) is None


def test_parse_time_still_reads_every_rfc_3339_time() -> None:
    assert parse_time("2024-01-01T00:00:00+23:59") == datetime(2023, 12, 31, 0, 1, tzinfo=UTC)
    assert parse_time(" 2024-01-01T00:00:00z ") == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["1700000000", "2024-01-01T00:00:00+25:00"])
def test_a_sieve_job_with_an_unreadable_time_is_kept(value: str) -> None:
    sieve = SieveAdapter("s", SieveAdapter.settings_from("s", {"api_key": "k"}, env={}))
    payload = {"id": "j", "status": "finished", "created_at": value, "started_at": value,
               "completed_at": "2024-01-01T00:00:05Z"}  # fmt: skip
    job = sieve.normalize(payload)
    assert (job.created_at, job.started_at) == (None, None)
    assert job.finished_at == datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert job.raw["created_at"] == value
    job.model_dump_json()


@pytest.mark.parametrize("value", ["1700000000", "2024-01-01T00:00:00+25:00"])
def test_a_prunner_job_with_an_unreadable_time_is_kept(value: str) -> None:
    prunner = PrunnerAdapter("ci", PrunnerAdapter.settings_from("ci", {}, env={}))
    payload = {"id": "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8", "pipeline": "release",
               "tasks": [], "completed": False, "canceled": False, "errored": False,
               "created": value, "start": "2025-08-15T12:00:01Z", "end": None}  # fmt: skip
    job = prunner.normalize(payload)
    assert job.created_at is None
    assert job.started_at == datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC)
    assert job.raw["created"] == value


@pytest.mark.parametrize("value", ["1700000000", "2024-01-01T00:00:00+25:00"])
def test_a_wes_run_with_an_unreadable_time_is_kept(value: str) -> None:
    wes = WesAdapter("w", WesAdapter.settings_from("w", {"url": "https://w.test/ga4gh/wes/v1"}, {}))
    payload = {"run_id": "r1", "state": "RUNNING", "run_log": {"start_time": value}}
    job = wes.normalize(payload)
    assert job.started_at is None
    assert job.raw["run_log"]["start_time"] == value


def test_each_distinct_time_text_is_read_once_and_shared() -> None:
    text = "2031-05-06T07:08:09.123Z"  # a listing read every cycle repeats its times
    first = parse_time(text)
    assert first == datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    assert parse_time(text) is first
    assert parse_time("2031-05-06T07:08:09.123") is not first  # another text, read on its own
    assert parse_time("2031-05-06T07:08:09.123") == first


def test_a_remembered_unreadable_time_is_still_none() -> None:
    assert parse_time("1700000001") is None
    assert parse_time("1700000001") is None
