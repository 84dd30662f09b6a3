"""How a command prints what it found, chosen with `-o` like kubectl: `table` (the default for
people), `wide` (more columns), `json` (one JSON document: an array of the command's items),
`jsonl` (one item per line, flushed as it is found), `name` (refs or names, one a line, for
`xargs` or `jobhub wait -`). `--json` is `-o json`.

Under `json` and `jsonl` an error is a JSON record on stderr too (see `error_record`), so a
script reads every outcome the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from jobhub.commands._args import Once

if TYPE_CHECKING:
    from jobhub.model import Job

__all__ = ["FORMATS", "MACHINE", "Items", "add_output_option", "error_record", "output_format"]

FORMATS = ("table", "wide", "json", "jsonl", "name")
MACHINE = ("json", "jsonl")  # what scripts parse: errors come as JSON records too


def add_output_option(parser: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=formats,
        action=Once,
        metavar="FORMAT",
        help=f"output format: {', '.join(formats)} (default table; --json is -o json)",
    )


def output_format(args: argparse.Namespace) -> str:
    """The format asked for: `-o`, else `--json`, else `table`."""
    chosen: str | None = getattr(args, "output", None)
    if getattr(args, "json", False):
        if chosen not in (None, "json"):
            from jobhub.errors import ConfigError

            raise ConfigError(f"--json and -o {chosen} ask for two formats — give one")
        return "json"
    return chosen or "table"


class Items:
    """Items printed as they come, in a machine format: `json` one array (one item per line
    inside it, so a long listing streams), `jsonl` one item per line, `name` one name a line."""

    def __init__(self, fmt: str, *, single: bool = False) -> None:
        """`single`: one item asked for, so `json` prints the document itself, not an array."""
        self.fmt = fmt
        self.array = fmt == "json" and not single
        self.count = 0

    def add(self, item: Any, *, name: str) -> None:
        """`item`: a pydantic model or a JSON-ready value; `name`: what `-o name` prints."""
        if self.fmt == "name":
            from jobhub.terminal import printable

            line = printable(name)
        else:
            line = item.model_dump_json() if hasattr(item, "model_dump_json") else _dumps(item)
            if self.array:
                line = ("[\n" if self.count == 0 else ",\n") + line
        sys.stdout.write(line if self.array else line + "\n")
        sys.stdout.flush()
        self.count += 1

    def add_job(self, job: Job) -> None:
        self.add(job, name=job.ref)

    def close(self) -> None:
        if self.array:
            sys.stdout.write("\n]\n" if self.count else "[]\n")
            sys.stdout.flush()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def error_record(exc: BaseException, code: int, **context: Any) -> str:
    """An error as one JSON line: `{"error": {"type", "message", "exit_code", ...}}`, with a
    timeout's open refs (`pending`) and each backend's last error (`backend_errors`)."""
    from jobhub.errors import JobHubError

    record: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": str(exc) if isinstance(exc, JobHubError) else f"internal error: {exc}",
        "exit_code": int(code),
        **context,
    }
    backend = getattr(exc, "backend", None)
    if backend:
        record["backend"] = backend
    pending = getattr(exc, "pending", None)
    if isinstance(pending, dict):  # a timeout: each open ref, and its last state seen
        record["pending"] = {
            ref: None if job is None else job.state.value for ref, job in pending.items()
        }
    backend_errors = getattr(exc, "backend_errors", None)
    if isinstance(backend_errors, dict) and backend_errors:
        record["backend_errors"] = {name: str(error) for name, error in backend_errors.items()}
    return _dumps({"error": record})
