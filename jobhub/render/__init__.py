"""How jobs look in a terminal: a compact table, a job's detail with its tasks as a dependency
tree, one line per event, and a board that keeps the latest state of a set of jobs.

    text     the pieces: state styles, durations, ages, zoned times, refs cut, safe backend text
    tables   jobs as rows, counts by backend and state, the live board
    detail   one job's fields and its task tree
    events   one line per change
"""

from __future__ import annotations

from jobhub.render.detail import TaskNode, job_detail, task_forest
from jobhub.render.events import event_line, worth_a_line
from jobhub.render.tables import JobBoard, jobs_table, summary_line, summary_table
from jobhub.render.text import (
    elapsed,
    format_age,
    format_clock,
    format_progress,
    format_seconds,
    format_time,
    make_console,
    plain,
    shorten,
    state_text,
    workflow_shown,
)

__all__ = [
    "JobBoard",
    "TaskNode",
    "elapsed",
    "event_line",
    "format_age",
    "format_clock",
    "format_progress",
    "format_seconds",
    "format_time",
    "job_detail",
    "jobs_table",
    "make_console",
    "plain",
    "shorten",
    "state_text",
    "summary_line",
    "summary_table",
    "task_forest",
    "workflow_shown",
    "worth_a_line",
]
