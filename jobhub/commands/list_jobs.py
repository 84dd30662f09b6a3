"""`jobhub list NAME`: a backend's jobs, newest first where the backend orders them."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import STATES, ExitCode
from jobhub.commands._args import count

HELP = "list a backend's jobs (a table; --json for a JSON array)"
DESCRIPTION = """\
List the jobs of one configured backend, filtered by state and workflow. Pages are
fetched until --limit jobs are shown. With --json the output is one JSON array of Job
documents (one per line inside the array).
"""

DEFAULT_LIMIT = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="configured backend name (see `backends`)")
    parser.add_argument(
        "--state",
        choices=STATES,
        metavar="STATE",
        help=f"only jobs in this state: {', '.join(STATES)}",
    )
    parser.add_argument(
        "--workflow",
        metavar="W",
        help="only runs of this workflow (Sieve owner/function, Pixxel workflow id, "
        "prunner pipeline)",
    )
    parser.add_argument(
        "--limit",
        type=count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N jobs (default {DEFAULT_LIMIT}; 0 for no limit)",
    )


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, open_hub

    limit = args.limit or None
    with open_hub(args) as hub:
        jobs = hub.list(args.name, state=args.state, workflow=args.workflow, limit=limit)
        if args.json:
            # Streamed as pages arrive; still one JSON array.
            sys.stdout.write("[")
            for index, job in enumerate(jobs):
                sys.stdout.write(("\n" if index == 0 else ",\n") + job.model_dump_json())
            sys.stdout.write("\n]\n")
            sys.stdout.flush()
            return ExitCode.OK
        from jobhub.render import jobs_table

        found = list(jobs)
        out = console()
        if found:
            out.print(jobs_table(found))
        else:
            print(f"jobhub: no jobs on {args.name!r} match", file=sys.stderr)
    return ExitCode.OK
