"""Showing a stream of `JobEvent`s as it arrives (`wait`, `watch`): JSON Lines with --json;
on a terminal a table updated in place with state changes printed above it; when piped,
one line per change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from jobhub.model import JobEvent
    from jobhub.render import JobBoard

__all__ = ["follow"]


def follow(events: Iterable[JobEvent], board: JobBoard, *, json_output: bool, out: Console) -> None:
    """Apply each event to `board` and show it; returns when `events` ends."""
    from jobhub.commands._common import print_json_line
    from jobhub.render import event_line

    if json_output:
        for event in events:
            board.apply(event)
            print_json_line(event)
        return
    if not out.is_terminal:
        for event in events:
            board.apply(event)
            out.print(event_line(event))
        return
    from rich.live import Live

    # Short ids in the table: the full refs are in the lines printed above it.
    with Live(
        console=out, get_renderable=lambda: board.table(short=True), refresh_per_second=4
    ) as live:
        for event in events:
            board.apply(event)
            if event.kind != "progress":  # progress shows in the table
                live.console.print(event_line(event))
