"""The `jobhub` command: every configured backend from one shell, for people and for scripts.

    jobhub get sieve:1234            # one job, its tasks as a tree
    jobhub list ci --state running   # a table; --json for a JSON array
    jobhub wait ci:52a5... sieve:99  # exit 0 when all succeeded, 1 when one did not, 4 on timeout

Start-up stays light: this module and the command modules import only the standard library;
a command imports httpx, pydantic, rich and the plugins when it runs. Errors print one line on
stderr and exit with the code in `jobhub.commands.ExitCode`; `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from jobhub import __version__
from jobhub.commands import COMMANDS, ExitCode, error_line, exit_code
from jobhub.commands._args import Once
from jobhub.commands._output import MACHINE, error_record
from jobhub.commands.completion import FILES

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
One face for every workflow backend: get, list, wait for, watch and cancel jobs on Sieve,
Pixxel, prunner and any backend a plugin adds. A job ref is "<backend name>:<id>".
"""

_EPILOG = """\
configuration: --config FILE, else $JOBHUB_CONFIG, ./jobhub.toml, ~/.config/jobhub/config.toml,
  one [backends.<name>] table per backend; credentials may come from the environment
  (SIEVE_API_KEY, PIXXEL_API_KEY, PRUNNER_JWT_SECRET).
exit codes: 0 ok (wait: every job succeeded), 1 a waited job failed or was cancelled,
  2 usage or config error, 3 backend error, 4 wait timed out, 130 interrupted.
"""


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # The same options are accepted before and after the command name. A subcommand's copies
    # default to SUPPRESS so that leaving them out keeps what was given before the name.
    def default(value: object) -> object:
        return argparse.SUPPRESS if in_subcommand else value

    group = parser.add_argument_group("global options")
    config = group.add_argument(
        "--config",
        action=Once,
        metavar="FILE",
        default=default(None),
        help="config file (default: $JOBHUB_CONFIG, ./jobhub.toml, ~/.config/jobhub/config.toml)",
    )
    config.complete = FILES  # type: ignore[attr-defined]  # shtab: complete file names
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="the same as -o json: one JSON document (errors as JSON records on stderr)",
    )
    group.add_argument(
        "--utc",
        action="store_true",
        default=default(False),
        help="show times in UTC (default: the local time zone; either way the zone is named)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="log requests and show tracebacks",
    )


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"jobhub.commands.{COMMANDS[name]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobhub",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jobhub {__version__}")
    _add_global_options(parser, in_subcommand=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        module = _command_module(name)
        sub = subparsers.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        _add_global_options(sub, in_subcommand=True)
    return parser


def _configure_logging(debug: bool, machine: bool) -> None:
    # Imported here: `jobhub --help` does without logging.
    import logging

    for old in logging.getLogger("jobhub").handlers:
        if old.get_name() == "jobhub-cli":  # main() ran before in this process
            logging.getLogger("jobhub").removeHandler(old)
            logging.getLogger("httpx").removeHandler(old)
    from jobhub.terminal import printable

    class Stderr(logging.StreamHandler):  # type: ignore[type-arg]
        # Whatever sys.stderr is when a record comes: during a live table on a terminal, rich
        # puts a proxy there that prints above the table instead of through it.
        @property
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, value: Any) -> None:
            pass

    handler = Stderr()
    handler.set_name("jobhub-cli")
    if debug:
        # A log line may quote a backend's words: shown, never obeyed by the terminal.
        class Escaped(logging.Formatter):
            def formatMessage(self, record: logging.LogRecord) -> str:
                return printable(super().formatMessage(record))

        handler.setFormatter(Escaped("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        for name in ("jobhub", "httpx"):
            logging.getLogger(name).setLevel(logging.DEBUG)
    else:
        # Warnings (a plugin that failed to load, an unknown status word) as one line each.
        class OneLine(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                text = printable(record.getMessage())
                return f"jobhub: {record.levelname.lower()}: {text}"

        class Record(logging.Formatter):
            # Under -o json|jsonl a warning is a JSON record, like errors: stderr stays parseable.
            def format(self, record: logging.LogRecord) -> str:
                import json

                level = record.levelname.lower()
                return json.dumps({level: {"message": record.getMessage(), "logger": record.name}})

        handler.setFormatter(Record() if machine else OneLine())
        _one_line_warnings()
        logging.getLogger("jobhub").setLevel(logging.WARNING)
    logging.getLogger("jobhub").addHandler(handler)
    logging.getLogger("httpx").addHandler(handler)
    logging.getLogger("httpx").propagate = False
    logging.getLogger("jobhub").propagate = False


def _one_line_warnings() -> None:
    # Python warnings from libraries (e.g. PyJWT on a short HS256 key) as one line each,
    # without the source line; --debug keeps Python's own format.
    import warnings

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: object = None,
        line: str | None = None,
    ) -> None:
        from jobhub.terminal import printable

        print(f"jobhub: warning: {printable(message)}", file=sys.stderr)

    warnings.showwarning = show


def _silence_broken_pipe() -> None:
    # The reader went away (`jobhub list x | head -1`): stop quietly, like other filters do.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _without_httpx_command_line() -> None:
    # On import httpx loads its own command-line client when click, pygments and rich are
    # installed (about a tenth of a command's start-up); this process never runs it. A module
    # set to None makes that import fail, and httpx then does without. A process that has
    # imported it already keeps it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    _without_httpx_command_line()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    machine = getattr(args, "output", None) in MACHINE or args.json
    _configure_logging(args.debug, machine)
    try:
        return int(_command_module(args.command).run(args))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_broken_pipe()
        return ExitCode.OK
    except Exception as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        code = exit_code(exc)
        print(error_record(exc, code) if machine else error_line(exc), file=sys.stderr)
        return code
