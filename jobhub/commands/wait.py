"""`jobhub wait REF...`: wait until jobs end; the exit code says how they ended."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from jobhub.commands import ExitCode
from jobhub.commands._args import seconds

if TYPE_CHECKING:
    from jobhub.errors import WaitTimeout
    from jobhub.hub import Hub

HELP = "wait for jobs to end (exit 0 all succeeded, 1 one did not, 4 timeout)"
DESCRIPTION = """\
Wait until every job has ended, showing changes as they happen: on a terminal a table
updated in place, when piped one line per change, with --json one JobEvent per line
(JSON Lines). Exit status: 0 every job succeeded, 1 one ended failed, cancelled or
skipped, 3 a backend error, 4 --timeout passed first (with --cancel-on-timeout the jobs
still open are asked to cancel; a backend without cancel is named in the message).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="+", metavar="REF", help="job ref, e.g. sieve:1234")
    parser.add_argument(
        "--timeout", type=seconds, metavar="S", help="give up after S seconds (exit 4)"
    )
    parser.add_argument(
        "--cancel-on-timeout",
        action="store_true",
        help="on timeout, ask the backends to cancel the jobs that have not ended",
    )


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, open_hub
    from jobhub.commands._follow import follow
    from jobhub.errors import WaitTimeout
    from jobhub.model import JobRef, JobState
    from jobhub.render import JobBoard, summary_line

    refs = list(dict.fromkeys(str(JobRef.parse(ref)) for ref in args.refs))
    board = JobBoard(refs)
    out = console()
    with open_hub(args) as hub:
        try:
            follow(hub.watch(refs, timeout=args.timeout), board, json_output=args.json, out=out)
        except WaitTimeout as exc:
            if args.cancel_on_timeout:
                raise cancel_open(hub, exc) from None
            raise
    jobs = board.jobs()
    if not args.json:
        out.print(summary_line(jobs))
    ok = len(jobs) == len(refs) and all(job.state is JobState.SUCCEEDED for job in jobs)
    return ExitCode.OK if ok else ExitCode.JOB_FAILED


def cancel_open(hub: Hub, timeout: WaitTimeout) -> WaitTimeout:
    """Ask each backend to cancel the jobs a timed-out wait left open; the same timeout, its
    message saying what was cancelled and what could not be."""
    from jobhub.errors import JobAlreadyFinished, JobHubError, NotSupported

    cancelled: list[str] = []
    problems: list[str] = []
    for ref in timeout.pending:
        try:
            hub.cancel(ref)
        except JobAlreadyFinished:
            continue  # it ended on its own meanwhile
        except NotSupported:
            problems.append(f"{ref} not cancelled: its backend has no cancel")
        except JobHubError as exc:
            problems.append(f"cancelling {ref} failed: {exc}")
        else:
            cancelled.append(ref)
    note = "; ".join([f"cancel requested for {len(cancelled)}", *problems])
    head, dash, hint = timeout.message.rpartition(" — ")
    message = f"{head}; {note}{dash}{hint}" if dash else f"{timeout.message}; {note}"
    return type(timeout)(message, pending=timeout.pending)
