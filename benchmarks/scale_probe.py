"""Where `benchmarks.scale`'s detection lag comes from (`-- --probe`): instruments jobhub's
waiting engine in the contender's process and splits each job's lag into its phases.

In the child (`install`, before the wait starts):

- a loop-lag probe: a task that sleeps 50 ms again and again and records how late it wakes
  (the event loop blocked by a long synchronous step: a parse, models for many jobs);
- every request the engine sends: its backend, rank (`jobhub.waiting.slots`), whether it was a
  held long-poll, how long it waited for a request slot and how long it took once sent;
- every pass over a listing (Pixxel's workflow listings, Sieve's open-jobs listing): its pages
  and how long it took;
- every run of the cyclic garbage collector: its generation, when and how long it took;
- for each job seen ended: when its follower was woken (a listing saw it move) and by what
  request the end was seen, when that request was asked for and answered, when the engine
  queued the event.

The parent (`report`) reads those against each job's recorded end (emulated time) and prints,
per backend, the lag's phases at p50/p99/max and the slowest jobs' phases.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import time
from collections import Counter, defaultdict
from typing import Any

__all__ = ["collected", "install", "report"]

_probe: dict[str, Any] = {
    "loop_lag": [],  # seconds late, per 50 ms sleep
    "late": [],  # [asked, seconds late] of sleeps more than 0.25 s late
    "requests": [],  # [backend, rank, hold, path, asked, sent, answered]
    "passes": [],  # [backend, what, started, ended, pages]
    "ends": {},  # key → {woken, asked, sent, answered, rank, hold, path, accepted}
    "collections": [],  # [generation, started, seconds, unreachable objects found]
    "garbage_left": None,  # unreachable objects a full collection finds when the wait ends
}
_pages: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("pages", default=None)
_woken_at: dict[int, float] = {}  # id of a job's wake → when it was last set
_first: contextvars.ContextVar[bool] = contextvars.ContextVar("first", default=False)
_last: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("last", default=None)


def _path(call: Any) -> str:
    """A request's endpoint, ids dropped (`/v2/jobs/{id}` → `/v2/jobs/*`)."""
    parts = call.request.url.path.split("/")
    kept = [p if not any(c.isdigit() for c in p) or p.startswith("v") else "*" for p in parts]
    return "/".join(kept)[:60]


_collecting: list[float] = []  # when the collection under way started


def _timed_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _collecting[:] = [time.monotonic()]
    elif _collecting:
        started = _collecting.pop()
        took = time.monotonic() - started
        _probe["collections"].append([info["generation"], started, took, info["collected"]])


