"""`jobhub watch REF... | --backend NAME`: follow jobs' changes live."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode
from jobhub.commands._args import Once, wait_seconds
from jobhub.commands._output import add_output_option

HELP = "follow jobs' changes live (given refs, or every job of a backend)"
DESCRIPTION = """\
Show each change as it happens: on a terminal a table updated in place, when piped one
line per change. `-o jsonl` prints one JobEvent per line as it happens, `-o json` (or
--json) one array of the jobs' last states at the end, `-o name` each ref as its job ends.
REF `-` reads refs from stdin. With refs it ends when
every job has ended; with --backend NAME it follows that backend's jobs until Ctrl-C or
--timeout. Exit status 0 whatever the jobs' outcome (use `wait` to test it).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="*", metavar="REF", help="job ref, e.g. sieve:1234")
    parser.add_argument(
        "--backend", action=Once, metavar="NAME", help="follow every job of this backend"
    )
    parser.add_argument(
        "--timeout", action=Once, type=wait_seconds, metavar="S", help="stop after S seconds"
    )
    add_output_option(parser)


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, job_refs, open_hub, time_zone
    from jobhub.commands._follow import follow
    from jobhub.commands._output import output_format
    from jobhub.render import JobBoard

    fmt = output_format(args)

    if bool(args.refs) == bool(args.backend):
        print(
            "jobhub: watch takes job refs or --backend NAME, one of the two — "
            "see `jobhub watch --help`",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    refs = job_refs(args.refs)
    with open_hub(args) as hub:
        events = hub.watch(refs or None, backend=args.backend, timeout=args.timeout)
        follow(events, JobBoard(refs), fmt=fmt, out=console(), tz=time_zone(args))
    return ExitCode.OK
