"""`jobhub demo`: every emulated backend on this machine, a few dozen jobs moving live.

The demo starts the emulator in this process with every registered emulator that can run here
(opt-in ones included), configures a `Hub` on it exactly as a user would, submits about a dozen
jobs to each backend through the vendor's own create endpoint (fewer where an emulator's
`demo_jobs` asks for fewer; a quarter steered to fail, one cancelled mid-run on a backend whose
cancel ends jobs), and follows
them with `Hub.watch` until every job has ended. It then checks each job's final state against
what the emulator planned, so the demo doubles as an end-to-end check: it exits 1 on any
disagreement.

    from jobhub.demo import run
    run(speed=20, jobs_per_backend=3)      # a few seconds
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import IO, TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from jobhub.backend import Capability
from jobhub.errors import InvalidArgument, JobAlreadyFinished
from jobhub.hub import Hub
from jobhub.model import JobEvent, JobState
from jobhub.render import JobBoard, event_line, jobs_table, make_console, plain, summary_table
from jobhub.terminal import printable

if TYPE_CHECKING:
    from jobhub.emulator import Emulator

__all__ = ["DEFAULT_SPEED", "Submission", "plan", "run"]

DEFAULT_SPEED = 1.0  # emulated seconds per real second: the default demo lasts about 30 s
DURATIONS = (5.0, 30.0)  # emulated seconds a demo job runs, from shortest to longest
FAIL_EVERY = 4  # a quarter of each backend's jobs are steered to fail: the 2nd, 6th, 10th…
CANCEL_AT = 0.3  # the cancelled job is cancelled once this share of its run has passed
UNHAPPY = (JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED)  # ends shown with their reason


@dataclass(frozen=True)
class Submission:
    """One job the demo submits: where, how long it runs (emulated seconds), how it ends."""

    type: str
    duration: float
    outcome: str  # "succeeded" or "failed"
    cancel: bool = False  # cancelled mid-run by the demo


def plan(
    types: Sequence[str],
    jobs_per_backend: int,
    *,
    cancellable: Sequence[str] = (),
    seed: int = 0,
    limits: Mapping[str, int] | None = None,
) -> list[Submission]:
    """The jobs to submit, repeatable for a seed. One in `FAIL_EVERY` jobs of each backend
    fails (the 2nd, 6th, ...); the first job on the first backend in `cancellable` runs longest
    (three times the longest of the others) and is cancelled. `limits` caps the jobs of some
    backends (by type); by default each registered emulator's `demo_jobs`."""
    if limits is None:
        limits = demo_limits(types)
    rng = random.Random(seed)
    low, high = DURATIONS
    jobs: list[Submission] = []
    for backend_type in types:
        for index in range(min(jobs_per_backend, limits.get(backend_type, jobs_per_backend))):
            failing = index % FAIL_EVERY == 1
            duration = round(rng.uniform(low, high * 0.9), 1)
            jobs.append(Submission(backend_type, duration, "failed" if failing else "succeeded"))
    if cancellable:
        target = next(i for i, job in enumerate(jobs) if job.type == cancellable[0])
        # Three times the longest run: the cancel at 30% has a wide window to land in, even
        # when a busy machine delays the events it waits for; it still ends with the others.
        jobs[target] = Submission(cancellable[0], 3 * high, "succeeded", cancel=True)
    return jobs


def demo_limits(types: Sequence[str]) -> dict[str, int]:
    """The registered emulators' `demo_jobs` caps, for those of `types` that set one."""
    from jobhub.plugins import get_registry

    emulators = get_registry().emulators
    return {
        name: cap
        for name in types
        if name in emulators and (cap := emulators[name].demo_jobs) is not None
    }


def run(
    *,
    json_output: bool = False,
    speed: float = DEFAULT_SPEED,
    jobs_per_backend: int = 12,
    console: Console | None = None,
    seed: int = 0,
    tz: tzinfo | None = None,
) -> int:
    """Run the demo; 0 when every job ended as the emulator planned it, else 1.

    `speed` scales emulated time (20 runs the default demo in about two seconds). With
    `json_output` the `JobEvent` stream is printed as JSON Lines instead of the live table.
    Times are shown in `tz`, else the local zone.
    """
    from jobhub.emulator import Emulator
    from jobhub.plugins import get_registry

    if jobs_per_backend < 1:
        raise InvalidArgument(f"the demo needs at least 1 job per backend, not {jobs_per_backend}")
    out = console if console is not None else make_console()
    # Every registered emulator, opt-in ones too; those that cannot run here are left out.
    types = sorted(get_registry().emulators)
    with Emulator(types, seed=seed, speed=speed) as emu, Hub(_hub_config(emu, speed)) as hub:
        cancellable = [
            name
            for name, backend in emu.backends.items()
            if backend.cancels and Capability.CANCEL in hub.backends[name].capabilities
        ]
        jobs = plan(list(emu.backends), jobs_per_backend, cancellable=cancellable, seed=seed)
        # Submitting takes real time (a WES run most, on a busy machine seconds): emulated time
        # stands still until every job is in, so none ends before the demo has looked at it.
        # A WES run sleeps in real time, planned at the speed the clock will run at again.
        with emu.clock.held():
            refs = [
                f"{job.type}:{emu.submit(job.type, duration=job.duration, outcome=job.outcome)}"
                for job in jobs
            ]
        demo = _Demo(emu, hub, jobs, refs, out, tz)
        if json_output:
            demo.stream_json(out.file)
        else:
            out.print(
                Text.assemble(
                    ("jobhub demo", "bold"),
                    f": {len(refs)} jobs on {', '.join(emu.backends)}, emulated at {emu.url} "
                    f"({speed:g}x speed)",
                )
            )
            demo.show()
        return demo.check()


