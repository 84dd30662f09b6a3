"""The plugin manager: loads the `jobhub` entry-point group, built-ins included.

`JOBHUB_LOAD_PLUGINS` (comma-separated entry-point or distribution names) limits which plugins
load; set it to an empty string to load none. A plugin that fails to import, or whose hook
raises, is recorded in `Registry.plugins` with its error and the others keep working.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from jobhub import hookspecs
from jobhub.problems import describe

if TYPE_CHECKING:
    from jobhub.backend import Adapter
    from jobhub.emulator import EmulatedBackend

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "Registry", "get_registry", "reset_registry"]

ENTRY_POINT_GROUP = "jobhub"
log = logging.getLogger("jobhub")


@dataclass
class PluginInfo:
    """What `jobhub plugins` shows for one plugin."""

    name: str
    module: str
    version: str | None
    adapters: list[str] = field(default_factory=list)
    emulators: list[str] = field(default_factory=list)
    error: str | None = None


class Registry:
    """Loaded plugins and what they registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("jobhub")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.adapters: dict[str, type[Adapter]] = {}
        self._emulators: dict[str, type[EmulatedBackend]] | None = None

    # -- loading ----------------------------------------------------------------------------

    def load_entry_points(self, allowed: set[str] | None) -> None:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else None
            if allowed is not None and ep.name not in allowed and dist not in allowed:
                continue
            version = ep.dist.version if ep.dist is not None else None
            info = PluginInfo(name=ep.name, module=ep.value, version=version)
            self.plugins[ep.name] = info
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin is reported, never fatal
                info.error = describe(exc)
                log.warning("jobhub plugin %r failed to load: %s", ep.name, info.error)
                log.debug("%s", traceback.format_exc())

    def register(self, plugin: object, *, name: str, version: str | None = None) -> None:
        """Register a plugin object directly (tests, embedding applications)."""
        self.pm.register(plugin, name=name)
        self.plugins[name] = PluginInfo(name=name, module=repr(plugin), version=version)
        self._collect([name])

    def collect(self) -> None:
        self._collect(list(self.plugins))

    def _collect(self, names: Iterable[str]) -> None:
        for name in self._in_call_order("jobhub_register_adapters", names):
            self._call(name, "jobhub_register_adapters", self._add_adapter)
        if self._emulators is not None:
            for name in self._in_call_order("jobhub_register_emulators", names):
                self._call(name, "jobhub_register_emulators", self._add_emulator)

    @property
    def emulators(self) -> dict[str, type[EmulatedBackend]]:
        """Emulator classes by backend type, collected on first use (they import servers)."""
        if self._emulators is None:
            self._emulators = {}
            for name in self._in_call_order("jobhub_register_emulators", self.plugins):
                self._call(name, "jobhub_register_emulators", self._add_emulator)
        return self._emulators

    def _in_call_order(self, hook_name: str, names: Iterable[str]) -> list[str]:
        """The plugins among `names` that implement the hook (other than by a wrapper), in the
        order pluggy calls them: `tryfirst`/`trylast` first, then the last registered first."""
        wanted = {name for name in names if not self.plugins[name].error}
        hook = getattr(self.pm.hook, hook_name)
        order = []
        for impl in reversed(hook.get_hookimpls()):
            wraps = impl.wrapper or impl.hookwrapper
            if not wraps and impl.plugin_name in wanted and impl.plugin_name not in order:
                order.append(impl.plugin_name)
        return order

    def _call(self, name: str, hook_name: str, add: Callable[[PluginInfo, Any], None]) -> None:
        """Call one plugin's implementation through pluggy: the hook's wrappers from every
        plugin wrap it, and what it registers is credited to it. If it raises, the plugin is
        reported broken and the others keep working."""
        info = self.plugins[name]
        others = [
            plugin
            for other, plugin in self.pm.list_name_plugin()
            if other != name and not self._wraps(plugin, hook_name)
        ]
        hook = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        try:
            hook(register=lambda obj: add(info, obj))
        except Exception as exc:
            info.error = f"{hook_name} raised {describe(exc)}"
            log.warning("jobhub plugin %r: %s", info.name, info.error)

    def _wraps(self, plugin: object, hook_name: str) -> bool:
        """Whether the plugin implements the hook only with wrappers (kept around every call)."""
        impls = [i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if i.plugin is plugin]
        return bool(impls) and all(impl.wrapper or impl.hookwrapper for impl in impls)

    def _add_adapter(self, info: PluginInfo, cls: Any) -> None:
        adapter_type = _type_name(cls)
        if adapter_type in self.adapters and self.adapters[adapter_type] is not cls:
            raise ValueError(f"adapter type {adapter_type!r} is already registered")
        self.adapters[adapter_type] = cls
        info.adapters.append(adapter_type)

    def _add_emulator(self, info: PluginInfo, cls: Any) -> None:
        emulator_type = _type_name(cls)
        assert self._emulators is not None
        if emulator_type in self._emulators and self._emulators[emulator_type] is not cls:
            raise ValueError(f"emulator type {emulator_type!r} is already registered")
        self._emulators[emulator_type] = cls
        info.emulators.append(emulator_type)

    # -- queries ----------------------------------------------------------------------------

    def adapter(self, adapter_type: str) -> type[Adapter]:
        from jobhub.errors import ConfigError

        try:
            return self.adapters[adapter_type]
        except KeyError:
            broken = [p.name for p in self.plugins.values() if p.error]
            known = ", ".join(sorted(self.adapters)) or "none"
            extra = f"; plugins that failed to load: {', '.join(broken)}" if broken else ""
            raise ConfigError(
                f"no adapter for backend type {adapter_type!r} (known: {known}){extra} — "
                "install the plugin that provides it, or check JOBHUB_LOAD_PLUGINS"
            ) from None


def _entry_points() -> list[metadata.EntryPoint]:
    seen: set[str] = set()
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in seen:  # the same distribution can be on the path twice
            seen.add(ep.name)
            found.append(ep)
    return found


def _type_name(cls: Any) -> str:
    type_name = getattr(cls, "type", None)
    if not isinstance(type_name, str) or not type_name:
        raise TypeError(f"{cls!r} has no `type` name")
    return type_name


def _allowed(env: Mapping[str, str]) -> set[str] | None:
    value = env.get("JOBHUB_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _lock:
        if _registry is None:
            registry = Registry()
            registry.load_entry_points(_allowed(os.environ))
            registry.collect()
            _registry = registry
        return _registry


def reset_registry() -> None:
    """Forget loaded plugins; the next `get_registry()` loads them again (tests use this)."""
    global _registry
    with _lock:
        _registry = None
