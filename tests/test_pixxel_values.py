"""The readers for Pixxel's loosely specified values: percentages, durations, times, raw JSON."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jobhub_pixxel.values import decode_raw_json, percent, seconds, timestamp


@pytest.mark.parametrize(
    ("reported", "fraction"),
    [
        ("45", 0.45),
        ("45.5", 0.455),
        ("45%", 0.45),
        (" 12 % ", 0.12),
        ("0", 0.0),
        ("100", 1.0),
        ("150", 1.0),
        ("-5", 0.0),
        ("", None),
        ("   ", None),
        ("%", None),
        ("almost", None),
        ("NaN", None),
        ("inf", None),
        (None, None),
        (True, None),
        ([45], None),
        (0, 0.0),
        (42.5, 0.425),
        (100, 1.0),
        (250, 1.0),
    ],
)
def test_percent_reads_pixxel_progress(reported: Any, fraction: float | None) -> None:
    assert percent(reported) == (pytest.approx(fraction) if fraction is not None else None)


@pytest.mark.parametrize(
    ("time_taken", "expected"),
    [
        ("1h2m3.5s", 3723.5),
        ("1m2.5s", 62.5),
        ("2m", 120.0),
        ("3h", 10800.0),
        ("150ms", 0.15),
        ("2.5µs", 2.5e-6),
        ("2.5μs", 2.5e-6),
        ("2.5us", 2.5e-6),
        ("40ns", 4e-8),
        ("0s", 0.0),
        ("1h 2m 3s", 3723.0),
        ("12.5", 12.5),
        ("12", 12.0),
        ("01:02:03", 3723.0),
        ("1:02:03.25", 3723.25),
        ("26:00:00", 93600.0),
        ("1 day, 01:00:00", 90000.0),
        ("2 days, 0:00:01", 172801.0),
        (12, 12.0),
        (0.5, 0.5),
        ("", None),
        ("  ", None),
        ("soon", None),
        ("1 hour", None),
        ("-3s", None),
        ("-12", None),
        ("1h-2m", None),
        ("12:75:00", None),
        ("1.2.3s", None),
        ("inf", None),
        ("nan", None),
        (-1, None),
        (None, None),
        (False, None),
        ({"seconds": 3}, None),
    ],
)
def test_seconds_reads_time_taken(time_taken: Any, expected: float | None) -> None:
    assert seconds(time_taken) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-04T09:15:01.993847Z", datetime(2025, 3, 4, 9, 15, 1, 993847, tzinfo=UTC)),
        ("2025-03-04T09:16:12.650+00:00", datetime(2025, 3, 4, 9, 16, 12, 650000, tzinfo=UTC)),
        ("2025-03-04T14:46:12+05:30", datetime(2025, 3, 4, 9, 16, 12, tzinfo=UTC)),
        ("2025-03-04T09:16:12.123456789Z", datetime(2025, 3, 4, 9, 16, 12, 123456, tzinfo=UTC)),
        ("2025-03-04T09:16:12", datetime(2025, 3, 4, 9, 16, 12, tzinfo=UTC)),
    ],
)
def test_timestamp_reads_rfc3339_as_utc(text: str, expected: datetime) -> None:
    parsed = timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize(
    "value",
    ["", None, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-05:00", "yesterday", 1741079701, []],
    ids=["empty", "null", "go-zero", "go-zero-offset", "words", "number", "list"],
)
def test_timestamp_is_none_when_unset_or_unreadable(value: Any) -> None:
    assert timestamp(value) is None


SPEC = {"name": "ndvi-monitoring", "blocks": [{"name": "ingest"}], "ratio": 0.5}
SPEC_BYTES = json.dumps(SPEC).encode()


@pytest.mark.parametrize(
    "encoded",
    [SPEC, list(SPEC_BYTES), base64.b64encode(SPEC_BYTES).decode()],
    ids=["json-value", "byte-list", "base64"],
)
def test_decode_raw_json_reads_every_encoding(encoded: Any) -> None:
    assert decode_raw_json(encoded) == SPEC


@pytest.mark.parametrize(
    "value",
    [
        [300, 1, 2],  # not bytes
        [1, 2, 3],  # bytes, not JSON
        list(b"\xff\xfe{}"),  # not UTF-8
        [1.5, 2],
        [[1], 2],
        base64.b64encode(b"hello world!").decode(),  # base64, not JSON
        "hello",  # not base64
        "ab=c",  # malformed base64
        "",
        [],
        "{}",  # JSON text in a string is a string value
        42,
        None,
        {"a": 1},
    ],
    ids=lambda v: repr(v)[:30],
)
def test_decode_raw_json_keeps_what_does_not_decode(value: Any) -> None:
    assert decode_raw_json(value) == value


def test_decode_raw_json_reads_json_scalars_in_bytes() -> None:
    assert decode_raw_json(list(b'"done"')) == "done"
    assert decode_raw_json(base64.b64encode(b"[1, 2]").decode()) == [1, 2]


def test_decode_raw_json_survives_deeply_nested_bytes() -> None:
    deep = list(b"[" * 100_000 + b"]" * 100_000)
    assert decode_raw_json(deep) is deep


ENCODINGS = [list, lambda data: base64.b64encode(data).decode()]


@pytest.mark.parametrize("encode", ENCODINGS, ids=["byte list", "base64"])
def test_decoded_bytes_lose_lone_surrogates_like_any_answer(encode: Any) -> None:
    data = b'{"note": "bad \\ud800 byte", "\\udfff": ["\\udc00"]}'
    decoded = decode_raw_json(encode(data))
    assert decoded == {"note": "bad \ufffd byte", "\ufffd": ["\ufffd"]}
    json.dumps(decoded).encode()  # printable: no surrogate left


@pytest.mark.parametrize("encode", ENCODINGS, ids=["byte list", "base64"])
def test_decoded_bytes_nested_past_the_depth_limit_are_kept_as_sent(encode: Any) -> None:
    data = b"[" * 300 + b"]" * 300  # within json.loads' reach, past every Job's
    encoded = encode(data)
    assert decode_raw_json(encoded) == encoded


def test_a_pixxel_job_with_surrogates_in_its_bytes_prints_as_json() -> None:
    from jobhub_pixxel.adapter import PixxelAdapter, PixxelSettings

    adapter = PixxelAdapter("pixxel", PixxelSettings(type="pixxel"))
    payload = {
        "id": "j",
        "workflow_id": "w",
        "status": "completed",
        "spec": list(b'{"band": "\\ud800"}'),
        "tasks": [{"id": "t", "name": "t", "status": "completed", "result": list(b'"\\udfff"')}],
    }
    job = adapter.normalize(payload)
    dumped = json.loads(job.model_dump_json())
    assert dumped["inputs"] == {"band": "\ufffd"}
    assert "\ufffd" in json.dumps(dumped["outputs"], ensure_ascii=False)
