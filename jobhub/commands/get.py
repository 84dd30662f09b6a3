"""`jobhub get REF...`: jobs' current state; each job's tasks as a dependency tree."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode, error_line, exit_code
from jobhub.commands._output import add_output_option

HELP = "show jobs: fields, state and tasks (a tree in dependency order)"
DESCRIPTION = """\
Show the current state of one or more jobs. A ref is "<backend name>:<id>"
(Pixxel ids are "<workflow_id>/<job_id>"); REF `-` reads refs from stdin.

Output (-o): table (each job's fields and task tree; the default), wide (the same), json (the
Job document, see `jobhub schema`; for several refs an array of them in the order given),
jsonl (one Job per line), name (the refs found). A ref that cannot be got is named on stderr
(a JSON record under -o json|jsonl); the others are shown; the exit status is that error's.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="+", metavar="REF", help="job ref, e.g. sieve:1234")
    add_output_option(parser)


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, job_refs, open_hub, time_zone
    from jobhub.commands._output import MACHINE, Items, error_record, output_format
    from jobhub.errors import JobHubError
    from jobhub.terminal import printable

    fmt = output_format(args)
    refs = job_refs(args.refs)  # every ref checked before any request
    # One ref under -o json prints the Job document itself (`job.model_dump(mode="json")`),
    # several an array in the order given, as `kubectl get` prints an object or a List.
    items = Items(fmt, single=len(refs) == 1) if fmt in (*MACHINE, "name") else None
    out = console()
    failed: JobHubError | None = None
    shown = 0
    with open_hub(args) as hub:
        for ref in refs:
            try:
                job = hub.get(ref)
            except JobHubError as exc:
                if len(refs) == 1:
                    raise  # the error of the command (with --debug, its traceback)
                failed = failed or exc
                if fmt in MACHINE:
                    print(error_record(exc, exit_code(exc), ref=ref), file=sys.stderr)
                else:
                    named = error_line(exc).replace("jobhub: ", f"jobhub: {printable(ref)}: ", 1)
                    print(named, file=sys.stderr)
                continue
            if items is not None:
                items.add_job(job)
                continue
            from jobhub.render import job_detail

            if shown:
                out.print()
            out.print(job_detail(job, tz=time_zone(args)))
            shown += 1
    if items is not None:
        items.close()
    return ExitCode.OK if failed is None else exit_code(failed)
