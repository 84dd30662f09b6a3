"""Soak: thousands of jobs on the emulated backends with a third of their answers faulty, awaited
by a sync and an async waiter at once — and the same jobs again without faults, to compare.

    python -m benchmarks.soak                         # 2,000 jobs, the figures in the docs
    python -m benchmarks.soak --jobs 60 --rounds 1    # the size tests/test_soak.py runs

Jobs are spread over Sieve, Pixxel and prunner and run for up to `--span` emulated seconds; the
emulator's clock runs `--speed` times faster than real time. The refs are split in two halves,
each over all three backends: a thread waits for one half with `Hub.wait_all`, while the main
thread's event loop follows the other with `AsyncHub.as_completed`. Every fault the emulator has
(500, 502, 503, 429 with Retry-After, dropped connections, answers slower than the client's
timeout, truncated and cut bodies) is on, at a combined `--fault-rate` of answers.

Reported per run: jobs whose final state matches the emulator's truth, unhandled exceptions
(escaping a waiter, a thread, an asyncio task or a `__del__`), requests the emulator received
(counted in front of its fault injection; their ratio to the fault-free run is the retry cost),
and the process's resident memory at the start, at the end of each round and sampled while it
runs. `--rounds` repeats the whole wait in the same process, each time on a fresh emulator with
fresh jobs, so memory the client keeps shows as growth from round to round (RSS at the end of a
round is taken after a garbage collection and glibc's `malloc_trim`, so that it counts memory in
use rather than freed pages the allocator holds on to).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import logging
import random
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from benchmarks.waiting import CountingEmulator
from jobhub import AsyncHub, Hub, Job
from jobhub.emulator import FAULT_KINDS, Emulator, Faults

TYPES = ("sieve", "pixxel", "prunner")


@dataclass
class Round:
    jobs: int = 0
    matched: int = 0
    mismatched: list[str] = field(default_factory=list)  # "ref: seen X, truth Y"
    requests: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)  # faults, by kind
    wall: float = 0.0
    rss_end: float = 0.0


@dataclass
class Result:
    """One run: its rounds, what went wrong, and memory over time (MiB)."""

    faults: bool
    rounds: list[Round] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    rss_start: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)

    @property
    def jobs(self) -> int:
        return sum(r.jobs for r in self.rounds)

    @property
    def matched(self) -> int:
        return sum(r.matched for r in self.rounds)

    @property
    def requests(self) -> int:
        return sum(sum(r.requests.values()) for r in self.rounds)

    @property
    def injected(self) -> Counter[str]:
        return sum((r.injected for r in self.rounds), Counter())

    @property
    def mismatched(self) -> list[str]:
        return [line for r in self.rounds for line in r.mismatched]


# -- memory ----------------------------------------------------------------------------------------


def rss_mib() -> float:
    """This process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def settled_rss_mib() -> float:
    """RSS once garbage is collected and the C allocator has handed free pages back to the
    system (glibc's `malloc_trim`, where there is one): what is still in use, less the noise
    of freed memory the allocator keeps."""
    gc.collect()
    with suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


@contextmanager
def sampling(samples: list[tuple[float, float]], every: float) -> Iterator[None]:
    """Note the RSS every `every` seconds while the block runs."""
    stop = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not stop.wait(every):
            samples.append((time.monotonic() - started, rss_mib()))

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()


# -- unhandled exceptions ------------------------------------------------------------------------


