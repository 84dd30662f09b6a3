"""Awaiting 1,000 jobs: jobhub against the loop a user writes by hand.

    python -m benchmarks waiting                     # 1,000 jobs, ~60 emulated seconds
    python -m benchmarks waiting --jobs 300 --speed 10

Jobs are spread over the three emulated backends (Sieve, Pixxel, prunner) and end at random
times over about a minute of emulated time. Each contender gets a fresh emulator with the same
seed, so both face the same jobs, ending at the same emulated times:

- jobhub: `AsyncHub.as_completed(refs)` with `poll_interval` = the interval and the default
  `poll_max` (30 s), both scaled to the emulator's speed;
- the hand loop: every interval, GET each job that has not ended (all at once, with asyncio, on
  the same hub and connection pool), noting each end as its answer arrives.

Reported: HTTP requests the emulator received, detection lag (emulated seconds from a job's
recorded end to the moment the contender saw it; p50, p99, max), CPU seconds of the thread that
ran the contender (the emulator runs in its own thread), and wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from jobhub import AsyncHub
from jobhub.emulator import Emulator

TYPES = ("sieve", "pixxel", "prunner")


class CountingEmulator(Emulator):
    """An emulator that counts the requests it receives, per backend."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: Counter[str] = Counter()

    def asgi_app(self) -> Any:
        app = super().asgi_app()

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.requests[scope["path"].split("/", 2)[1]] += 1
            await app(scope, receive, send)

        return counted


@dataclass
class Result:
    name: str
    requests: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)
    cpu: float = 0.0
    wall: float = 0.0
    wrong: int = 0  # jobs reported in a state other than their true final one
    cycles: list[float] = field(default_factory=list)  # the hand loop's rounds, real seconds
    by_backend: dict[str, list[float]] = field(default_factory=dict)
    lifetimes: list[float] = field(default_factory=list)  # emulated s from the start to each end

    def percentile(self, share: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


Contender = Callable[[AsyncHub, list[str], Callable[[str, str], None]], Awaitable[None]]


async def jobhub_contender(
    hub: AsyncHub, refs: list[str], seen: Callable[[str, str], None]
) -> None:
    async for job in hub.as_completed(refs):
        seen(job.ref, job.state.value)


def hand_loop(interval: float, cycles: list[float], concurrency: int | None = None) -> Contender:
    """Every interval, GET each job that has not ended: all at once, or `concurrency` at a time."""

    async def loop(hub: AsyncHub, refs: list[str], seen: Callable[[str, str], None]) -> None:
        pending = set(refs)
        gate = asyncio.Semaphore(concurrency or len(refs) or 1)

        async def check(ref: str) -> None:
            async with gate:
                job = await hub.get(ref)
            if job.terminal and ref in pending:
                pending.discard(ref)
                seen(ref, job.state.value)

        while pending:
            started = time.monotonic()
            await asyncio.gather(*(check(ref) for ref in list(pending)))
            cycles.append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, interval - cycles[-1]))

    return loop


def run(name: str, contender: Contender, args: argparse.Namespace) -> Result:
    result = Result(name)
    rng = random.Random(args.seed)
    with CountingEmulator(seed=args.seed, speed=args.speed) as emu:
        config = {
            backend: {
                **entry,
                "poll_interval": args.interval / args.speed,
                "poll_max": 30.0 / args.speed,
            }
            for backend, entry in emu.hub_config().items()
        }
        pixxel_workflows = [w.name for w in emu.backends["pixxel"].workflows.values()]  # type: ignore[attr-defined]
        refs: list[str] = []
        for index in range(args.jobs):
            backend = TYPES[index % len(TYPES)]
            workflow = (
                pixxel_workflows[index % len(pixxel_workflows)] if backend == "pixxel" else None
            )
            duration = rng.uniform(1.0, args.span)
            refs.append(f"{backend}:{emu.submit(backend, duration=duration, workflow=workflow)}")
        emu.requests.clear()  # count only what the contender sends

        def seen(ref: str, state: str) -> None:
            backend, job_id = ref.split(":", 1)
            run = emu.backends[backend].find(job_id)
            assert run is not None
            result.lags.append(emu.clock.now() - run.ends)
            result.by_backend.setdefault(backend, []).append(emu.clock.now() - run.ends)
            if state != run.final_state:
                result.wrong += 1

        async def main() -> None:
            async with AsyncHub(config) as hub:
                await contender(hub, refs, seen)

        started = emu.clock.now()
        for ref in refs:
            backend, job_id = ref.split(":", 1)
            run = emu.backends[backend].find(job_id)
            assert run is not None
            result.lifetimes.append(run.ends - started)
        cpu, wall = time.thread_time(), time.monotonic()
        asyncio.run(main())
        result.cpu, result.wall = time.thread_time() - cpu, time.monotonic() - wall
        result.requests = Counter(emu.requests)
    return result


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"{args.jobs} jobs over {', '.join(TYPES)}, ending within ~{args.span:g} emulated s; "
        f"poll interval {args.interval:g} emulated s; emulator speed {args.speed:g}x; "
        f"seed {args.seed}",
        "",
        f"{'':<10} {'requests':>9} {'sieve':>7} {'pixxel':>7} {'prunner':>7} "
        f"{'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'CPU s':>7} {'wall s':>7} {'wrong':>5}",
    ]
    for r in results:
        lines.append(
            f"{r.name:<10} {sum(r.requests.values()):>9} {r.requests['sieve']:>7} "
            f"{r.requests['pixxel']:>7} {r.requests['prunner']:>7} "
            f"{r.percentile(0.5):>8.2f} {r.percentile(0.99):>8.2f} {max(r.lags):>8.2f} "
            f"{r.cpu:>7.2f} {r.wall:>7.1f} {r.wrong:>5}"
        )
    hub, loop = results
    share = sum(hub.requests.values()) / max(1, sum(loop.requests.values()))
    lines += [
        "",
        f"jobhub made {share:.1%} of the hand loop's requests "
        f"(target <= 10%); p99 lag {hub.percentile(0.99):.2f} s vs {loop.percentile(0.99):.2f} s "
        "(target: no worse). Lags are emulated seconds.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks waiting", description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--span", type=float, default=60.0, help="emulated seconds jobs run")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, emulated s")
    parser.add_argument("--speed", type=float, default=1.0, help="emulated seconds per real one")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cycles: list[float] = []
    results = [
        run("jobhub", jobhub_contender, args),
        run("hand loop", hand_loop(args.interval / args.speed, cycles), args),
    ]
    print(table(results, args))
    late = sum(1 for cycle in cycles if cycle > args.interval / args.speed)
    loop = results[1]
    # What the loop asks for when it keeps its interval: one GET per round until each job ends.
    nominal = sum(int(max(0.0, life) // args.interval) + 1 for life in loop.lifetimes)
    print(
        f"The hand loop made {len(cycles)} rounds; {late} took longer than the interval "
        f"(longest {max(cycles) * args.speed:.2f} emulated s), so it sent fewer requests than "
        f"its interval asks for: keeping it, it would send {nominal} "
        f"(jobhub: {sum(results[0].requests.values()) / nominal:.1%} of that)."
    )
    return 0 if all(r.wrong == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
