"""`jobhub cancel REF`: ask the backend to cancel a job."""

from __future__ import annotations

import argparse

from jobhub.commands import ExitCode

HELP = "ask the backend to cancel a job"
DESCRIPTION = """\
Ask the backend to cancel a job. The request returns once the backend accepted it; the
job may take a moment to end (`jobhub wait REF` to follow it). Exits 3 when the job has
already finished or the backend has no cancel (Pixxel).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="job ref, e.g. ci:52a5cb79-...")


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, open_hub, print_json
    from jobhub.model import JobRef

    ref = JobRef.parse(args.ref)
    with open_hub(args) as hub:
        hub.cancel(ref)
    if args.json:
        print_json({"ref": str(ref), "cancel_requested": True})
    else:
        from jobhub.render import plain

        console().print(plain(f"cancel requested for {ref}"))
    return ExitCode.OK
