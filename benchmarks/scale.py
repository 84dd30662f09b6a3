"""scale: awaiting thousands of jobs, jobhub against the loop a user writes by hand.

    python -m benchmarks scale                 10,000 jobs over Sieve, Pixxel and prunner; then
                                               5,000 on each alone; then CPU per followed job
                                               per cycle at 1,000, 5,000 and 10,000 jobs; then
                                               prunner past its size cap (`benchmarks.scale_cap`)
    python -m benchmarks scale --quick         the same with a tenth of the jobs, shorter
    python -m benchmarks scale -- --jobs 2000 --single 1000 --span 60 --parts mixed,cpu
    python -m benchmarks scale -- --parts mixed --jobs 5000 --jobhub-only    jobhub alone
    python -m benchmarks scale -- --single 5000 --parts single --types sieve --span 60
    python -m benchmarks scale -- --parts floor                the memory floor alone
    python -m benchmarks scale -- --parts mixed,floor --jobhub-only    jobhub against it

Each emulated backend serves from a process of its own (`benchmarks.scale_server`), and each
contender runs in a child process of its own, so its CPU seconds and peak resident set size
(`VmHWM`) are its own and no two share an interpreter lock (served from one process, the
emulator was what set the lag at 10,000 jobs). Both contenders face the same jobs (same seed),
ending at random times over `--span` emulated seconds, at the same poll interval
(`--interval`, 1 s):

- jobhub: `AsyncHub.as_completed(refs)`, `poll_interval` the interval, `poll_max` 30 s;
- the hand loop: every interval, GET each job that has not ended, `--concurrency` (64) at a
  time (unbounded, 10,000 GETs queue in the connection pool and none is sent within minutes);
- per-job GETs kept to the interval: computed, not run — one GET per job per interval from
  the start until its end, what the hand loop would send on a machine fast enough for it;
- the floor for memory (mixed part): a process that GETs every job once and holds the answers
  as parsed JSON dicts (`json.loads`), nothing else.

Reported: requests the emulators received (in all, per minute of the contender's run, per
backend), detection lag (emulated seconds from a job's recorded end, or from the moment the
contender was ready if the job ended while it started, to its detection: p50, p99, p99 per
backend), CPU seconds of the contender's process and of the emulators', its peak RSS, the ends
seen within the time allowed (the span and two minutes), jobs reported in a wrong final state.
The CPU part follows N jobs that do not end for a fixed window after a warm-up past the first
`poll_max` (a steady state: every job fetched on its own once per `poll_max`), and divides the
CPU the process spent in the window by N and by the cycles in it (window / interval), beside
the share of a core it used (near 100% it could not keep its cycles); the hand loop's figure is
per job per round it made. `--types` picks the backends (one alone: one strategy's cost).

The WES emulator is left out: each of its runs is a cwltool process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.memory import peak_rss
from benchmarks.scale_cap import compare_ways_out
from benchmarks.scale_server import Servers
from benchmarks.waiting import TYPES, hand_loop

__all__ = ["main"]

MiB = 2**20
NEVER = 10_000_000.0  # emulated seconds: a job that does not end while it is followed


# -- the child: one contender in a process of its own --------------------------------------------


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _contend(spec: dict[str, Any]) -> dict[str, Any]:
    from jobhub import AsyncHub
    from jobhub.errors import WaitTimeout

    refs: list[str] = spec["refs"]
    seen: list[tuple[str, str, float]] = []
    cycles: list[float] = []  # the hand loop's rounds
    rounds: list[float] = []
    window: list[float] = []

    def noted(ref: str, state: str) -> None:
        seen.append((ref, state, time.monotonic()))

    async def sample() -> None:  # CPU spent from the warm-up's end to the window's
        await asyncio.sleep(spec["warmup"])
        window.append(_cpu())
        rounds.append(float(len(cycles)))
        await asyncio.sleep(spec["window"])
        window.append(_cpu())
        rounds.append(float(len(cycles)))

    held: list[Any] = []  # the floor's parsed answers, held until the figures are taken
    probing = None
    if spec.get("probe"):
        from benchmarks import scale_probe

        scale_probe.install()
        probing = asyncio.ensure_future(scale_probe.loop_lag())
    ready = time.monotonic()
    async with AsyncHub(spec["config"]) as hub:
        if spec["mode"] == "dicts":
            held = await _hold_dicts(hub, refs)
        else:
            body: Awaitable[None]
            if spec["mode"] == "jobhub":
                body = _jobhub(hub, refs, noted)
            else:
                body = hand_loop(spec["interval"], cycles, spec["concurrency"])(hub, refs, noted)
            if spec["window"]:  # followed jobs that do not end: stop after the window
                following = asyncio.ensure_future(body)
                await sample()
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, WaitTimeout):
                    await following
            else:
                with contextlib.suppress(TimeoutError, WaitTimeout):
                    await asyncio.wait_for(body, timeout=spec["timeout"])
    probe: dict[str, Any] | None = None
    if probing is not None:
        probing.cancel()
        from benchmarks import scale_probe

        probe = scale_probe.collected()
    return {
        "probe": probe,
        "seen": seen,
        "window_cpu": window,
        "window_rounds": rounds,
        "rounds": len(cycles),
        "held": len(held),
        "ready": ready,
    }


async def _jobhub(hub: Any, refs: list[str], noted: Any) -> None:
    async for job in hub.as_completed(refs):
        noted(job.ref, job.state.value)


async def _hold_dicts(hub: Any, refs: list[str]) -> list[Any]:
    """GET every job once, holding each answer as `json.loads` gives it."""
    import httpx

    held: list[Any] = []
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(ref: str) -> None:
            name, job_id = ref.split(":", 1)
            adapter = hub.adapter(name)
            async with gate:
                response = await client.send(
                    adapter.get_job(job_id).request, auth=adapter.auth() or httpx.USE_CLIENT_DEFAULT
                )
            held.append(json.loads(response.content))

        await asyncio.gather(*(one(ref) for ref in refs))
    return held


def child(path: str) -> None:
    spec = json.loads(Path(path).read_text())
    started, cpu = time.monotonic(), _cpu()
    if spec.get("profile"):  # where the contender's CPU goes (`-- --profile FILE`)
        import cProfile

        with cProfile.Profile() as profile:
            result = asyncio.run(_contend(spec))
        profile.dump_stats(spec["profile"])
    else:
        result = asyncio.run(_contend(spec))
    result |= {"cpu": _cpu() - cpu, "wall": time.monotonic() - started, "peak": peak_rss()}
    Path(spec["out"]).write_text(json.dumps(result))  # a file, not stdout: large, read whole


# -- the parent: the emulator, the jobs, the figures ---------------------------------------------


@dataclass
class Result:
    name: str
    requests: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)
    wrong: int = 0
    cpu: float = 0.0
    peak: float = 0.0  # MiB
    wall: float = 0.0
    rounds: int = 0
    window_cpu: float = 0.0
    window_rounds: float = 0.0
    server_cpu: dict[str, float] = field(default_factory=dict)  # each emulator process's
    kept_to_interval: float = 0.0  # GETs a loop keeping its interval would send
    lags_by: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def percentile(self, share: float, kind: str | None = None) -> float:
        lags = self.lags if kind is None else self.lags_by[kind]
        if not lags:
            return float("nan")
        ordered = sorted(lags)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _jobs(types: tuple[str, ...], jobs: int, span: float, seed: int) -> dict[str, list[Any]]:
    """Per backend, each job's (duration, workflow index), dealt round the types in turn."""
    rng = random.Random(seed)
    planned: dict[str, list[Any]] = {kind: [] for kind in types}
    for index in range(jobs):
        duration = rng.uniform(1.0, span) if span else NEVER
        planned[types[index % len(types)]].append((duration, index))
    return planned


