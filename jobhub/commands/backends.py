"""`jobhub backends`: what is configured — never a credential's value."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from jobhub.commands import ExitCode
from jobhub.commands._output import add_output_option

if TYPE_CHECKING:
    from jobhub.backend import Adapter

HELP = "list configured backends: name, type, url, whether credentials are set"
DESCRIPTION = """\
List the configured backends (from the config file and the environment): name, adapter
type, url, and which credential settings are set. Credential values are never shown.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_option(parser, ("table", "json", "jsonl", "name"))


def credentials(adapter: Adapter) -> dict[str, bool]:
    """Whether each credential setting (each secret of its settings) this backend uses is set:
    the ones its adapter reads from the environment, plus any other that is set."""
    present = adapter.settings.secrets()
    return {
        key: key in present
        for key in adapter.settings.secret_fields()
        if key in adapter.env_defaults or key in present
    }


def describe(name: str, adapter: Adapter) -> dict[str, Any]:
    return {
        "name": name,
        "type": adapter.type,
        "url": str(adapter.base_url),
        "credentials": credentials(adapter),
    }


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import console, open_hub
    from jobhub.commands._output import Items, output_format

    with open_hub(args) as hub:
        rows = [describe(name, adapter) for name, adapter in hub.backends.items()]
    fmt = output_format(args)
    if fmt != "table":
        items = Items(fmt)
        for row in rows:
            items.add(row, name=row["name"])
        items.close()
        return ExitCode.OK
    if not rows:
        print(
            "jobhub: no backends configured — write [backends.<name>] tables in jobhub.toml "
            "(or pass --config FILE), or set SIEVE_API_KEY, PIXXEL_API_KEY or PRUNNER_JWT_SECRET",
            file=sys.stderr,
        )
        return ExitCode.OK
    from rich.table import Table
    from rich.text import Text

    from jobhub.render import plain

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "type", "url", "credentials"):
        table.add_column(column, overflow="fold")
    for row in rows:
        creds = Text()
        for index, (key, present) in enumerate(row["credentials"].items()):
            if index:
                creds.append(", ")
            creds.append(f"{key} {'set' if present else 'missing'}", "green" if present else "red")
        table.add_row(
            plain(row["name"]),
            plain(row["type"]),
            plain(row["url"]),
            creds if row["credentials"] else "-",
        )
    console().print(table)
    return ExitCode.OK
