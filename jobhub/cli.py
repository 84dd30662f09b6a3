"""The `jobhub` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("jobhub: the command is not built yet", file=sys.stderr)
    return 2
