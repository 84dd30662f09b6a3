"""One emulated backend in a process of its own, for `benchmarks.scale`.

    python -m benchmarks.scale_server TYPE SEED SPEED

Each backend gets a core's share of its own: served from one process, every backend's answers
wait on one interpreter lock, and at 10,000 jobs the emulator, not the client, set the lag.
The process prints one JSON line (its hub configuration), then answers JSON-line commands on
stdin, one line each:

    {"op": "submit", "jobs": [[duration, workflow_index], ...]}  → {"ids": [...]}
    {"op": "sync"}       counts start again; → {"mono": monotonic s, "emulated": emulated s}
    {"op": "report", "ids": [...]}  → {"requests": n, "cpu": s, "runs": {id: [ends, state]}}
    {"op": "stop"}

`time.monotonic()` is the machine's, so the parent turns a contender's monotonic times into
each backend's emulated ones with the pair `sync` gives.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from benchmarks.waiting import CountingEmulator

__all__ = ["Servers"]


class Servers:
    """The parent's side: one `scale_server` process per backend type, stopped on exit."""

    def __init__(self, types: Iterable[str], *, seed: int, speed: float) -> None:
        self.speed = speed
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.config: dict[str, dict[str, Any]] = {}
        self.synced: dict[str, tuple[float, float]] = {}  # type → (monotonic, emulated)
        command = [sys.executable, "-m", "benchmarks.scale_server"]
        for kind in types:
            self.processes[kind] = subprocess.Popen(
                [*command, kind, str(seed), str(speed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        for kind, process in self.processes.items():
            assert process.stdout is not None
            self.config[kind] = json.loads(process.stdout.readline())

    def ask(self, commands: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Send each server its command at once, then read each answer."""
        for kind, command in commands.items():
            stdin = self.processes[kind].stdin
            assert stdin is not None
            stdin.write(json.dumps(command) + "\n")
            stdin.flush()
        answers = {}
        for kind in commands:
            stdout = self.processes[kind].stdout
            assert stdout is not None
            answers[kind] = json.loads(stdout.readline())
        return answers

    def submit(self, jobs: dict[str, list[tuple[float, int]]]) -> dict[str, list[str]]:
        """Jobs (duration, workflow index) on each backend; their ids."""
        answers = self.ask({kind: {"op": "submit", "jobs": each} for kind, each in jobs.items()})
        return {kind: answer["ids"] for kind, answer in answers.items()}

    def sync(self) -> None:
        """Counts start now; remembers each backend's clock against the machine's."""
        answers = self.ask({kind: {"op": "sync"} for kind in self.processes})
        self.synced = {kind: (a["mono"], a["emulated"]) for kind, a in answers.items()}

    def emulated(self, kind: str, monotonic: float) -> float:
        """A machine time as `kind`'s emulated time."""
        mono, emulated = self.synced[kind]
        return emulated + (monotonic - mono) * self.speed

    def report(self, ids: dict[str, list[str]]) -> dict[str, Any]:
        return self.ask({kind: {"op": "report", "ids": each} for kind, each in ids.items()})

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in self.processes.values():
            assert process.stdin is not None
            try:
                process.stdin.write(json.dumps({"op": "stop"}) + "\n")
                process.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve(kind: str, seed: int, speed: float) -> None:
    with CountingEmulator(types=(kind,), seed=seed, speed=speed) as emu:
        backend: Any = emu.backends[kind]
        workflows = [w.name for w in backend.workflows.values()] if kind == "pixxel" else []
        print(json.dumps(emu.hub_config()[kind]), flush=True)
        cpu = _cpu()
        for line in sys.stdin:
            command = json.loads(line)
            op = command["op"]
            answer: dict[str, Any] = {}
            if op == "submit":
                answer["ids"] = [
                    emu.submit(
                        kind,
                        duration=duration,
                        workflow=workflows[index % len(workflows)] if workflows else None,
                    )
                    for duration, index in command["jobs"]
                ]
            elif op == "sync":
                emu.requests.clear()
                cpu = _cpu()
                answer = {"mono": time.monotonic(), "emulated": emu.clock.now()}
            elif op == "report":
                runs = {job_id: backend.find(job_id) for job_id in command["ids"]}
                answer = {
                    "requests": sum(emu.requests.values()),
                    "cpu": _cpu() - cpu,
                    "runs": {i: [run.ends, run.final_state] for i, run in runs.items()},
                }
            elif op == "stop":
                break
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
