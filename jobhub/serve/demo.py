"""`jobhub demo --serve`: the demo's jobs on the emulated backends, shown in the dashboard.

The emulator runs in this process with every registered emulator that can run here; the demo's
jobs are submitted to it (`jobhub.demo.plan`), and `jobhub serve` follows it with a store in a
temporary directory, removed at the end. Runs until Ctrl-C (exit 130) or SIGTERM (exit 0).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobhub.demo import DEFAULT_SPEED, plan
from jobhub.plugins import get_registry
from jobhub.serve.server import Server
from jobhub.serve.service import Service
from jobhub.store import open_store

__all__ = ["run"]


def run(
    *,
    speed: float = DEFAULT_SPEED,
    jobs_per_backend: int = 12,
    port: int = 0,
    seed: int = 0,
    announce: Callable[[str], Any] = lambda line: print(line, flush=True),
) -> bool:
    """Serve the demo until stopped; True when stopped by Ctrl-C."""
    from jobhub.emulator import Emulator

    types = sorted(get_registry().emulators)
    with Emulator(types, seed=seed, speed=speed) as emu, tempfile.TemporaryDirectory() as temp:
        # Poll about as often as jobs move on the emulated clock.
        interval = min(0.5, max(0.1, 0.5 / speed))
        backends = {
            name: {**entry, "poll_interval": interval, "poll_max": 4 * interval}
            for name, entry in emu.hub_config().items()
        }
        jobs = plan(list(emu.backends), jobs_per_backend, seed=seed)
        service = Service(backends, open_store(f"sqlite:///{Path(temp) / 'demo.db'}"))
        server = Server(service, "127.0.0.1", port)
        for job in jobs:
            emu.submit(job.type, duration=job.duration, outcome=job.outcome)

        def told(line: str) -> None:
            announce(line)
            announce(
                f"jobhub demo: {len(jobs)} jobs on {', '.join(emu.backends)} "
                f"({speed:g}x speed); open {server.url}/ — Ctrl-C stops"
            )

        return asyncio.run(server.serve(announce=told))
