"""What the commands share: the hub from `--config`, a console, JSON output."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from jobhub.hub import Hub
    from jobhub.model import Job, JobEvent

__all__ = ["console", "open_hub", "print_json", "print_json_line"]


def open_hub(args: argparse.Namespace) -> Hub:
    """The hub configured by `--config`, else the usual search (see `jobhub.config`)."""
    from jobhub.hub import Hub

    return Hub.from_config(args.config)


def console() -> Console:
    """The console human output goes to (see `jobhub.render.make_console`)."""
    from jobhub.render import make_console

    return make_console()


def print_json(value: Any) -> None:
    """One JSON document on stdout (pretty: for people reading a single document)."""
    import json

    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_json_line(item: Job | JobEvent) -> None:
    """One model as one line of JSON Lines, flushed so that a reader sees it at once. The line
    is the model's `model_dump(mode="json")`, serialized."""
    sys.stdout.write(item.model_dump_json() + "\n")
    sys.stdout.flush()
