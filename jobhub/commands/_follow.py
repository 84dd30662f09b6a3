"""Showing a stream of `JobEvent`s as it arrives (`wait`, `watch`): on a terminal a table
updated in place, rows in the order the jobs were given, with each change printed above it;
when piped, one line per change; `-o jsonl` one JobEvent per line; `-o json` the jobs as they
ended, one array; `-o name` each ref as its job ends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from jobhub.model import JobEvent
    from jobhub.render import JobBoard

__all__ = ["follow"]


def follow(
    events: Iterable[JobEvent], board: JobBoard, *, fmt: str, out: Console, tz: tzinfo | None
) -> None:
    """Apply each event to `board` and show it; returns when `events` ends."""
    from jobhub.commands._output import Items
    from jobhub.render import event_line, worth_a_line

    if fmt in ("json", "jsonl", "name"):
        items = Items(fmt)
        for event in events:
            board.apply(event)
            if fmt == "jsonl":
                items.add(event, name=event.ref)
            elif fmt == "name" and event.kind == "state" and event.job.state.terminal:
                items.add(event.job, name=event.ref)
        if fmt == "json":
            for job in board.jobs():
                items.add_job(job)
        items.close()
        return
    if not out.is_terminal:
        for event in events:
            board.apply(event)
            if worth_a_line(event):
                out.print(event_line(event, tz=tz))
        return
    from rich.live import Live

    # Full refs whenever the terminal is wide enough; the lines above the table keep them whole.
    with Live(
        console=out,
        get_renderable=lambda: board.table(fit=out.width, tz=tz),
        refresh_per_second=4,
    ) as live:
        for event in events:
            board.apply(event)
            if event.kind != "progress":  # progress shows in the table
                live.console.print(event_line(event, tz=tz))