def _run(
    mode: str, types: tuple[str, ...], jobs: int, args: argparse.Namespace, *, follow: bool
) -> Result:
    """One contender (`jobhub`, `loop` or `dicts`) on fresh emulators, one process each."""
    result = Result(mode)
    speed = args.speed
    with Servers(types, seed=args.seed, speed=speed) as servers:
        config = {
            name: {**entry, "poll_interval": args.interval / speed, "poll_max": 30.0 / speed}
            for name, entry in servers.config.items()
        }
        if args.long_polls is not None:
            for entry in config.values():
                entry["long_polls"] = args.long_polls
        ids = servers.submit(_jobs(types, jobs, 0.0 if follow else args.span, args.seed))
        dealt = {kind: iter(each) for kind, each in ids.items()}
        refs = [
            f"{kind}:{next(dealt[kind])}" for kind in (types[i % len(types)] for i in range(jobs))
        ]
        warmup = args.warmup / speed if follow else 0.0
        window = args.window / speed if follow else 0.0
        spec = {
            "mode": mode,
            "config": config,
            "refs": refs,
            "interval": args.interval / speed,
            "concurrency": args.concurrency,
            "warmup": warmup,
            "window": window,
            "timeout": (args.span + 120.0) / speed,
            "probe": args.probe and mode == "jobhub",
            "profile": args.profile if mode == "jobhub" else None,
        }
        with tempfile.TemporaryDirectory() as folder:
            spec["out"] = str(Path(folder, "figures.json"))
            Path(folder, "spec.json").write_text(json.dumps(spec))
            servers.sync()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.scale",
                    "--child",
                    str(Path(folder, "spec.json")),
                ],
                check=False,
                capture_output=True,
                text=True,
            )
            if done.returncode:
                sys.exit(f"the {mode} contender failed:\n{done.stderr[-3000:]}")
            figures = json.loads(Path(spec["out"]).read_text())
        reports = servers.report(ids)
    for kind, report in reports.items():
        result.requests[kind] = report["requests"]
        result.server_cpu[kind] = report["cpu"]
        began = servers.emulated(kind, figures["ready"])
        for ends, _ in report["runs"].values():  # a GET per interval until it is seen ended
            lived = min(ends, began + spec["timeout"] * speed) - began
            result.kept_to_interval += 1 + max(0.0, lived) // args.interval
    for ref, state, at in figures["seen"]:
        kind, job_id = ref.split(":", 1)
        ends, final_state = reports[kind]["runs"][job_id]
        began = servers.emulated(kind, figures["ready"])
        lag = servers.emulated(kind, at) - max(ends, began)
        result.lags.append(lag)
        result.lags_by[kind].append(lag)
        result.wrong += state != final_state
    if figures.get("probe"):
        from benchmarks import scale_probe

        ends = {
            f"{kind}:{job_id}": report["runs"][job_id][0]
            for kind, report in reports.items()
            for job_id in report["runs"]
        }
        scale_probe.report(
            figures["probe"], figures["seen"], ends, servers.emulated, figures["ready"]
        )
        busy = ", ".join(
            f"{kind} {report['cpu']:.1f} s ({report['cpu'] / figures['wall']:.0%} of a core)"
            for kind, report in reports.items()
        )
        print(f"\nemulators' CPU: {busy}; jobhub {figures['cpu']:.1f} s", flush=True)
    result.cpu, result.wall, result.peak = figures["cpu"], figures["wall"], figures["peak"] / MiB
    result.rounds = figures["rounds"]
    if len(figures["window_cpu"]) == 2:
        result.window_cpu = figures["window_cpu"][1] - figures["window_cpu"][0]
        result.window_rounds = figures["window_rounds"][1] - figures["window_rounds"][0]
    return result


