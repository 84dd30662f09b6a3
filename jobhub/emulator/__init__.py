"""The embedded emulator: local HTTP servers that speak each backend's wire format, with jobs
that queue, run and end over (emulated) time.

    from jobhub import Hub
    from jobhub.emulator import Emulator

    with Emulator(seed=0, speed=20) as emu:
        hub = Hub(emu.hub_config())
        job_id = emu.submit("prunner", duration=5, outcome="failed")
        job = hub.get(f"prunner:{job_id}")

The framework knows no backend by name: each backend's emulator is an `EmulatedBackend` that a
plugin registers through the ``jobhub_register_emulators`` hook. See docs/emulator.md.
"""

from __future__ import annotations

from jobhub.emulator.backend import EmulatedBackend, json_response
from jobhub.emulator.clock import Clock
from jobhub.emulator.dag import Graph, Step, TaskSpan, schedule
from jobhub.emulator.faults import FAULT_KINDS, Faults
from jobhub.emulator.lifecycle import Plan, Planner, Run, SteeringError, parse_steering
from jobhub.emulator.server import Emulator, config_toml, serve

__all__ = [
    "FAULT_KINDS",
    "Clock",
    "EmulatedBackend",
    "Emulator",
    "Faults",
    "Graph",
    "Plan",
    "Planner",
    "Run",
    "SteeringError",
    "Step",
    "TaskSpan",
    "config_toml",
    "json_response",
    "parse_steering",
    "schedule",
    "serve",
]
