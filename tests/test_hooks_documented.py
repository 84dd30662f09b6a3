"""Every hook has a test and every hook is documented (the habit datasette keeps): adding a hook
to jobhub/hookspecs.py without both fails here. Also the tests of each hook, and a check that
every fixture of the conformance kit is documented."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from jobhub import hookimpl, hookspecs
from jobhub.emulator import EmulatedBackend
from jobhub.plugins import Registry
from jobhub.testing import AdapterConformance, EmulatorConformance
from tests.conftest import ROOT
from tests.fakes import FakeAdapter

DOC = ROOT / "docs" / "plugins.md"


def hook_names() -> list[str]:
    return sorted(
        name
        for name, function in vars(hookspecs).items()
        if name.startswith("jobhub_") and hasattr(function, "jobhub_spec")
    )


def hook_arguments(name: str) -> list[str]:
    return list(inspect.signature(getattr(hookspecs, name)).parameters)


def test_hooks_are_found() -> None:
    assert hook_names() == ["jobhub_register_adapters", "jobhub_register_emulators"]


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test(hook: str) -> None:
    tests = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tests |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert f"test_hook_{hook}" in tests, f"no test named test_hook_{hook} in tests/"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented_with_its_arguments(hook: str) -> None:
    heading = f"### `{hook}({', '.join(hook_arguments(hook))})`"
    assert heading in DOC.read_text(encoding="utf-8").splitlines(), (
        f"docs/plugins.md has no heading {heading!r}"
    )


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_argument_is_described(hook: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"### `{hook}(", 1)[1].split("\n### ", 1)[0]
    for argument in hook_arguments(hook):
        assert f"- `{argument}`:" in section, f"{hook}: argument {argument!r} is not described"


def conformance_fixtures() -> list[str]:
    return sorted(
        name
        for kit in (AdapterConformance, EmulatorConformance)
        for name, member in inspect.getmembers(kit)
        # how a fixture is marked: pytest 8.4 on, and before
        if hasattr(member, "_fixture_function_marker") or hasattr(member, "_pytestfixturefunction")
    )


def test_conformance_fixtures_are_found() -> None:
    assert {"adapter_class", "samples", "secret", "hub", "emulator"} <= set(conformance_fixtures())


@pytest.mark.parametrize("fixture", conformance_fixtures())
def test_every_conformance_fixture_is_documented(fixture: str) -> None:
    section = DOC.read_text(encoding="utf-8").split("## The conformance kit", 1)[1]
    assert f"`{fixture}`" in section, f"the kit's fixture {fixture!r} is not in docs/plugins.md"


# -- the hooks -------------------------------------------------------------------------------


class OtherFake(FakeAdapter):
    type = "otherfake"


class TwoAdapters:
    @staticmethod
    @hookimpl
    def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
        register(FakeAdapter)
        register(OtherFake)


class Clash:
    """Registers a different class under a type another plugin holds."""

    @staticmethod
    @hookimpl
    def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
        register(type("Impostor", (FakeAdapter,), {"type": "fake"}))


def test_hook_jobhub_register_adapters() -> None:
    registry = Registry()
    registry.register(TwoAdapters(), name="two")
    registry.register(Clash(), name="clash")
    assert registry.adapters == {"fake": FakeAdapter, "otherfake": OtherFake}
    assert registry.plugins["two"].adapters == ["fake", "otherfake"]
    assert registry.plugins["clash"].error == (
        "jobhub_register_adapters raised ValueError: adapter type 'fake' is already registered"
    )


class FakeEmulator(EmulatedBackend):
    type = "fake"

    def routes(self) -> list[Any]:
        return []

    def submit(self, client: Any, **options: Any) -> str:
        raise NotImplementedError


class WithEmulator:
    collected = 0

    @hookimpl
    def jobhub_register_emulators(self, register: Callable[[Any], None]) -> None:
        WithEmulator.collected += 1
        register(FakeEmulator)


def test_hook_jobhub_register_emulators() -> None:
    registry = Registry()
    registry.register(WithEmulator(), name="emu")
    assert WithEmulator.collected == 0  # emulators import servers: collected on first use
    assert registry.emulators == {"fake": FakeEmulator}
    assert registry.plugins["emu"].emulators == ["fake"]
    assert WithEmulator.collected == 1


class OtherFakeEmulator(FakeEmulator):
    pass


class ClashingEmulator:
    @staticmethod
    @hookimpl
    def jobhub_register_emulators(register: Callable[[Any], None]) -> None:
        register(OtherFakeEmulator)


def test_a_second_emulator_for_one_type_is_reported_and_the_first_kept() -> None:
    registry = Registry()
    registry.register(ClashingEmulator(), name="clash")
    registry.register(WithEmulator(), name="emu")  # pluggy calls the last registered first
    assert registry.emulators == {"fake": FakeEmulator}
    assert registry.plugins["clash"].error == (
        "jobhub_register_emulators raised ValueError: emulator type 'fake' is already registered"
    )
    assert registry.plugins["emu"].error is None


class Watching:
    """A hookwrapper: sees each plugin's registration before and after it runs."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.seen: list[tuple[set[str], set[str]]] = []

    @hookimpl(wrapper=True)
    def jobhub_register_adapters(self, register: Callable[[Any], None]) -> Any:
        before = set(self.registry.adapters)
        result = yield
        self.seen.append((before, set(self.registry.adapters)))
        return result


class Failing:
    @staticmethod
    @hookimpl
    def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
        raise RuntimeError("cannot start")


class Forgiving:
    """A hookwrapper that turns any plugin's failure into no registration."""

    @staticmethod
    @hookimpl(wrapper=True)
    def jobhub_register_adapters(register: Callable[[Any], None]) -> Any:
        try:
            return (yield)
        except RuntimeError:
            return []


def test_a_hookwrapper_wraps_each_plugins_registration() -> None:
    registry = Registry()
    watching = Watching(registry)
    registry.register(watching, name="watching")
    registry.register(TwoAdapters(), name="two")
    assert watching.seen == [(set(), {"fake", "otherfake"})]
    assert registry.plugins["watching"].error is None


def test_a_hookwrapper_can_handle_another_plugins_failure() -> None:
    registry = Registry()
    registry.register(Forgiving(), name="forgiving")
    registry.register(Failing(), name="failing")
    registry.register(TwoAdapters(), name="two")
    assert registry.plugins["failing"].error is None
    assert set(registry.adapters) == {"fake", "otherfake"}
