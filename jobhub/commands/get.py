"""`jobhub get REF...`: jobs' current state; each job's tasks as a dependency tree."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode, error_line, exit_code

HELP = "show jobs: fields, state and tasks (a tree in dependency order)"
DESCRIPTION = """\
Show the current state of one or more jobs. A ref is "<backend name>:<id>"
(Pixxel ids are "<workflow_id>/<job_id>").

With --json each job is printed as its Job document (see `jobhub schema`), one per
line in the order given (JSON Lines): one ref prints exactly one document.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="+", metavar="REF", help="job ref, e.g. sieve:1234")


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, open_hub, print_json_line
    from jobhub.commands._text import printable
    from jobhub.errors import JobHubError
    from jobhub.model import JobRef

    refs = [JobRef.parse(ref) for ref in args.refs]  # every ref checked before any request
    out = None if args.json else console()
    failed: JobHubError | None = None
    with open_hub(args) as hub:
        for index, ref in enumerate(refs):
            try:
                job = hub.get(ref)
            except JobHubError as exc:
                if len(refs) == 1:
                    raise
                # Several refs: report this one, naming it, and carry on with the others.
                named = error_line(exc).replace("jobhub: ", f"jobhub: {printable(ref)}: ", 1)
                print(named, file=sys.stderr)
                failed = failed or exc
                continue
            if out is None:
                print_json_line(job)
            else:
                from jobhub.render import job_detail

                if index:
                    out.print()
                out.print(job_detail(job))
    if failed is not None:
        return exit_code(failed)
    return ExitCode.OK
