"""`jobhub list [NAME...]`: jobs of one, several or every configured backend, merged, newest
first."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from itertools import islice
from typing import TYPE_CHECKING

from jobhub.commands import STATES, ExitCode, error_line, exit_code
from jobhub.commands._args import Once, StateList, count, since
from jobhub.commands._output import add_output_option

if TYPE_CHECKING:
    from jobhub.hub import Hub
    from jobhub.model import Job

HELP = "list jobs of every backend, or of those named (a table; -o json for a JSON array)"
DESCRIPTION = """\
List jobs, newest first: of the backends named, else of every configured backend, merged.
Filters combine (AND); several states are OR-ed: `--state running,queued --state FAILED`.
At most --limit jobs are shown (newest first, then sorted by --sort); when more matched,
stderr says so. A backend that cannot be listed is named on stderr, the others are shown,
and the exit status is that error's.

Output (-o): table (ref, workflow, state, progress, age, duration), wide (also user, created,
finished, tasks, error), json (one array of Job documents), jsonl (one Job per line), name
(one ref per line: `jobhub list -o name --state running | jobhub cancel -`).
"""

DEFAULT_LIMIT = 50
SORTS = ("created", "finished", "duration")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="configured backend names (default: every one)"
    )
    parser.add_argument(
        "--state",
        action=StateList,
        metavar="STATE",
        help=f"only jobs in these states (repeatable, comma-separated): {', '.join(STATES)}",
    )
    parser.add_argument(
        "--workflow",
        action=Once,
        metavar="W",
        help="only runs of this workflow (Sieve owner/function, Pixxel workflow id, "
        "prunner pipeline)",
    )
    parser.add_argument(
        "--since",
        action=Once,
        type=since,
        metavar="WHEN",
        help="only jobs created since WHEN: 90s, 30m, 2h, 1d, or a date/time like 2026-11-30",
    )
    parser.add_argument("--user", action=Once, metavar="U", help="only jobs started by this user")
    parser.add_argument(
        "--sort",
        action=Once,
        choices=SORTS,
        default="created",
        help="newest created first (default), last finished first, or longest first",
    )
    parser.add_argument("--reverse", action="store_true", help="reverse the order")
    parser.add_argument(
        "--limit",
        action=Once,
        type=count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N jobs (default {DEFAULT_LIMIT}; 0 for no limit)",
    )
    add_output_option(parser)


def sort_key(sort: str) -> Callable[[Job], tuple[bool, float]]:
    """Largest first; jobs without the value last."""
    from datetime import UTC

    from jobhub.render import elapsed

    def key(job: Job) -> tuple[bool, float]:
        value: datetime | float | None
        if sort == "duration":
            value = elapsed(job, datetime.now(UTC))
        else:
            value = job.finished_at if sort == "finished" else job.created_at
        if value is None:
            return (True, 0.0)
        return (False, -(value.timestamp() if isinstance(value, datetime) else value))

    return key


def matching(args: argparse.Namespace, jobs: Iterable[Job]) -> Iterator[Job]:
    for job in jobs:
        if args.state and job.state.value not in args.state:
            continue
        if args.user is not None and job.user != args.user:
            continue
        if args.since is not None and (job.created_at is None or job.created_at < args.since):
            continue
        yield job


def collect(hub: Hub, name: str, args: argparse.Namespace) -> list[Job]:
    """Up to --limit + 1 matching jobs of one backend (one more tells whether the limit cut)."""
    single = args.state[0] if args.state and len(args.state) == 1 else None
    jobs = hub.list(name, state=single, workflow=args.workflow)  # pages fetched as needed
    found = matching(args, jobs)
    return list(islice(found, args.limit + 1) if args.limit else found)


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import open_hub, time_zone
    from jobhub.commands._output import output_format
    from jobhub.errors import JobHubError

    fmt = output_format(args)
    failed: JobHubError | None = None
    jobs: list[Job] = []
    with open_hub(args) as hub:
        names = list(dict.fromkeys(args.names)) or sorted(hub.backends)
        for name in names:
            hub.adapter(name)  # every name checked before any request
        for name in names:
            try:
                jobs.extend(collect(hub, name, args))
            except JobHubError as exc:
                if len(names) == 1:
                    raise
                failed = failed or exc
                report(exc, name, fmt)
    jobs.sort(key=sort_key("created"))  # the newest, whatever each backend's order
    more = bool(args.limit) and len(jobs) > args.limit
    if more:
        jobs = jobs[: args.limit]
    jobs.sort(key=sort_key(args.sort))
    if args.reverse:
        jobs.reverse()
    show(jobs, fmt, names=names, tz=time_zone(args))
    if more and fmt not in ("json", "jsonl"):
        print(
            f"jobhub: showing the newest {args.limit} job{'s' if args.limit > 1 else ''}; "
            "more available: raise --limit "
            "(0 for no limit) or narrow the filters",
            file=sys.stderr,
        )
    return ExitCode.OK if failed is None else exit_code(failed)


def report(exc: Exception, name: str, fmt: str) -> None:
    """One backend's failure, named, on stderr (a JSON record under -o json|jsonl)."""
    if fmt in ("json", "jsonl"):
        from jobhub.commands._output import error_record

        print(error_record(exc, exit_code(exc), name=name), file=sys.stderr)
    else:
        from jobhub.terminal import printable

        print(
            error_line(exc).replace("jobhub: ", f"jobhub: {printable(name)}: ", 1), file=sys.stderr
        )


def show(jobs: list[Job], fmt: str, *, names: list[str], tz: tzinfo | None) -> None:
    if fmt in ("table", "wide"):
        from jobhub.commands._common import console
        from jobhub.render import jobs_table

        if jobs:
            console().print(jobs_table(jobs, wide=fmt == "wide", tz=tz))
        elif not names:
            print(
                "jobhub: no backends configured — write [backends.<name>] tables in jobhub.toml "
                "(or pass --config FILE), or see `jobhub backends`",
                file=sys.stderr,
            )
        else:
            print(f"jobhub: no jobs on {', '.join(map(repr, names))} match", file=sys.stderr)
        return
    from jobhub.commands._output import Items

    items = Items(fmt)
    for job in jobs:
        items.add_job(job)
    items.close()