def install() -> None:
    gc.callbacks.append(_timed_collection)
    from jobhub.waiting import engine as engine_module
    from jobhub.waiting import first_look, open_listing, polling, slots

    Engine = engine_module.Engine
    send, accept = Engine.send, Engine.accept
    clock = time.monotonic

    async def timed_send(self: Any, backend: Any, call: Any, **kw: Any) -> Any:
        asked = clock()
        record = [backend.name, kw.get("rank", 0), kw.get("hold", False), _path(call), asked]
        record += [asked, asked if kw.get("hold", False) else None, _first.get()]
        _last.set(record)
        pages = _pages.get()
        if pages is not None and not kw.get("hold", False):
            pages[0] += 1
        try:
            return await send(self, backend, call, **kw)
        finally:
            record[6] = clock()
            _probe["requests"].append(record)

    def noted_accept(self: Any, followed: Any, job: Any, *, full: bool = True) -> bool:
        if job.state.terminal and not followed.ended:
            last = _last.get()
            _probe["ends"][followed.key] = {
                "woken": _woken_at.get(id(followed.wake)),
                "request": list(last) if last is not None else None,
                "accepted": clock(),
                "full": full,
            }
        return accept(self, followed, job, full=full)

    get = Engine.get

    async def noted_get(self: Any, backend: Any, followed: Any, backoff: Any, **kw: Any) -> Any:
        _first.set(followed.last_view is None)
        try:
            return await get(self, backend, followed, backoff, **kw)
        finally:
            _first.set(False)

    Engine.get = noted_get  # type: ignore[method-assign]
    Engine.send = timed_send  # type: ignore[method-assign]
    Engine.accept = noted_accept  # type: ignore[method-assign]

    acquire = slots.Slots.acquire

    async def noted_acquire(self: Any, rank: int, **k: Any) -> bool:
        backstop = await acquire(self, rank, **k)
        record = _last.get()
        if record is not None:
            record[5] = clock()
        return backstop

    slots.Slots.acquire = noted_acquire  # type: ignore[method-assign]

    wake_set = slots.Wake.set

    def noted_set(self: Any) -> None:
        if not self.is_set():
            _woken_at[id(self)] = clock()
        wake_set(self)

    slots.Wake.set = noted_set  # type: ignore[method-assign]

    def timed_pass(module: Any, name: str, what: str) -> None:
        original = getattr(module, name)

        async def timed(engine: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
            started = clock()
            pages = [0]
            _pages.set(pages)
            try:
                return await original(engine, backend, *args, **kwargs)
            finally:
                _pages.set(None)
                _probe["passes"].append([backend.name, what, started, clock(), pages[0]])

        setattr(module, name, timed)

    timed_pass(polling, "list_jobs", "workflow listing")
    timed_pass(first_look, "_read", "first look")
    timed_pass(open_listing, "_list", "open-jobs listing (one state)")


async def loop_lag() -> None:
    """Record how late each 50 ms sleep wakes, until cancelled."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(0.05)
        woke = time.monotonic()
        _probe["loop_lag"].append(woke - asked - 0.05)
        if woke - asked - 0.05 > 0.25:
            _probe["late"].append([asked, woke - asked - 0.05])


def collected() -> dict[str, Any]:
    gc.callbacks.remove(_timed_collection)
    _probe["garbage_left"] = gc.collect()
    return _probe


def _pct(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _label(rank: int, hold: bool) -> str:
    return "hold" if hold else ("LISTING", "WOKEN", "ROUTINE", "BACKSTOP")[rank]


def _row(values: list[float]) -> str:
    return (
        f"{len(values):,} | {_pct(values, 0.5):.3f} | {_pct(values, 0.99):.3f} | "
        f"{max(values, default=float('nan')):.3f}"
    )


def report(
    probe: dict[str, Any], seen: list[Any], ends: dict[str, float], to_emulated: Any, ready: float
) -> None:
    """Print the lag's phases. `ends`: key → recorded end (emulated); `to_emulated(kind, t)`;
    `ready`: when the contender was ready (a job that ended before counts from then)."""
    lag = probe["loop_lag"]
    print("\n#### probe: the event loop (how late a 50 ms sleep woke, s)\n")
    print("| sleeps | p50 | p99 | max | late > 0.25 s | late > 1 s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {_row(lag)} | {sum(x > 0.25 for x in lag)} | {sum(x > 1 for x in lag)} |")
    late = ", ".join(f"{late:.2f} s at {at - ready:.0f} s" for at, late in probe["late"][:30])
    print(f"\nlate sleeps (seconds after ready): {late or 'none'}")

    print("\n#### probe: the cyclic garbage collector (seconds per collection)\n")
    print("| generation | collections | p50 | p99 | max | in all | unreachable objects found |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for generation in (0, 1, 2):
        runs = [(t, found) for g, _, t, found in probe["collections"] if g == generation]
        took = [t for t, _ in runs]
        print(f"| {generation} | {_row(took)} | {sum(took):.2f} | {sum(f for _, f in runs):,} |")
    full = ", ".join(
        f"{took:.2f} s at {at - ready:.0f} s ({found:,} found)"
        for g, at, took, found in probe["collections"]
        if g == 2
    )
    print(f"\nfull collections (seconds after ready): {full or 'none'}")
    print(f"\na full collection once the wait ended found {probe['garbage_left']:,} objects")

    print("\n#### probe: requests (slot wait and time to answer, s)\n")
    print(
        "| backend | rank | endpoint | count | wait p50 | wait p99 | wait max | answer p50 "
        "| answer p99 | answer max |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    groups: defaultdict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for name, rank, hold, path, asked, sent, answered, first in probe["requests"]:
        label = _label(rank, hold) + (" (first look)" if first else "")
        groups[(name, label, path)].append((asked, sent or answered, answered))
    for (name, label, path), rows in sorted(groups.items()):
        waits = [s - a for a, s, _ in rows]
        answers = [e - s for _, s, e in rows]
        print(
            f"| {name} | {label} | {path} | {len(rows):,} | {_pct(waits, 0.5):.3f} "
            f"| {_pct(waits, 0.99):.3f} | {max(waits):.3f} | {_pct(answers, 0.5):.3f} "
            f"| {_pct(answers, 0.99):.3f} | {max(answers):.3f} |"
        )

    print("\n#### probe: the first 6 s, per half second after ready\n")
    print("requests answered (a hold: opened), and how late the loop woke at most\n")
    counts: Counter[tuple[int, str, str]] = Counter()
    for name, rank, hold, _, asked, _, answered, _ in probe["requests"]:
        at = asked if hold else answered
        if at is not None and 0 <= at - ready < 6:
            counts[(int((at - ready) * 2), name, _label(rank, hold))] += 1
    kinds = sorted({(name, label) for _, name, label in counts})
    print("| from | " + " | ".join(f"{n} {k}" for n, k in kinds) + " | loop late max |")
    print("| ---: |" + " ---: |" * (len(kinds) + 1))
    for step in range(12):
        low = ready + step / 2
        most = max((by for at, by in probe["late"] if low <= at < low + 0.5), default=0.0)
        cells = " | ".join(str(counts[(step, name, label)]) for name, label in kinds)
        print(f"| {step / 2:.1f} | {cells} | {most:.2f} |")

    print("\n#### probe: listing passes (s, pages per pass)\n")
    for name, what, started, ended, pages in probe["passes"]:
        if what == "first look":
            span = f"{started - ready:.1f} → {ended - ready:.1f} s"
            print(f"- first look {name}: {span} after ready, {pages} pages")
    print()
    print("| backend | what | passes | p50 s | p99 s | max s | pages p50 | pages max |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    passes: defaultdict[tuple[str, str], list[Any]] = defaultdict(list)
    for name, what, started, ended, pages in probe["passes"]:
        passes[(name, what)].append((ended - started, pages))
    for (name, what), rows in sorted(passes.items()):
        took = [t for t, _ in rows]
        pages_read = [float(p) for _, p in rows]
        print(
            f"| {name} | {what} | {len(rows):,} | {_pct(took, 0.5):.2f} | {_pct(took, 0.99):.2f} "
            f"| {max(took):.2f} | {_pct(pages_read, 0.5):.0f} | {max(pages_read):.0f} |"
        )

    # Phases per job seen ended, in emulated seconds from its end.
    print("\n#### probe: the lag's phases per job seen ended (emulated s)\n")
    print(
        "phases: end → woken (a listing showed it), → its GET asked, → slot, → answered "
        "(seen ended), → yielded by as_completed\n"
    )
    yielded = {ref: at for ref, _, at in seen}
    by_kind: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    slowest: list[tuple[float, str, dict[str, float]]] = []
    by_time: defaultdict[str, list[float]] = defaultdict(list)
    for key, end in ends.items():
        kind = key.split(":", 1)[0]
        began = to_emulated(kind, ready)
        end = max(end, began)
        noted = probe["ends"].get(key)
        if noted is None or key not in yielded:
            continue
        em = functools.partial(to_emulated, kind)
        request = noted["request"]
        rank = "none" if request is None else ("hold" if request[2] else str(request[1]))
        rank += " first" if request is not None and request[7] else ""
        phases = {
            "end→answered": em(noted["accepted"]) - end,
            "answered→yielded": em(yielded[key]) - em(noted["accepted"]),
        }
        if request is not None:
            phases["slot wait"] = em(request[5] or request[6]) - em(request[4])
            phases["answer"] = em(request[6]) - em(request[5] or request[6])
            phases["end→asked"] = em(request[4]) - end
        woken = noted["woken"]
        if woken is not None and (request is None or woken <= request[4] + 1e-6):
            phases["end→woken"] = em(woken) - end
            if request is not None:
                phases["woken→asked"] = em(request[4]) - em(woken)
        by = by_kind[f"{kind} via {rank}"]
        for name, value in phases.items():
            by[name].append(value)
        slowest.append((em(yielded[key]) - end, f"{key} via {rank}", phases))
        since = end - began
        bucket = "first 15 s" if since < 15 else ("15-30 s" if since < 30 else "after 30 s")
        by_time[f"{kind}, ended {bucket}"].append(em(yielded[key]) - end)
        by_time[f"all, ended {bucket}"].append(em(yielded[key]) - end)
    print("| backend, seen by | phase | jobs | p50 | p99 | max |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label, phases_of in sorted(by_kind.items()):
        for name, values in phases_of.items():
            print(f"| {label} | {name} | {_row(values)} |")
    print("\n| lag by when the job ended (after ready) | jobs | p50 | p99 | max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, values in sorted(by_time.items()):
        print(f"| {label} | {_row(values)} |")
    print("\nslowest 12 (lag: phases)")
    for total, label, phases in sorted(slowest, reverse=True)[:12]:
        shown = ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
        print(f"- {total:.2f} s {label}: {shown}")
