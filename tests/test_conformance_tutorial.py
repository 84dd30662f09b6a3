"""docs/plugins.md's tutorial, run as written: its adapter module and its test module are read
from the page, and the tutorial's conformance class runs here like any other."""

from __future__ import annotations

import re
import sys
import tomllib
import types

from tests.conftest import ROOT

DOC = ROOT / "docs" / "plugins.md"


def block(marker: str, language: str) -> str:
    """The fenced block that follows `<!-- marker -->` on the page."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```{language}\n(.*?)\n```", text, re.S)
    assert found, f"docs/plugins.md has no ```{language} block after <!-- {marker} -->"
    return found.group(1)


def load(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"{DOC}#{name}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


acme = load("jobhub_acme", block("file: jobhub_acme.py", "python"))
tutorial_tests = load("jobhub_acme_tests", block("file: test_acme.py", "python"))

# The tutorial's own test class, collected here.
TestTutorialAcmeConformance = tutorial_tests.TestAcmeConformance


def test_the_entry_point_names_the_tutorials_module() -> None:
    project = tomllib.loads(block("entry-point", "toml"))
    assert project["project"]["entry-points"]["jobhub"] == {"acme": "jobhub_acme"}


def test_the_tutorials_adapter_is_registered_by_its_hook() -> None:
    registered: list[type] = []
    acme.jobhub_register_adapters(register=registered.append)
    assert registered == [acme.AcmeAdapter]
