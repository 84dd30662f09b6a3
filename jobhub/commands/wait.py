"""`jobhub wait REF...`: wait until jobs end; the exit code says how they ended."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from jobhub.commands import ExitCode
from jobhub.commands._args import Once, wait_seconds
from jobhub.commands._output import add_output_option

if TYPE_CHECKING:
    from jobhub.errors import WaitTimeout
    from jobhub.hub import Hub

HELP = "wait for jobs to end (exit 0 all succeeded, 1 one did not, 4 timeout)"
DESCRIPTION = """\
Wait until every job has ended, showing changes as they happen: on a terminal a table
updated in place, when piped one line per change. `-o jsonl` prints one JobEvent per line as
it happens, `-o json` (or --json) one array of the jobs as they ended, `-o name` each ref as
its job ends. REF `-` reads refs from stdin (`jobhub list -o name | jobhub wait -`). A
backend that keeps failing is named in a warning on stderr, and again once it answers.
--timeout 0 looks once. Exit status: 0 every job succeeded, 1 one ended failed, cancelled or
skipped, 3 a backend error, 4 --timeout passed first (with --cancel-on-timeout the jobs
still open are asked to cancel; a backend without cancel is named in the message).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="+", metavar="REF", help="job ref, e.g. sieve:1234")
    parser.add_argument(
        "--timeout",
        action=Once,
        type=wait_seconds,
        metavar="S",
        help="give up after S seconds (exit 4; 0 looks once)",
    )
    parser.add_argument(
        "--cancel-on-timeout",
        action="store_true",
        help="on timeout, ask the backends to cancel the jobs that have not ended",
    )
    add_output_option(parser)


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, job_refs, open_hub, time_zone
    from jobhub.commands._follow import follow
    from jobhub.commands._output import output_format
    from jobhub.errors import WaitTimeout
    from jobhub.model import JobState
    from jobhub.render import JobBoard, summary_line

    fmt = output_format(args)
    refs = job_refs(args.refs)
    board = JobBoard(refs)
    out = console()
    with open_hub(args) as hub:
        try:
            events = hub.watch(refs, timeout=args.timeout)
            follow(events, board, fmt=fmt, out=out, tz=time_zone(args))
        except WaitTimeout as exc:
            if args.cancel_on_timeout:
                raise cancel_open(hub, exc) from None
            raise
    jobs = board.jobs()
    if fmt in ("table", "wide"):
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
