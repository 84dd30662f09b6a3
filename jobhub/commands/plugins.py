"""`jobhub plugins`: loaded plugins, what they provide, and the ones that failed to load."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode
from jobhub.commands._output import add_output_option

HELP = "list loaded plugins: adapter and emulator types, versions, load errors"
DESCRIPTION = """\
List the plugins of the `jobhub` entry-point group (the built-in backends load the same
way): each one's module, version, the adapter and emulator types it registers, and the
error of any that failed to load. A broken plugin never stops the others.
JOBHUB_LOAD_PLUGINS (comma-separated names) limits which plugins load.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_option(parser, ("table", "json", "jsonl", "name"))


def emulator_extra_installed() -> bool:
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("starlette", "uvicorn"))


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console
    from jobhub.commands._output import Items, output_format
    from jobhub.plugins import get_registry

    registry = get_registry()
    if emulator_extra_installed():
        registry.emulators  # noqa: B018 — collects emulator registrations (and their errors)
    else:
        print(
            "jobhub: emulators not listed: they need pip install 'jobhub[emulator]'",
            file=sys.stderr,
        )
    plugins = list(registry.plugins.values())
    fmt = output_format(args)
    if fmt != "table":
        from dataclasses import asdict

        items = Items(fmt)
        for info in plugins:
            items.add(asdict(info), name=info.name)
        items.close()
        return ExitCode.OK
    from rich.table import Table
    from rich.text import Text

    from jobhub.render import plain

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "version", "module", "adapters", "emulators", "status"):
        table.add_column(column, overflow="fold")
    for info in plugins:
        table.add_row(
            plain(info.name),
            plain(info.version or ""),
            plain(info.module),
            plain(", ".join(info.adapters)),
            plain(", ".join(info.emulators)),
            Text("error", "red") if info.error else Text("ok", "green"),
        )
    out = console()
    out.print(table)
    for info in plugins:
        if info.error:
            out.print(Text.assemble(plain(f"{info.name}: ", "bold"), plain(info.error, "red")))
    return ExitCode.OK
