"""The built-in Pixxel backend, loaded through the `jobhub` entry point like any plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobhub import hookimpl


@hookimpl
def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
    from jobhub_pixxel.adapter import PixxelAdapter

    register(PixxelAdapter)


@hookimpl
def jobhub_register_emulators(register: Callable[[Any], None]) -> None:
    from jobhub_pixxel.emulator import PixxelEmulator

    register(PixxelEmulator)
