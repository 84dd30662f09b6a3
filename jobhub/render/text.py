"""The pieces every terminal view is made of: state colours and marks, compact durations, ages,
percentages and zoned times, refs cut keeping both ends, and backend text as rich `Text` that is
shown, never read as markup.

Pure functions of their arguments (`now` is passed in), so what emulated jobs and tests show is
rendered against the clock they choose.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo

from rich.console import Console
from rich.text import Text

from jobhub.model import Job, JobState, Task
from jobhub.terminal import printable

STATE_STYLES: dict[JobState, str] = {
    JobState.PENDING: "dim",
    JobState.QUEUED: "cyan",
    JobState.RUNNING: "bold blue",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "bold red",
    JobState.CANCELLED: "yellow",
    JobState.SKIPPED: "dim",
    JobState.UNKNOWN: "magenta",
}

SHORT_WORKFLOW = 24

STATE_MARKS: dict[JobState, str] = {
    JobState.PENDING: "○",
    JobState.QUEUED: "◌",
    JobState.RUNNING: "●",
    JobState.SUCCEEDED: "✓",
    JobState.FAILED: "✗",
    JobState.CANCELLED: "⊘",
    JobState.SKIPPED: "↷",
    JobState.UNKNOWN: "?",
}


PIPE_WIDTH = 1000


def make_console() -> Console:
    """A console on stdout: colour and live updates on a terminal, plain text when piped.

    Piped output is not wrapped at 80 columns (unless $COLUMNS says so): a table row stays
    one line, so `grep` and `awk` see each job whole."""
    out = Console(highlight=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(highlight=False, width=PIPE_WIDTH)
    return out


def format_seconds(seconds: float | None) -> str:
    """A duration, compact: `0.4s`, `42s`, `3m05s`, `2h03m`, `3d04h`; "" for None."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_age(when: datetime | None, now: datetime) -> str:
    """How long ago `when` was, coarse like `kubectl get`: `45s`, `12m`, `5h`, `3d`."""
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_progress(progress: float | None) -> str:
    return "" if progress is None else f"{progress * 100:.0f}%"


def elapsed(job: Job | Task, now: datetime) -> float | None:
    """Seconds the job ran: its duration once known, else the time since it started while it
    runs (a live figure for tables that update)."""
    duration = getattr(job, "duration", None)
    if duration is not None:
        return float(duration)
    if job.started_at is None:
        return None
    if job.finished_at is not None:
        return (job.finished_at - job.started_at).total_seconds()
    if job.state.terminal:
        return None
    return max(0.0, (now - job.started_at).total_seconds())


def state_text(state: JobState, *, mark: bool = False) -> Text:
    label = f"{STATE_MARKS[state]} {state.value}" if mark else state.value
    return Text(label, style=STATE_STYLES[state])


def plain(text: object, style: str = "") -> Text:
    """Backend text as a rich `Text`, control characters escaped (see `printable`) and never
    read as rich markup: what a server sends is shown, not obeyed."""
    return Text(printable(text), style=style)


def now_or_utc(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, keeping its start and its end around an ellipsis
    (`prunner:52a5c…6dd6aaf1bc4c8`): a ref keeps its backend and the end of its id."""
    if len(text) <= width:
        return text
    if width < 2:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def format_time(when: datetime | None, tz: tzinfo | None = None) -> str:
    """`2026-11-22 10:57:28 UTC`: in `tz`, else the local zone, always naming its zone."""
    if when is None:
        return ""
    shown = when.astimezone(tz)
    return f"{shown:%Y-%m-%d %H:%M:%S} {shown.tzname() or shown.strftime('%z')}"


def format_clock(when: datetime, tz: tzinfo | None = None) -> str:
    """`10:57:28 UTC`: the time of day of an event line, naming its zone."""
    shown = when.astimezone(tz)
    return f"{shown:%H:%M:%S} {shown.tzname() or shown.strftime('%z')}"


def workflow_shown(job: Job, *, with_id: bool = False) -> str:
    """A job's workflow as a person reads it: its name where the backend gave one (a Pixxel
    workflow listed through the workflow list, `labels["workflow_name"]`), else its id;
    `with_id` adds the id after a name."""
    name = job.labels.get("workflow_name")
    if not name or name == job.workflow:
        return job.workflow or ""
    return f"{name} ({job.workflow})" if with_id else name
