"""`jobhub watch REF... | --backend NAME`: follow jobs' changes live."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode
from jobhub.commands._args import seconds

HELP = "follow jobs' changes live (given refs, or every job of a backend)"
DESCRIPTION = """\
Show each change as it happens: on a terminal a table updated in place, when piped one
line per change, with --json one JobEvent per line (JSON Lines). With refs it ends when
every job has ended; with --backend NAME it follows that backend's jobs until Ctrl-C or
--timeout. Exit status 0 whatever the jobs' outcome (use `wait` to test it).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="*", metavar="REF", help="job ref, e.g. sieve:1234")
    parser.add_argument("--backend", metavar="NAME", help="follow every job of this backend")
    parser.add_argument("--timeout", type=seconds, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, open_hub
    from jobhub.commands._follow import follow
    from jobhub.model import JobRef
    from jobhub.render import JobBoard

    if bool(args.refs) == bool(args.backend):
        print(
            "jobhub: watch takes job refs or --backend NAME, one of the two — "
            "see `jobhub watch --help`",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    refs = list(dict.fromkeys(str(JobRef.parse(ref)) for ref in args.refs))
    with open_hub(args) as hub:
        events = hub.watch(refs or None, backend=args.backend, timeout=args.timeout)
        follow(events, JobBoard(refs), json_output=args.json, out=console())
    return ExitCode.OK
