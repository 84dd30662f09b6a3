"""The adapters a hub is configured with: one per configured backend, built from its settings
(a config file's `backends` table, a mapping given in code) or, with none given, one per
backend type whose credentials are in the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from jobhub.backend import Adapter
from jobhub.config import settings_error
from jobhub.errors import ConfigError
from jobhub.plugins import Registry

__all__ = ["BackendsConfig", "build_adapters", "from_environment"]

BackendsConfig = Mapping[str, Mapping[str, Any]]


def build_adapters(
    backends: BackendsConfig,
    *,
    registry: Registry,
    env: Mapping[str, str],
    where: str = "backends",
) -> dict[str, Adapter]:
    """One adapter per configured backend; every problem raised as a `ConfigError`."""
    if not isinstance(backends, Mapping):
        raise ConfigError(f"{where}: backends must be a mapping of name -> settings")
    adapters: dict[str, Adapter] = {}
    for name, entry in backends.items():
        if not isinstance(name, str) or not name or ":" in name:
            raise ConfigError(f"{where}: backend name {name!r} must be non-empty, without ':'")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}.{name}: settings must be a mapping")
        adapter_type = entry.get("type", name)
        if not isinstance(adapter_type, str):
            raise ConfigError(f"{where}.{name}.type: must be a string")
        try:
            cls = registry.adapter(adapter_type)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{name}.type: {exc}") from None
        try:
            settings = cls.settings_from(name, entry, env)
        except ValidationError as exc:
            raise settings_error(exc, where=f"{where}.{name}") from None
        adapters[name] = cls(name, settings)
    return adapters


def from_environment(registry: Registry, env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Every backend type whose credentials are in `env`, configured under its type's name."""
    return {
        adapter_type: {}
        for adapter_type, cls in registry.adapters.items()
        if cls.configured_from_env(env)
    }
