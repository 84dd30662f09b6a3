"""The whole plugin contract: every hook a jobhub plugin can implement.

A plugin is a module (or object) registered under the `jobhub` entry-point group, with functions
marked `@jobhub.hookimpl`. Hooks are called with keyword arguments; implement only those you need.
They are called through pluggy, one plugin at a time (so a plugin whose hook raises is reported
and the others still register): `tryfirst`/`trylast` order the plugins, and a hookwrapper
(`wrapper=True`) wraps each plugin's call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from jobhub.backend import Adapter
    from jobhub.emulator import EmulatedBackend

hookspec = pluggy.HookspecMarker("jobhub")
hookimpl = pluggy.HookimplMarker("jobhub")


@hookspec
def jobhub_register_adapters(register: Callable[[type[Adapter]], None]) -> None:
    """Register backend adapters: call ``register(AdapterClass)`` once for each backend type the
    plugin provides. ``AdapterClass.type`` is the name users give as a backend's ``type``."""


@hookspec
def jobhub_register_emulators(register: Callable[[type[EmulatedBackend]], None]) -> None:
    """Register local emulators: call ``register(EmulatorClass)`` for each backend type the
    plugin can emulate, so ``jobhub demo``, ``jobhub emulator`` and the testing kit serve it.
    See ``jobhub.emulator`` for the class contract."""
