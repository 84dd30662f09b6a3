"""`python -m benchmarks [NAME ...] [--quick] [-- OPTION ...]`: run the benchmarks named, or
all of them, in one process, one after the other.

    python -m benchmarks                    every benchmark
    python -m benchmarks normalize bulk     the ones named
    python -m benchmarks --quick            a smoke run: fewer rounds, smaller payloads
    python -m benchmarks waiting -- --jobs 300 --speed 10
                                            options after `--` go to each benchmark named

Each benchmark is a module of this package with a `main(argv)` entry point.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import sys
import time
from collections.abc import Sequence

from benchmarks import format_seconds

# In the order they run; a benchmark module that is not there is skipped.
BENCHMARKS = (
    "normalize",
    "bulk",
    "startup",
    "memory",
    "waiting",
    "scale",
    "soak",
    "serve",
    "nodes",
)

# What `--quick` means to each benchmark, in its own options.
QUICK = {"waiting": ["--jobs", "200", "--speed", "10"]}


def available() -> list[str]:
    return [name for name in BENCHMARKS if importlib.util.find_spec(f"benchmarks.{name}")]


def run(name: str, argv: list[str]) -> int:
    """Run one benchmark's `main(argv)`; its exit status (0 when it returns None)."""
    module = importlib.import_module(f"benchmarks.{name}")
    entry = getattr(module, "main", None)
    if entry is None:
        print(f"benchmarks.{name} has no main(argv) to run", file=sys.stderr)
        return 1
    status = entry(argv)
    return status if isinstance(status, int) else 0


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    passed: list[str] = []
    if "--" in args:
        at = args.index("--")
        args, passed = args[:at], args[at + 1 :]
    names = [arg for arg in args if not arg.startswith("-")]
    options = [arg for arg in args if arg.startswith("-")]
    known = available()
    unknown = [name for name in names if name not in known]
    bad = [option for option in options if option != "--quick"]
    if unknown or bad:
        print((__doc__ or "").strip(), file=sys.stderr)
        print(f"\nbenchmarks: {', '.join(known)}", file=sys.stderr)
        return 0 if set(bad) <= {"-h", "--help"} and not unknown else 2
    quick = "--quick" in options
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.machine()} {platform.system()}; medians over repeated rounds",
        flush=True,
    )
    failed = 0
    for name in names or known:
        started = time.perf_counter()
        extra = (QUICK.get(name, ["--quick"]) if quick else []) + passed
        failed |= run(name, extra)
        print(f"\n({name}: {format_seconds(time.perf_counter() - started)})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
