"""Testing tools for adapter authors and for code that uses jobhub.

    from jobhub.testing import AdapterConformance, ErrorCase, Sample

`AdapterConformance` is the conformance suite an adapter runs, `EmulatorConformance` its
end-to-end part for a plugin that ships an emulator (see docs/plugins.md);
`jobhub.testing.checks` holds the checks as plain functions. The pytest plugin
(`jobhub.testing.plugin`) adds the `jobhub_emulator`, `jobhub_hub` and `jobhub_secret`
fixtures. Names are imported on first use, so loading the plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pytest

# Plain `assert`s in the checks get pytest's detailed failure messages.
pytest.register_assert_rewrite(
    "jobhub.testing.checks", "jobhub.testing.conformance", "jobhub.testing.emulated"
)

__all__ = [
    "SECRET",
    "AdapterConformance",
    "EmulatorConformance",
    "ErrorCase",
    "MockBackend",
    "Sample",
]

_EXPORTS = {
    "AdapterConformance": "jobhub.testing.conformance",
    "EmulatorConformance": "jobhub.testing.emulated",
    "ErrorCase": "jobhub.testing.checks",
    "MockBackend": "jobhub.testing.mock",
    "SECRET": "jobhub.testing.checks",
    "Sample": "jobhub.testing.checks",
}

if TYPE_CHECKING:
    from jobhub.testing.checks import SECRET, ErrorCase, Sample
    from jobhub.testing.conformance import AdapterConformance
    from jobhub.testing.emulated import EmulatorConformance
    from jobhub.testing.mock import MockBackend


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jobhub.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
