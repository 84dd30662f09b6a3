"""scale, part `cap`: a prunner server past `max_response_bytes`, its two ways out compared.

    python -m benchmarks scale -- --parts cap

When `/pipelines/jobs` is larger than the cap, a wait can either fetch each followed job with
`/job/detail` (what the engine does) or read the whole answer and keep only the followed jobs
(a filter while streaming: memory stays small, but every byte is still received and parsed).
Per cycle, for `FOLLOWED` followed jobs of 50 tasks on a server holding `--held` such jobs:

- per-job: `FOLLOWED` answers of one job each, read by `interpret` as the runner reads them;
- filter, at best: the whole answer read by `interpret` with `refresh_jobs(wanted=...)`, which
  passes every other job over before building it. A streaming filter cannot do better: it must
  tokenize the same bytes, and no streaming JSON parser is faster than the one used here.

Both exclude HTTP (the per-job side sends `FOLLOWED` small requests, the filter one request of
the whole body). The figures are scaled to an answer of the default cap (128 MiB) by bytes,
which is how both grow: per-job cost does not depend on what the server holds.
"""

from __future__ import annotations

import json

from benchmarks import compare, format_seconds
from benchmarks import payloads as p
from benchmarks.bulk import PRUNNER_TASKS
from benchmarks.normalize import adapter, parser

__all__ = ["compare_ways_out"]

FOLLOWED = 10
CAP = 128 * 2**20  # prunner's default max_response_bytes


def compare_ways_out(held: int, followed: int = FOLLOWED) -> None:
    on = adapter("prunner")
    body = p.body(p.prunner_jobs(held, tasks=PRUNNER_TASKS))
    jobs = json.loads(body)["jobs"]
    chosen = jobs[:: max(1, len(jobs) // followed)][:followed]
    wanted = {job["id"] for job in chosen}.__contains__
    details = [(job["id"], json.dumps(job).encode()) for job in chosen]
    del jobs
    reads = [parser(on, on.get_job(job_id), content) for job_id, content in details]

    def per_job() -> None:
        for read in reads:
            read()

    per_job_s, filter_s = compare(
        per_job, parser(on, on.refresh_jobs(wanted=wanted), body), rounds=5, budget=0.2
    )
    scale = CAP / len(body)
    print(
        f"\n### scale: prunner past the size cap, {followed} followed jobs of {PRUNNER_TASKS} "
        f"tasks\n\nMeasured on an answer of {held:,} jobs ({len(body) / 2**20:.1f} MiB); the "
        f"filter's figure scaled by bytes to an answer at the {CAP // 2**20} MiB cap "
        f"(about {held * scale:,.0f} jobs).\n"
    )
    print("| per cycle | CPU | at the cap | against per-job |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| per-job `/job/detail` (what jobhub does) | {format_seconds(per_job_s)} "
        f"| {format_seconds(per_job_s)} | 1.00× |"
    )
    print(
        f"| whole answer, filtered (a streaming filter at best) | {format_seconds(filter_s)} "
        f"| {format_seconds(filter_s * scale)} | {filter_s * scale / per_job_s:,.0f}× |"
    )
    even = filter_s * scale / (per_job_s / followed)
    print(
        f"\nReading (HTTP aside), the filter breaks even with per-job reads at about "
        f"{even:,.0f} followed jobs, {even / (held * scale):.0%} of what the server holds at "
        "the cap (each GET's own HTTP cost moves that point lower). Past it the answer "
        "would be read anyway: raise max_response_bytes.",
        flush=True,
    )
