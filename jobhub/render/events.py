"""One line per change a watch reports: `12:03:04 UTC sieve:abc  running → succeeded  after
4.0s`, and which changes are worth a line to a person."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.text import Text

from jobhub.model import JobEvent, JobState
from jobhub.render.text import elapsed, format_clock, format_progress, format_seconds, state_text
from jobhub.terminal import printable


def _value(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    if kind == "progress" and isinstance(value, int | float):
        return format_progress(float(value))
    return printable(value.value if isinstance(value, JobState) else value)


def _styled(kind: str, value: Any) -> Text:
    text = _value(kind, value)
    try:
        return state_text(JobState(text)) if kind in {"state", "task"} else Text(text)
    except ValueError:
        return Text(text)


def worth_a_line(event: JobEvent) -> bool:
    """Whether a person sees a change in this event: a progress step too small to change the
    percentage shown (`55% → 55%`) is not one."""
    if event.kind != "progress":
        return True
    return _value("progress", event.old) != _value("progress", event.new)


def event_line(event: JobEvent, *, tz: tzinfo | None = None) -> Text:
    """One line for a change, its time in `tz` (else local) with the zone named:
    `12:03:04 UTC sieve:abc  running → succeeded  after 4.0s  <the error, if any>`."""
    line = Text.assemble(
        (f"{format_clock(event.at, tz)} ", "dim"), (printable(event.ref), "bold"), "  "
    )
    if event.kind == "state":
        if event.old is None:  # first sight: just the state
            line.append_text(_styled("state", event.new))
        else:
            line.append_text(_styled("state", event.old))
            line.append(" → ")
            line.append_text(_styled("state", event.new))
        if event.job.state.terminal:
            duration = format_seconds(elapsed(event.job, event.at))
            if duration:
                line.append(f"  after {duration}", style="dim")
            if event.job.error:
                line.append(f"  {printable(event.job.error)}", style="red")
    elif event.kind == "task":
        line.append(f"task {printable(event.task)}: ")
        if event.old is not None:
            line.append_text(_styled("task", event.old))
            line.append(" → ")
        line.append_text(_styled("task", event.new))
    elif event.kind == "progress":
        line.append(f"progress {_value('progress', event.old)} → {_value('progress', event.new)}")
    else:
        line.append("new output")
    return line
