"""What the commands share: the hub from `--config`, a console, JSON output."""

from __future__ import annotations

import argparse
import sys
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from jobhub.hub import Hub

__all__ = ["console", "job_refs", "open_hub", "print_json", "require_extra", "time_zone"]


def open_hub(args: argparse.Namespace) -> Hub:
    """The hub configured by `--config`, else the usual search (see `jobhub.config`)."""
    from jobhub.hub import Hub

    return Hub.from_config(args.config)


def job_refs(texts: list[str]) -> list[str]:
    """The refs given, each checked (`InvalidRef` for a malformed one) and trimmed of
    surrounding whitespace, each once in the order given. `-` reads refs from stdin, one or
    more a line (what `-o name` prints: `jobhub list -o name | jobhub wait -`)."""
    from jobhub.model import JobRef

    words: list[str] = []
    for text in texts:
        if text == "-":
            words.extend(sys.stdin.read().split())
        else:
            words.append(text.strip())
    return list(dict.fromkeys(str(JobRef.parse(word)) for word in words if word))


def require_extra(extra: str, *modules: str) -> None:
    """Refuse, naming what to install, when a module an optional extra brings is missing
    (`pip install jobhub` leaves the emulator's web server out)."""
    from importlib.util import find_spec

    missing = [name for name in modules if find_spec(name) is None]
    if missing:
        from jobhub.errors import ConfigError

        raise ConfigError(
            f"this command needs {', '.join(missing)}, which `pip install jobhub` leaves out — "
            f"install them with: pip install 'jobhub[{extra}]'"
        )


def time_zone(args: argparse.Namespace) -> tzinfo | None:
    """The zone times are shown in: UTC with `--utc`, else None (the local zone)."""
    from datetime import UTC

    return UTC if getattr(args, "utc", False) else None


def console() -> Console:
    """The console human output goes to (see `jobhub.render.make_console`)."""
    from jobhub.render import make_console

    return make_console()


def print_json(value: Any) -> None:
    """One JSON document on stdout (pretty: for people reading a single document)."""
    import json

    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