def _hub_config(emu: Emulator, speed: float) -> dict[str, dict[str, object]]:
    # Poll about as often as jobs move on the emulated clock, without flooding it.
    interval = min(0.5, max(0.1, 0.5 / speed))
    cap = min(2.0, max(0.25, 2.0 / speed))
    return {
        name: {**entry, "poll_interval": interval, "poll_max": cap}
        for name, entry in emu.hub_config().items()
    }


class _Demo:
    def __init__(
        self,
        emu: Emulator,
        hub: Hub,
        jobs: list[Submission],
        refs: list[str],
        out: Console,
        tz: tzinfo | None = None,
    ) -> None:
        self.tz = tz
        self.emu = emu
        self.hub = hub
        self.jobs = dict(zip(refs, jobs, strict=True))
        self.refs = refs
        self.out = out
        self.board = JobBoard(refs)
        self.to_cancel = [ref for ref, job in self.jobs.items() if job.cancel]
        self.quiet = False

    def now(self) -> datetime:
        """The emulated clock's instant: jobs' times are on it."""
        return self.emu.clock.at(self.emu.clock.now())

    def events(self) -> Iterator[JobEvent]:
        for event in self.hub.watch(self.refs):
            self.board.apply(event)
            yield event
            self.cancel_due()

    def cancel_due(self) -> None:
        """Cancel the chosen job once it has run `CANCEL_AT` of its planned time."""
        for ref in list(self.to_cancel):
            job = self.board.get(ref)
            if job is None or job.state is not JobState.RUNNING or job.started_at is None:
                continue
            ran = (self.now() - job.started_at).total_seconds()
            if ran < CANCEL_AT * self.jobs[ref].duration and (job.progress or 0) < CANCEL_AT:
                continue
            self.to_cancel.remove(ref)
            try:
                self.hub.cancel(ref)
            except JobAlreadyFinished:
                continue
            if not self.quiet:
                self.out.print(
                    Text.assemble(("cancelled ", "yellow"), plain(ref, "bold"), " mid-run")
                )

    def stream_json(self, file: IO[str]) -> None:
        self.quiet = True  # stdout holds nothing but events
        for event in self.events():
            file.write(event.model_dump_json() + "\n")
            file.flush()

    def show(self) -> None:
        if not self.out.is_terminal:
            # A log, not an animation: one line per state change, then the final table.
            for event in self.events():
                if event.kind == "state":
                    self.out.print(event_line(event, tz=self.tz))
        else:
            # Redrawn 4 times a second, not per event: hundreds of events arrive. Why a job
            # failed or was cancelled is printed above the table as it happens; the table
            # itself goes once every job has ended, for the whole final board below.
            with Live(
                console=self.out, get_renderable=self.table, refresh_per_second=4, transient=True
            ) as live:
                for event in self.events():
                    if event.kind == "state" and event.job.state in UNHAPPY:
                        live.console.print(event_line(event, tz=self.tz))
        self.out.print(self.table(limit=None))
        self.out.print()
        self.out.print(summary_table(self.board.jobs(), title="by backend and state"))

    def table(self, limit: int | None = -1) -> RenderableType:
        """The board, rows in submission order. On a terminal cut to its height: the ended
        jobs that come first leave, the others keep their order (a row never jumps)."""
        jobs = self.board.jobs()
        rows = self.out.height - 4 if limit == -1 else limit
        hidden = 0
        if rows is not None and len(jobs) > rows:
            hidden = min(len(jobs) - rows, sum(job.state.terminal for job in jobs))
            leaving = {job.ref for job in [job for job in jobs if job.state.terminal][:hidden]}
            jobs = [job for job in jobs if job.ref not in leaving]
        table = jobs_table(jobs, now=self.now(), age=False, fit=self.out.width, tz=self.tz)
        if not hidden:
            return table
        return Group(table, Text(f"… and {hidden} more ended jobs", style="dim"))

    def check(self) -> int:
        """0 when every job ended as the emulator planned; else 1, each mismatch on stderr."""
        status = 0
        for ref in self.refs:
            job = self.board.get(ref)
            backend, job_id = ref.split(":", 1)
            planned = self.emu.final_state(backend, job_id)
            seen = job.state.value if job is not None else "never seen"
            if seen != planned:
                print(
                    printable(f"jobhub demo: {ref} ended {seen}, the emulator says {planned}"),
                    file=sys.stderr,
                )
                status = 1
        return status
