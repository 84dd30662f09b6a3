"""bulk refresh: one large answer → a list of `Job`s, against `json.loads` of the same bytes.

- prunner `GET /pipelines/jobs` holding 10,000 jobs of 50 tasks each, read as the answer to
  `refresh_jobs()` (the one request that refreshes every watched prunner job), and as a wait
  following 10 of them reads it (`refresh_jobs(wanted=...)`: the others are passed over), and
  as a wait following all of them reads it when none has moved since the refresh before
  (`wanted` a `Wanted` holding the views read from the previous answer: each job's payload is
  compared with its view's, not read again);
- a Sieve list page of 500 jobs (`GET /v2/jobs`), the answer to `list_jobs()`;
- a Pixxel workflow's job list of 500 items, the answer to `list_jobs(workflow=...)`.

Each is read by `interpret`, as the runners read an answer (`benchmarks.normalize.parser`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from benchmarks import Row, compare, print_table, quick
from benchmarks import payloads as p
from benchmarks.normalize import TARGET, adapter, loads, parser
from jobhub.backend import Wanted

__all__ = ["main", "prunner_body"]

PRUNNER_JOBS = 10_000
PRUNNER_TASKS = 50
FOLLOWED = 10  # of the jobs a prunner refresh holds, the ones a wait follows
# A Pixxel list item is about 420 bytes of JSON that becomes a Job of 22 fields: within 2×.
LIST_TARGET = 2.0


@lru_cache(maxsize=2)
def prunner_body(jobs: int = PRUNNER_JOBS, tasks: int = PRUNNER_TASKS) -> bytes:
    return p.body(p.prunner_jobs(jobs, tasks=tasks))


def cases(small: bool) -> list[tuple[str, Callable[[], Any], bytes, float]]:
    """The lists first, the large prunner answer last (so its heap does not weigh on them)."""
    sieve = p.body(p.sieve_list(500))
    pixxel = p.body(p.pixxel_list(500))
    on = {kind: adapter(kind) for kind in ("sieve", "pixxel", "prunner")}
    listing = on["pixxel"].list_jobs(workflow="8f14e45f-ceea-4671-a6c5-0d5cb3a1f2b7")
    prunner_jobs = PRUNNER_JOBS // 10 if small else PRUNNER_JOBS
    prunner = prunner_body(prunner_jobs)
    return [
        (
            "Sieve list page, 500 jobs",
            _jobs(parser(on["sieve"], on["sieve"].list_jobs(), sieve)),
            sieve,
            TARGET,
        ),
        (
            "Pixxel job list, 500 jobs",
            _jobs(parser(on["pixxel"], listing, pixxel)),
            pixxel,
            LIST_TARGET,
        ),
        (
            f"prunner /pipelines/jobs, {prunner_jobs:,} jobs × {PRUNNER_TASKS} tasks",
            parser(on["prunner"], on["prunner"].refresh_jobs(), prunner),
            prunner,
            TARGET,
        ),
        (
            f"prunner /pipelines/jobs, {prunner_jobs:,} jobs held, {FOLLOWED} followed",
            parser(on["prunner"], on["prunner"].refresh_jobs(wanted=_followed(prunner)), prunner),
            prunner,
            TARGET,
        ),
        (
            f"prunner /pipelines/jobs, {prunner_jobs:,} jobs followed, none moved",
            _unmoved(on["prunner"], prunner),
            prunner,
            TARGET,
        ),
    ]


def _followed(body: bytes) -> Callable[[str], bool]:
    """A wait's view of a refresh: the ids of `FOLLOWED` jobs spread over the answer."""
    jobs = json.loads(body)["jobs"]
    step = max(1, len(jobs) // FOLLOWED)
    return {job["id"] for job in jobs[::step][:FOLLOWED]}.__contains__


def _unmoved(adapter: Any, body: bytes) -> Callable[[], Any]:
    """A wait following every job of a refresh, holding the views the previous answer gave:
    made at the first call (the warm-up), so the other rows run without them in the heap."""
    made: list[Callable[[], Any]] = []

    def parse() -> Any:
        if not made:
            views = parser(adapter, adapter.refresh_jobs(), body)()
            wanted = Wanted({job.id: job for job in views})
            made.append(parser(adapter, adapter.refresh_jobs(wanted=wanted), body))
        return made[0]()

    return parse


def _jobs(parse: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: parse().jobs


def main(argv: Sequence[str] = ()) -> list[Row]:
    small = quick(argv)
    rows = []
    for name, parse, content, target in cases(small):
        big = len(content) > 10_000_000
        mine, floor = compare(
            parse,
            loads(content),
            rounds=3 if small else 7 if big else 15,
            budget=0.2,
        )
        rows.append(Row(f"{name} ({len(content) / 2**20:.1f} MiB)", mine, floor, target=target))
    print_table("bulk refresh: response bytes → list of Jobs", "json.loads", rows)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
