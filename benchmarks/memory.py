"""memory: a process holding the latest state of 10,000 watched prunner jobs (50 tasks each).

Two child processes read the same `/pipelines/jobs` body (the answer a batch refresh gets):
one turns it into `Job`s as the runners read the answer to `refresh_jobs()` (`interpret`)
and holds them, the other holds the same jobs as parsed JSON dicts (`json.loads(body)["jobs"]`),
the floor. Both import the same modules first, so only what they hold differs. Figures: the
peak resident set size of each process (`VmHWM`: interpreter, imports, the body and what is
held), and the growth of the resident set from before reading the body to after dropping it
(what is held).
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import Row, print_table, quick

__all__ = ["main", "peak_rss"]

TARGET = 1.5
MiB = 2**20


def _status(field: str) -> int | None:
    """A size from /proc/self/status in bytes (Linux), or None where it is missing."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) * 1024  # kB
    return None


def _resident() -> int:
    """The resident set size now, in bytes (0 where it cannot be read)."""
    return _status("VmRSS") or 0


def peak_rss() -> int:
    """The peak resident set size of this process, in bytes. `VmHWM` belongs to this program
    alone; `ru_maxrss` is the fallback (on Linux it also counts the parent's resident set at
    fork, which a child started by a large parent would report as its own)."""
    return _status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(mode: str, path: str) -> None:
    """Hold the jobs of the body at `path` as `Job`s (mode "jobs") or dicts ("dicts"), then
    print the figures as JSON."""
    import httpx

    from benchmarks.normalize import adapter
    from jobhub.http import interpret

    prunner = adapter("prunner")
    call = prunner.refresh_jobs()
    gc.collect()
    before = _resident()
    content = Path(path).read_bytes()
    if mode == "jobs":
        response = httpx.Response(200, content=content, request=call.request)
        held = interpret(prunner, call, response)
        del response
    else:
        held = json.loads(content)["jobs"]
    del content
    gc.collect()
    after = _resident()
    print(json.dumps({"jobs": len(held), "peak": peak_rss(), "held": after - before}))


def _measure(mode: str, path: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", mode, path],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main(argv: Sequence[str] = ()) -> list[Row]:
    from benchmarks.bulk import PRUNNER_JOBS, PRUNNER_TASKS, prunner_body

    jobs = PRUNNER_JOBS // 10 if quick(argv) else PRUNNER_JOBS
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "pipelines-jobs.json")
        Path(path).write_bytes(prunner_body(jobs, PRUNNER_TASKS))
        mine = _measure("jobs", path)
        floor = _measure("dicts", path)
    name = f"{jobs:,} prunner jobs × {PRUNNER_TASKS} tasks"
    rows = [
        Row(f"{name}: peak RSS", mine["peak"] / MiB, floor["peak"] / MiB, "MiB", TARGET),
        Row(f"{name}: held (RSS growth)", mine["held"] / MiB, floor["held"] / MiB, "MiB"),
    ]
    print_table("memory: holding watched jobs", "parsed JSON dicts", rows)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1:])
