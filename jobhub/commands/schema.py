"""`jobhub schema`: the JSON Schema of a Job document (each item `get -o json` prints)."""

from __future__ import annotations

import argparse

from jobhub.commands import ExitCode

HELP = "print the JSON Schema of a Job (each item of `get -o json`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import print_json
    from jobhub.model import Job

    print_json(Job.model_json_schema())
    return ExitCode.OK
