"""`jobhub emulator`: serve the emulated backends on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import Any

from jobhub.commands import ExitCode
from jobhub.commands._args import count, port, positive, rate

HELP = "serve emulated backends locally (Sieve, Pixxel, prunner, plugins'); Ctrl-C stops"
DESCRIPTION = """\
Serve local stand-ins for every backend that has an emulator (the built-in ones and any a
plugin ships), each at http://HOST:PORT/<type>, and print a ready jobhub.toml for them.
Jobs created through each vendor's own create endpoint move through their lives on an
emulated clock (--speed). Runs until Ctrl-C.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, help="port (default 9999; 0 picks a free one)")
    parser.add_argument("--seed", type=count, help="seed for ids, plans and credentials")
    parser.add_argument(
        "--speed", type=positive, metavar="X", help="emulated seconds per real second (default 1)"
    )
    parser.add_argument(
        "--faults",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="share of answers that go wrong (5xx, 429, dropped, slow, cut short); default 0",
    )


def run(args: argparse.Namespace) -> int:
    from jobhub.emulator import Faults, serve
    from jobhub.plugins import get_registry

    options: dict[str, Any] = {
        key: value
        for key in ("host", "port", "seed", "speed")
        if (value := getattr(args, key)) is not None
    }
    if args.faults:
        seed = options.get("seed", 0)
        options["faults"] = {
            name: Faults(rate=args.faults, seed=seed) for name in get_registry().emulators
        }
    serve(**options)
    return ExitCode.OK