def _floor_alone(types: tuple[str, ...], jobs: int, args: argparse.Namespace) -> None:
    """The memory floor without the contenders (`--parts floor`): a minute, not three."""
    floor = _run("dicts", types, jobs, args, follow=False)
    print(f"\n### scale: memory floor, {jobs:,} jobs over {', '.join(types)}\n")
    print(
        f"peak RSS {floor.peak:.0f} MiB for a process holding the jobs as parsed JSON dicts "
        f"(jobhub's target: at most {1.5 * floor.peak:.0f} MiB, 1.5×).",
        flush=True,
    )


def _awaiting(
    title: str, types: tuple[str, ...], jobs: int, args: argparse.Namespace, *, floor: bool
) -> None:
    contenders = ["jobhub"] if args.jobhub_only else ["jobhub", "loop"]
    if floor:
        contenders.append("dicts")
    results = {mode: _run(mode, types, jobs, args, follow=False) for mode in contenders}
    mine, loop, dicts = results["jobhub"], results.get("loop"), results.get("dicts")
    minutes = mine.wall / 60
    print(f"\n### scale: {title}, {jobs:,} jobs ending over {args.span:g} emulated s\n")
    print(
        f"poll interval {args.interval:g} s, emulator speed {args.speed:g}x, seed {args.seed}, "
        "one emulator process per backend\n"
    )
    columns = ["requests", "per min", *types, "lag p50", "lag p99"]
    columns += [f"p99 {t}" for t in types if len(types) > 1]
    columns += ["CPU s", "emulator CPU s", "peak RSS", "wall s", "ends seen", "wrong"]
    print("| | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name, r in (("jobhub", mine), ("hand loop", loop)):
        if r is None:
            continue
        total = sum(r.requests.values())
        cells = [f"{total:,}", f"{total / max(r.wall / 60, 1e-9):,.0f}"]
        cells += [f"{r.requests[t]:,}" for t in types]
        cells += [f"{r.percentile(0.5):.2f} s", f"{r.percentile(0.99):.2f} s"]
        cells += [f"{r.percentile(0.99, t):.2f} s" for t in types if len(types) > 1]
        cells += [f"{r.cpu:.1f}", f"{sum(r.server_cpu.values()):.1f}", f"{r.peak:.0f} MiB"]
        cells += [f"{r.wall:.0f}", f"{len(r.lags):,}", str(r.wrong)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    kept = mine.kept_to_interval
    print(
        f"| per-job GETs kept to the interval (computed) | {kept:,.0f} "
        f"| {kept / max(minutes, 1e-9):,.0f} |" + " |" * (len(columns) - 2)
    )
    sent = sum(mine.requests.values())
    target = {TYPES: " (target ≤ 5%)", ("sieve",): " (target ≤ 20%: a fifth)"}.get(types, "")
    notes = [
        f"jobhub sent {sent / kept:.1%} of what per-job GETs kept to the interval would send"
        f"{target}",
        f"lag p99 {mine.percentile(0.99):.2f} s (target ≤ 2 s)",
    ]
    if loop is not None:
        notes.append(
            f"{sent / max(1, sum(loop.requests.values())):.1%} of what the hand loop sent "
            f"(it made {loop.rounds} rounds in {loop.wall:.0f} s)"
        )
    if dicts is not None:
        notes.append(
            f"peak RSS {mine.peak:.0f} MiB against {dicts.peak:.0f} MiB for a process holding "
            f"the same jobs as parsed JSON dicts ({mine.peak / dicts.peak:.2f}×, target ≤ 1.5×)"
        )
    print("\n" + "; ".join(notes) + ".", flush=True)


def _cpu_per_job(types: tuple[str, ...], sizes: list[int], args: argparse.Namespace) -> None:
    print(
        f"\n### scale: CPU per followed job per cycle (jobs over {', '.join(types)} that do not "
        f"end; {args.window:g} emulated s after a {args.warmup:g} s warm-up; a cycle is the "
        f"{args.interval:g} s poll interval)\n"
    )
    print(
        "| jobs | jobhub | its share of a core | hand loop (per round) | ratio "
        "| jobhub against its smallest N |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    first = None
    for size in sizes:
        mine = _run("jobhub", types, size, args, follow=True)
        per_job = mine.window_cpu / size / (args.window / args.interval)
        # Near a whole core jobhub cannot keep its cycles: the figure is then a ceiling.
        share = mine.window_cpu / (args.window / args.speed)
        first = per_job if first is None else first
        looped = "| — | —"
        if not args.jobhub_only:
            loop = _run("loop", types, size, args, follow=True)
            per_round = loop.window_cpu / size / max(1.0, loop.window_rounds)
            looped = (
                f"| {per_round * 1e6:.1f} µs ({loop.window_rounds:.0f} rounds) "
                f"| {per_job / per_round:.2f}×"
            )
        cells = f"| {size:,} | {per_job * 1e6:.1f} µs | {share:.0%} {looped}"
        print(f"{cells} | {per_job / first:.2f}× |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the jobs, 30 s span")
    parser.add_argument("--jobs", type=int, help="jobs over every backend (10,000)")
    parser.add_argument("--single", type=int, help="jobs on one backend at a time (5,000)")
    parser.add_argument("--sizes", help="followed jobs for the CPU part (1000,5000,10000)")
    parser.add_argument("--span", type=float, help="emulated s over which jobs end (180)")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, emulated s")
    parser.add_argument("--speed", type=float, default=1.0, help="emulated seconds per real one")
    # Past poll_max (30 s): the first routine fetches, spread over it, are behind the window.
    parser.add_argument("--warmup", type=float, default=40.0, help="CPU part: emulated s")
    parser.add_argument("--window", type=float, default=30.0, help="CPU part: emulated s")
    parser.add_argument("--concurrency", type=int, default=64, help="the hand loop's GETs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobhub-only", action="store_true", help="skip the other contenders")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the memory floor (a process holding the jobs as dicts) beside the mixed part",
    )
    parser.add_argument("--held", type=int, help="cap part: jobs the prunner server holds (2,000)")
    parser.add_argument(
        "--parts",
        default="mixed,single,cpu,cap",
        help="which parts to run (also: floor, the memory floor alone or with --jobhub-only)",
    )
    parser.add_argument("--types", default=",".join(TYPES), help="backends: single, cpu parts")
    parser.add_argument(
        "--probe", action="store_true", help="where jobhub's lag comes from (`scale_probe`)"
    )
    parser.add_argument("--profile", help="cProfile jobhub's process into this file")
    parser.add_argument("--long-polls", type=int, help="long-polls held per backend (512)")
    args = parser.parse_args(argv)
    tenth = 10 if args.quick else 1
    args.jobs = args.jobs or 10_000 // tenth
    args.single = args.single or 5_000 // tenth
    args.span = args.span or (30.0 if args.quick else 180.0)
    if args.quick:
        args.warmup, args.window = min(args.warmup, 5.0), min(args.window, 10.0)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [1000, 5000, 10_000]
    sizes = [max(1, size // tenth) for size in sizes] if not args.sizes else sizes
    parts = set(args.parts.split(","))
    # The floor runs beside the mixed part, unless jobhub runs alone and it was not asked for.
    floor = args.floor and (not args.jobhub_only or "floor" in parts)
    if "mixed" in parts:
        _awaiting(", ".join(TYPES), TYPES, args.jobs, args, floor=floor)
    elif "floor" in parts:
        _floor_alone(TYPES, args.jobs, args)
    if "single" in parts:
        for kind in args.types.split(","):
            _awaiting(f"{kind} alone", (kind,), args.single, args, floor=False)
    if "cpu" in parts:
        _cpu_per_job(tuple(args.types.split(",")), sizes, args)
    if "cap" in parts:
        compare_ways_out(args.held or 2_000 // tenth)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        sys.exit(main(sys.argv[1:]))
