"""Plugin loading through real entry points: built-ins, a third-party package, broken plugins,
and JOBHUB_LOAD_PLUGINS."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from jobhub import Hub
from jobhub.plugins import get_registry, reset_registry
from tests.conftest import SECRET

THIRD_PARTY = """
from jobhub import hookimpl
from tests.fakes import FakeAdapter


class ThirdPartyAdapter(FakeAdapter):
    type = "thirdparty"


class OtherAdapter(FakeAdapter):
    type = "thirdparty-other"


@hookimpl
def jobhub_register_adapters(register):
    register(ThirdPartyAdapter)
    register(OtherAdapter)
"""


def install(
    site: Path, dist: str, version: str, modules: dict[str, str], eps: dict[str, str]
) -> None:
    """Lay out an installed distribution (a dist-info with entry points) under `site`."""
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"  # as installers name it
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{name} = {target}" for name, target in eps.items())
    (info / "entry_points.txt").write_text(f"[jobhub]\n{lines}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for name in (
        "thirdparty_plugin",
        "broken_plugin",
        "raising_plugin",
        "alpha_plugin",
        "beta_plugin",
    ):
        sys.modules.pop(name, None)
    reset_registry()


def test_built_in_backends_load_through_entry_points() -> None:
    registry = get_registry()
    assert {"sieve", "pixxel", "prunner"} <= set(registry.adapters)
    for name in ("sieve", "pixxel", "prunner"):
        info = registry.plugins[name]
        assert info.error is None and info.adapters == [name] and info.version


def test_a_third_party_plugin_works_end_to_end(site: Path) -> None:
    install(
        site,
        "jobhub-thirdparty",
        "1.2.3",
        {"thirdparty_plugin": THIRD_PARTY},
        {"thirdparty": "thirdparty_plugin"},
    )
    registry = get_registry()
    info = registry.plugins["thirdparty"]
    assert (info.version, info.adapters, info.error) == (
        "1.2.3",
        ["thirdparty", "thirdparty-other"],
        None,
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "7", "status": "ok"})

    hub = Hub(
        {"tp": {"type": "thirdparty", "api_key": SECRET}},
        transport=httpx.MockTransport(answer),
        env={},
    )
    with hub:
        assert hub.get("tp:7").state == "succeeded"


def test_a_plugin_that_fails_to_import_is_reported_and_others_work(site: Path) -> None:
    install(
        site,
        "jobhub-broken",
        "0.1",
        {"broken_plugin": "import not_a_module_anywhere\n"},
        {"broken": "broken_plugin"},
    )
    registry = get_registry()
    assert "ModuleNotFoundError" in (registry.plugins["broken"].error or "")
    assert {"sieve", "pixxel", "prunner"} <= set(registry.adapters)


def test_a_plugin_whose_hook_raises_is_reported(site: Path) -> None:
    source = """
    from jobhub import hookimpl

    @hookimpl
    def jobhub_register_adapters(register):
        raise RuntimeError("cannot start")
    """
    install(
        site, "jobhub-raising", "0.1", {"raising_plugin": source}, {"raising": "raising_plugin"}
    )
    registry = get_registry()
    assert registry.plugins["raising"].error == (
        "jobhub_register_adapters raised RuntimeError: cannot start"
    )
    assert "sieve" in registry.adapters


def test_a_type_from_a_broken_plugin_names_the_failure(site: Path) -> None:
    install(
        site,
        "jobhub-broken",
        "0.1",
        {"broken_plugin": "raise ImportError('nope')\n"},
        {"broken": "broken_plugin"},
    )
    from jobhub.errors import ConfigError

    with pytest.raises(ConfigError, match="plugins that failed to load: broken"):
        Hub({"x": {"type": "broken"}}, env={})


def test_load_plugins_variable_limits_what_loads(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        site,
        "jobhub-thirdparty",
        "1.0",
        {"thirdparty_plugin": THIRD_PARTY},
        {"thirdparty": "thirdparty_plugin"},
    )
    monkeypatch.setenv("JOBHUB_LOAD_PLUGINS", "thirdparty, sieve")
    assert set(get_registry().adapters) == {"sieve", "thirdparty", "thirdparty-other"}


def test_load_plugins_accepts_distribution_names(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        site,
        "jobhub-thirdparty",
        "1.0",
        {"thirdparty_plugin": THIRD_PARTY},
        {"thirdparty": "thirdparty_plugin"},
    )
    monkeypatch.setenv("JOBHUB_LOAD_PLUGINS", "jobhub-thirdparty")
    assert set(get_registry().plugins) == {"thirdparty"}


def test_empty_load_plugins_loads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBHUB_LOAD_PLUGINS", "")
    assert get_registry().adapters == {}


def contender(mark: str) -> str:
    """A plugin registering its own class under the type `contested`, its hook marked `mark`."""
    return f"""
    from jobhub import hookimpl
    from tests.fakes import FakeAdapter

    class Contender(FakeAdapter):
        type = "contested"

    @hookimpl({mark})
    def jobhub_register_adapters(register):
        register(Contender)
    """


@pytest.mark.parametrize(("first", "last"), [("alpha", "beta"), ("beta", "alpha")])
def test_tryfirst_and_trylast_decide_which_plugin_holds_a_contested_type(
    site: Path, first: str, last: str
) -> None:
    for name, mark in ((first, "tryfirst=True"), (last, "trylast=True")):
        modules = {f"{name}_plugin": contender(mark)}
        install(site, f"jobhub-{name}", "1.0", modules, {name: f"{name}_plugin"})
    registry = get_registry()
    assert registry.adapters["contested"] is sys.modules[f"{first}_plugin"].Contender
    assert registry.plugins[first].adapters == ["contested"]
    assert registry.plugins[last].error == (
        "jobhub_register_adapters raised ValueError: adapter type 'contested' is already registered"
    )
