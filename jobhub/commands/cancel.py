"""`jobhub cancel REF...`: ask the backends to cancel jobs."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode, error_line, exit_code
from jobhub.commands._output import add_output_option

HELP = "ask the backends to cancel jobs"
DESCRIPTION = """\
Ask the backends to cancel one or more jobs (REF `-` reads refs from stdin:
`jobhub list -o name --state running | jobhub cancel -`). Each request returns once the
backend accepted it; a job may take a moment to end (`jobhub wait REF` to follow it). A ref
that could not be cancelled (already finished, a backend without cancel such as Pixxel) is
named on stderr and the others are still cancelled; the exit status is then 3.

Output (-o): table (one line per ref), json (one array of {"ref", "cancel_requested": true}),
jsonl (one such record per line), name (the refs cancelled).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="+", metavar="REF", help="job ref, e.g. ci:52a5cb79-...")
    add_output_option(parser, ("table", "json", "jsonl", "name"))


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, job_refs, open_hub
    from jobhub.commands._output import MACHINE, Items, error_record, output_format
    from jobhub.errors import JobHubError
    from jobhub.terminal import printable

    fmt = output_format(args)
    refs = job_refs(args.refs)
    items = None if fmt == "table" else Items(fmt)
    failed: JobHubError | None = None
    with open_hub(args) as hub:
        for ref in refs:
            try:
                hub.cancel(ref)
            except JobHubError as exc:
                failed = failed or exc
                if fmt in MACHINE:
                    print(error_record(exc, exit_code(exc), ref=ref), file=sys.stderr)
                elif len(refs) == 1:
                    print(error_line(exc), file=sys.stderr)
                else:
                    named = error_line(exc).replace("jobhub: ", f"jobhub: {printable(ref)}: ", 1)
                    print(named, file=sys.stderr)
                continue
            if items is not None:
                items.add({"ref": ref, "cancel_requested": True}, name=ref)
            else:
                from jobhub.render import plain

                console().print(plain(f"cancel requested for {ref}"))
    if items is not None:
        items.close()
    return ExitCode.OK if failed is None else exit_code(failed)
