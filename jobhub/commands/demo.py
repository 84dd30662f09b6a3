"""`jobhub demo`: every emulated backend on this machine, jobs moving live."""

from __future__ import annotations

import argparse

from jobhub.commands._args import count, positive

HELP = "run jobs on emulated backends and watch them live (about half a minute)"
DESCRIPTION = """\
Start the emulated backends in this process, submit about a dozen jobs to each (some
steered to fail, one cancelled mid-run), and show them live in a table until every job
has ended, then a summary by backend and state. Needs no account and no network.
With --json the event stream is printed instead (one JobEvent per line).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed",
        type=positive,
        default=None,
        help="emulated seconds per real second (higher is shorter; default: about 30 s)",
    )
    parser.add_argument(
        "--jobs", type=count, default=12, metavar="N", help="jobs per backend (default 12)"
    )
    parser.add_argument(
        "--serve", action="store_true", help="show the jobs in `jobhub serve`'s page instead"
    )


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import require_extra, time_zone

    require_extra("emulator", "starlette", "uvicorn")
    from jobhub.demo import run as run_demo

    options = {} if args.speed is None else {"speed": args.speed}
    if args.serve:
        from jobhub.commands import ExitCode
        from jobhub.commands.serve import SERVE_MODULES

        require_extra("serve", *SERVE_MODULES)
        from jobhub.serve.demo import run as serve_demo

        interrupted = serve_demo(jobs_per_backend=args.jobs, **options)
        return ExitCode.INTERRUPTED if interrupted else ExitCode.OK
    return run_demo(
        json_output=args.json, jobs_per_backend=args.jobs, tz=time_zone(args), **options
    )
