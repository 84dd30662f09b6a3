"""normalize: one job's response bytes → `Job`, per backend, against `json.loads` of the bytes.

Each adapter reads the body through its real parse path for a get
(`interpret(adapter, adapter.get_job(id), response)`, what the runners call on an answer):
JSON decoding, wire checks, state mapping, the canonical model, with the collector paused as
it is there. Payloads: a Sieve job with 20 outputs, a Pixxel job with 20 tasks, a prunner
job with 50 tasks (`benchmarks.payloads`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from benchmarks import Row, compare, print_table, quick
from benchmarks import payloads as p
from jobhub.backend import Adapter, Call
from jobhub.http import interpret

__all__ = ["adapter", "loads", "main", "parser"]

# Normalize and bulk refresh, HTTP included: within 1.2× `json.loads` of the same bytes.
TARGET = 1.2

_SETTINGS: dict[str, dict[str, Any]] = {
    "sieve": {"api_key": "benchmark-key"},
    "pixxel": {"api_key": "benchmark-key"},
    "prunner": {"jwt_secret": "benchmark-secret-benchmark-secret"},
}


def adapter(kind: str) -> Adapter:
    """A configured adapter of the built-in type `kind`, named after it."""
    from jobhub.plugins import get_registry

    adapter_class = get_registry().adapters[kind]
    return adapter_class(kind, adapter_class.settings_from(kind, _SETTINGS[kind], {}))


def parser(adapter: Adapter, call: Call[Any], content: bytes) -> Callable[[], Any]:
    """`interpret` of a 200 response holding `content` (`call.parse` as the runners call
    it), ready to time."""
    response = httpx.Response(200, content=content, request=call.request)
    return lambda: interpret(adapter, call, response)


def cases() -> list[tuple[str, Callable[[], Any], bytes]]:
    sieve, pixxel, prunner = p.sieve_job(20), p.pixxel_job(20), p.prunner_job(50)
    on = {kind: adapter(kind) for kind in ("sieve", "pixxel", "prunner")}
    gets = [
        ("Sieve job, 20 outputs", on["sieve"], sieve["id"], p.body(sieve)),
        (
            "Pixxel job, 20 tasks",
            on["pixxel"],
            f"{pixxel['workflow_id']}/{pixxel['id']}",
            p.body(pixxel),
        ),
        ("prunner job, 50 tasks", on["prunner"], prunner["id"], p.body(prunner)),
    ]
    return [
        (name, parser(backend, backend.get_job(job_id), content), content)
        for name, backend, job_id, content in gets
    ]


def loads(content: bytes) -> Callable[[], Any]:
    return lambda: json.loads(content)


def main(argv: Sequence[str] = ()) -> list[Row]:
    rounds = 7 if quick(argv) else 21
    rows = []
    for name, parse, content in cases():
        mine, floor = compare(parse, loads(content), rounds=rounds)
        rows.append(Row(f"{name} ({len(content) / 1024:.0f} KiB)", mine, floor, target=TARGET))
    print_table("normalize: response bytes → Job", "json.loads", rows)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
