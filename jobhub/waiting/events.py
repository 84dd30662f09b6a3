"""`job_events`: what changed between two views of one job, as `JobEvent`s. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobhub.model import Job, JobEvent, JobState, Task

__all__ = ["high_water", "job_events", "new_outputs"]

_EMPTY: tuple[Any, ...] = (None, [], {}, "")


def job_events(old: Job | None, new: Job, *, at: datetime) -> list[JobEvent]:
    """The changes from `old` (the view seen before, None on first sight) to `new`.

    On first sight there is one event: kind "state" with `old=None`. After that, in this order:

    1. "state" — the job's canonical state changed, unless it has just ended (see 5);
    2. "task" — one per task whose state changed, in the job's task order (a task not seen
       before has `old=None`); `task` names it;
    3. "progress" — the job's progress changed (`old`, `new` are fractions or None);
    4. "output" — outputs appeared: `new` holds only what was added (`old` is None);
    5. "state" — the job ended: its final state comes last, so a reader who stops at the end
       has seen everything that led to it.

    A job never goes back from running to pending or queued (a backend that flaps shows it in
    `status` only); diffed against `high_water` views, each output is reported once.

    Each event carries the `new` job as seen and the time `at` it was seen. For a job that
    went from running (task "test" running, progress 0.5) to succeeded:

        [(e.kind, e.task, e.old, e.new) for e in job_events(before, after, at=now)]
        # [("task", "test", "running", "succeeded"), ("progress", None, 0.5, 1.0),
        #  ("state", None, "running", "succeeded")]
    """
    ref = new.ref
    if old is None:
        return [JobEvent(ref=ref, kind="state", old=None, new=new.state, job=new, at=at)]
    events: list[JobEvent] = []
    moved = old.state is not new.state and not _went_back(old.state, new.state)
    if moved and not new.state.terminal:
        events.append(JobEvent(ref=ref, kind="state", old=old.state, new=new.state, job=new, at=at))
    if new.tasks:
        before = _tasks_by_key(old.tasks)
        for task in new.tasks:
            previous = before.get(_task_key(task))
            if previous is None or previous.state is not task.state:
                events.append(
                    JobEvent(
                        ref=ref,
                        kind="task",
                        old=previous.state if previous is not None else None,
                        new=task.state,
                        job=new,
                        task=task.name,
                        at=at,
                    )
                )
    if old.progress != new.progress:
        events.append(
            JobEvent(ref=ref, kind="progress", old=old.progress, new=new.progress, job=new, at=at)
        )
    added = new_outputs(old.outputs, new.outputs)
    if added is not None:
        events.append(JobEvent(ref=ref, kind="output", old=None, new=added, job=new, at=at))
    if moved and new.state.terminal:
        events.append(JobEvent(ref=ref, kind="state", old=old.state, new=new.state, job=new, at=at))
    return events


def high_water(old: Job | None, new: Job) -> Job:
    """What to diff the next view against: `new`, keeping what `old` already reported when a
    flapping backend takes it back — a started state, and outputs that shrink or vanish."""
    if old is None:
        return new
    update: dict[str, Any] = {}
    if _went_back(old.state, new.state):
        update["state"] = old.state
    if isinstance(old.outputs, dict) and isinstance(new.outputs, dict):
        if not old.outputs.keys() <= new.outputs.keys():
            update["outputs"] = {**old.outputs, **new.outputs}
    elif old.outputs not in _EMPTY and new_outputs(old.outputs, new.outputs) is None:
        update["outputs"] = old.outputs  # shrank or vanished: nothing new, the old stays reported
    return new.model_copy(update=update) if update else new


def _went_back(old: JobState, new: JobState) -> bool:
    return old is JobState.RUNNING and new in (JobState.PENDING, JobState.QUEUED)


def new_outputs(old: Any, new: Any) -> Any:
    """What `new` outputs add to `old`, or None when nothing was added.

    Lists: the items past the old ones when the old list is a prefix of the new one, else the
    whole new list. Mappings: the keys that are new or changed. Anything else: the new value
    when it differs. Outputs that disappear (a shorter view of the job) add nothing.
    """
    if new in _EMPTY or new == old:
        return None
    if isinstance(new, list) and isinstance(old, list):
        if len(new) <= len(old):
            return None if new == old[: len(new)] else new
        return new[len(old) :] if new[: len(old)] == old else new
    if isinstance(new, dict) and isinstance(old, dict):
        changed = {key: value for key, value in new.items() if key not in old or old[key] != value}
        return changed or None
    return new


def _task_key(task: Task) -> str:
    return task.id if task.id is not None else task.name


def _tasks_by_key(tasks: list[Task]) -> dict[str, Task]:
    return {_task_key(task): task for task in tasks}