class _Unhandled(logging.Handler):
    """asyncio reports an exception no one retrieved as an ERROR on its logger."""

    def __init__(self, found: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        self.found.append(f"asyncio: {record.getMessage()}")


@contextmanager
def catching_unhandled(found: list[str]) -> Iterator[None]:
    """Collect what escapes threads, asyncio tasks and finalizers while the block runs."""
    thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook

    def on_thread(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread else "?"
        found.append(f"thread {name}: {args.exc_type.__name__}: {args.exc_value}")

    def on_unraisable(args: Any) -> None:
        found.append(f"unraisable: {args.exc_type.__name__}: {args.exc_value}")

    handler = _Unhandled(found)
    asyncio_log = logging.getLogger("asyncio")
    threading.excepthook, sys.unraisablehook = on_thread, on_unraisable
    asyncio_log.addHandler(handler)
    try:
        yield
    finally:
        threading.excepthook, sys.unraisablehook = thread_hook, unraisable_hook
        asyncio_log.removeHandler(handler)


# -- one run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountedFaults(Faults):
    """`Faults` that tally what they inject, by kind."""

    injected: Counter[str] = field(default_factory=Counter, compare=False, repr=False)

    def draw(self) -> str | None:
        kind = super().draw()
        if kind is not None:
            self.injected[kind] += 1
        return kind


def faults_for(args: argparse.Namespace) -> dict[str, CountedFaults]:
    """Every fault kind, at a combined `fault_rate`; a slow answer outlasts the client's timeout."""
    return {
        backend: CountedFaults(
            rate=args.fault_rate,
            kinds=FAULT_KINDS,
            seed=args.seed * 10 + index,
            retry_after=1,
            delay=args.timeout * 1.5,
        )
        for index, backend in enumerate(TYPES)
    }


def hub_config(emu: Emulator, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {
        backend: {
            **entry,
            "timeout": args.timeout,
            "poll_interval": 1.0 / args.speed,
            "poll_max": 30.0 / args.speed,
        }
        for backend, entry in emu.hub_config().items()
    }


def submit(emu: Emulator, args: argparse.Namespace, rng: random.Random, count: int) -> list[str]:
    pixxel = [w.name for w in emu.backends["pixxel"].workflows.values()]  # type: ignore[attr-defined]
    refs = []
    for index in range(count):
        backend = TYPES[index % len(TYPES)]
        workflow = pixxel[(index // 3) % len(pixxel)] if backend == "pixxel" else None
        duration = rng.uniform(1.0, args.span)
        refs.append(f"{backend}:{emu.submit(backend, duration=duration, workflow=workflow)}")
    return refs


def check(emu: Emulator, jobs: list[Job], done: Round) -> None:
    for job in jobs:
        truth = emu.backends[job.type].final_state(job.id)
        if job.state.value == truth:
            done.matched += 1
        else:
            done.mismatched.append(f"{job.ref}: seen {job.state.value}, truth {truth}")


def wait_both_ways(
    emu: Emulator, refs: list[str], args: argparse.Namespace, unhandled: list[str]
) -> list[Job]:
    """The even refs by a sync `wait_all` in a thread, the odd ones by `as_completed` here."""
    config = hub_config(emu, args)
    deadline = args.span / args.speed * 4 + 120
    synced: list[Job] = []

    def sync_half() -> None:
        try:
            with Hub(config) as hub:
                synced.extend(hub.wait_all(refs[0::2], timeout=deadline))
        except Exception as exc:
            unhandled.append(f"Hub.wait_all: {type(exc).__name__}: {exc}")

    async def async_half() -> list[Job]:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: unhandled.append(f"asyncio: {context.get('message')}")
        )
        ended: list[Job] = []
        try:
            async with AsyncHub(config) as hub:
                async for job in hub.as_completed(refs[1::2], timeout=deadline):
                    ended.append(job)
        except Exception as exc:
            unhandled.append(f"AsyncHub.as_completed: {type(exc).__name__}: {exc}")
        return ended

    waiter = threading.Thread(target=sync_half, name="sync-waiter")
    waiter.start()
    ended = asyncio.run(async_half())
    waiter.join()
    return synced + ended


def run(args: argparse.Namespace, *, faulty: bool) -> Result:
    """`args.rounds` rounds, each on a fresh emulator (so the emulator's own store of jobs does
    not grow from round to round and what grows is the client's)."""
    result = Result(faults=faulty)
    rng = random.Random(args.seed)
    with catching_unhandled(result.unhandled):
        result.rss_start = settled_rss_mib()
        with sampling(result.samples, args.sample_every):
            for index in range(args.rounds):
                done = Round(jobs=args.jobs)
                with CountingEmulator(
                    TYPES, seed=args.seed + index, speed=args.speed, await_hold=args.hold
                ) as emu:
                    refs = submit(emu, args, rng, args.jobs)
                    emu.requests.clear()  # count only what the waiters send
                    faults = faults_for(args) if faulty else {}
                    emu.faults.update(faults)
                    started = time.monotonic()
                    check(emu, wait_both_ways(emu, refs, args, result.unhandled), done)
                    done.wall = time.monotonic() - started
                    done.requests = Counter(emu.requests)
                    for backend_faults in faults.values():
                        done.injected.update(backend_faults.injected)
                done.rss_end = settled_rss_mib()
                result.rounds.append(done)
    return result


# -- the report ------------------------------------------------------------------------------------


def growth(result: Result) -> float:
    """RSS after the last round less RSS after the first (the first pays for imports, caches
    and pools once), MiB."""
    return result.rounds[-1].rss_end - result.rounds[0].rss_end if result.rounds else 0.0


def table(faulty: Result, clean: Result, args: argparse.Namespace) -> str:
    ratio = faulty.requests / max(1, clean.requests)
    lines = [
        f"{args.jobs} jobs x {args.rounds} rounds over {', '.join(TYPES)} (each ending within "
        f"{args.span:g} emulated s); emulator {args.speed:g}x; every fault kind at "
        f"{args.fault_rate:.0%} of answers; timeout {args.timeout:g} s; seed {args.seed}",
        "",
        "| | with faults | without | target |",
        "| --- | ---: | ---: | --- |",
        f"| jobs ending in their true state | {faulty.matched} / {faulty.jobs} "
        f"| {clean.matched} / {clean.jobs} | all |",
        f"| unhandled exceptions | {len(faulty.unhandled)} | {len(clean.unhandled)} | none |",
        f"| requests received | {faulty.requests} | {clean.requests} "
        f"| ≤ 2× without ({ratio:.2f}×) |",
    ]
    injected = faulty.injected
    kinds = ", ".join(f"{kind} {injected[kind]}" for kind in FAULT_KINDS)
    lines.append(f"| faults injected | {sum(injected.values())} ({kinds}) | 0 | |")
    for backend in TYPES:
        with_faults = sum(r.requests[backend] for r in faulty.rounds)
        without = sum(r.requests[backend] for r in clean.rounds)
        lines.append(f"| … {backend} | {with_faults} | {without} | |")
    lines += [
        f"| wall time, s | {sum(r.wall for r in faulty.rounds):.1f} "
        f"| {sum(r.wall for r in clean.rounds):.1f} | |",
        f"| RSS at start, MiB | {faulty.rss_start:.0f} | {clean.rss_start:.0f} | |",
    ]
    for index, (f, c) in enumerate(zip(faulty.rounds, clean.rounds, strict=True), 1):
        lines.append(f"| RSS after round {index}, MiB | {f.rss_end:.0f} | {c.rss_end:.0f} | |")
    lines += [
        f"| RSS peak sampled, MiB | {max(m for _, m in faulty.samples or [(0, 0)]):.0f} "
        f"| {max(m for _, m in clean.samples or [(0, 0)]):.0f} | |",
        f"| RSS growth, round 1 to {len(faulty.rounds)}, MiB | {growth(faulty):+.0f} "
        f"| {growth(clean):+.0f} | ≈ 0 |",
    ]
    for line in (faulty.mismatched + faulty.unhandled + clean.mismatched + clean.unhandled)[:20]:
        lines.append(f"  ! {line}")
    return "\n".join(lines)


def rss_over_time(result: Result, points: int = 12) -> str:
    samples = result.samples
    if not samples:
        return ""
    step = max(1, len(samples) // points)
    shown = samples[::step]
    return "RSS over the faulty run (s: MiB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in shown)


def passed(faulty: Result, clean: Result) -> bool:
    return (
        faulty.matched == faulty.jobs
        and clean.matched == clean.jobs
        and not faulty.unhandled
        and not clean.unhandled
        and faulty.requests <= 2 * clean.requests
    )


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    options.add_argument("--jobs", type=int, default=2000, help="jobs per round")
    options.add_argument("--rounds", type=int, default=3, help="waits on fresh jobs, in turn")
    options.add_argument("--span", type=float, default=60.0, help="emulated seconds jobs run")
    options.add_argument("--speed", type=float, default=10.0, help="emulated s per real s")
    options.add_argument("--fault-rate", type=float, default=0.33, help="share of answers")
    options.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    options.add_argument("--hold", type=float, default=5.0, help="long-poll hold, real s")
    options.add_argument("--sample-every", type=float, default=1.0, help="RSS sampling, s")
    options.add_argument("--seed", type=int, default=1)
    options.add_argument("--quick", action="store_true", help="200 jobs, one round")
    return options


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.jobs, args.rounds = 200, 1
    faulty = run(args, faulty=True)
    clean = run(args, faulty=False)
    print(table(faulty, clean, args))
    print(rss_over_time(faulty))
    return 0 if passed(faulty, clean) else 1


if __name__ == "__main__":
    sys.exit(main())
