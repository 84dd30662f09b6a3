"""The built-in prunner backend, loaded through the `jobhub` entry point like any plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobhub import hookimpl


@hookimpl
def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
    from jobhub_prunner.adapter import PrunnerAdapter

    register(PrunnerAdapter)


@hookimpl
def jobhub_register_emulators(register: Callable[[Any], None]) -> None:
    from jobhub_prunner.emulator import PrunnerEmulator

    register(PrunnerEmulator)
