"""`jobhub emulator`: serve the emulated backends on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from jobhub.commands import ExitCode
from jobhub.commands._args import Once, count, port, positive, rate
from jobhub.commands.completion import FILES

if TYPE_CHECKING:
    from jobhub.emulator import Emulator

HELP = "serve emulated backends locally (Sieve, Pixxel, prunner, WES, plugins'); Ctrl-C stops"
DESCRIPTION = """\
Serve local stand-ins for backends that have an emulator (the built-in ones and any a
plugin ships), each at http://HOST:PORT/<type>, and print a ready jobhub.toml for them
(--write-config FILE also writes it, readable by you alone). Jobs created through each
vendor's own create endpoint, or with --jobs N at start, move through their lives on an
emulated clock (--speed). Runs until Ctrl-C.

  jobhub emulator --jobs 3 --write-config jobhub.toml     # then, in another shell:
  jobhub list                                             # (reads ./jobhub.toml)
"""


def types(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", action=Once, help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", action=Once, type=port, help="port (default 9999; 0 picks a free one)"
    )
    parser.add_argument(
        "--types",
        action=Once,
        type=types,
        metavar="T,...",
        help="backend types to serve, e.g. sieve,pixxel,prunner,wes (default: every one "
        "that is not opt-in; wes is opt-in and needs `pip install wes-service`)",
    )
    parser.add_argument(
        "--jobs",
        action=Once,
        type=count,
        default=0,
        metavar="N",
        help="submit N jobs to each backend at start, a quarter steered to fail (default 0)",
    )
    parser.add_argument(
        "--write-config",
        action=Once,
        metavar="FILE",
        help="write the jobhub.toml for this emulator to FILE (mode 600: it holds credentials)",
    ).complete = FILES  # type: ignore[attr-defined]  # shtab: complete file names
    parser.add_argument("--seed", action=Once, type=count, help="seed for ids, plans, credentials")
    parser.add_argument(
        "--speed",
        action=Once,
        type=positive,
        metavar="X",
        help="emulated seconds per real second (default 1)",
    )
    parser.add_argument(
        "--faults",
        action=Once,
        type=rate,
        default=0.0,
        metavar="RATE",
        help="share of answers that go wrong (5xx, 429, dropped, slow, cut short); default 0",
    )


def write_private(path: str, text: str) -> None:
    """`text` into `path`, readable and writable by its owner alone, from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)  # a file that existed keeps its old mode otherwise
        file.write(text)


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import require_extra

    require_extra("emulator", "starlette", "uvicorn")
    from jobhub.emulator import Faults, config_toml, serve
    from jobhub.plugins import get_registry

    options: dict[str, Any] = {
        key: value
        for key in ("host", "port", "seed", "speed", "types")
        if (value := getattr(args, key)) is not None
    }
    if args.faults:
        seed = options.get("seed", 0)
        options["faults"] = {
            name: Faults(rate=args.faults, seed=seed)
            for name in (args.types or get_registry().emulators)
        }

    def ready(emulator: Emulator) -> None:
        if args.write_config:
            write_private(args.write_config, config_toml(emulator.hub_config()))
            print(f"\nwrote {args.write_config} (mode 600)")
        if args.jobs:
            submit_jobs(emulator, args.jobs, options.get("seed", 0))
        sys.stdout.flush()

    serve(ready=ready, **options)
    return ExitCode.OK


def submit_jobs(emulator: Emulator, jobs: int, seed: int) -> None:
    """`jobs` jobs on each served backend, planned as the demo plans them; their refs printed."""
    from jobhub.demo import plan

    planned = plan(list(emulator.backends), jobs, seed=seed)
    print(f"\nsubmitted {len(planned)} jobs:")
    for job in planned:
        job_id = emulator.submit(job.type, duration=job.duration, outcome=job.outcome)
        print(f"  {job.type}:{job_id}  ({job.duration:g} s, {job.outcome})")
