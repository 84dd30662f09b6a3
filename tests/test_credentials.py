"""Credentials are found generically: every `SecretStr` setting of a backend's settings is a
secret, each adapter declares its own (with the environment variable it defaults to), and the
core knows none of them by name."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from pydantic import SecretStr

from jobhub import Hub
from jobhub.backend import Adapter
from jobhub.commands.backends import credentials
from jobhub.config import FromEnv
from jobhub.errors import ConfigError
from jobhub.http import SyncRunner
from jobhub.plugins import Registry, get_registry
from jobhub.transport import _warned
from tests.conftest import ROOT, SECRET
from tests.fakes import FakeAdapter, FakeSettings

OWN_CREDENTIALS = {
    "sieve": ({"api_key": "SIEVE_API_KEY"}, {"api_key"}),
    "pixxel": ({"api_key": "PIXXEL_API_KEY"}, {"api_key"}),
    "prunner": ({"jwt_secret": "PRUNNER_JWT_SECRET"}, {"jwt_secret", "token"}),
    "wes": ({"url": "WES_URL", "token": "WES_TOKEN"}, {"token"}),
}


class VaultSettings(FakeSettings):
    """A third party's settings with a credential of a name the core has never heard of."""

    passphrase: Annotated[SecretStr | None, FromEnv("VAULT_PASSPHRASE")] = None


class VaultAdapter(FakeAdapter):
    type = "vault"
    Settings = VaultSettings


class VaultPlugin:
    from jobhub.hookspecs import hookimpl

    @staticmethod
    @hookimpl
    def jobhub_register_adapters(register: Callable[[Any], None]) -> None:
        register(VaultAdapter)


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register(VaultPlugin(), name="vault")
    return registry


def test_the_core_names_no_plugins_credential() -> None:
    for module in ("config.py", "http.py"):
        source = (ROOT / "jobhub" / module).read_text()
        named = re.findall(r"\b(api_key|jwt_secret)\b|[\"']token[\"']|\.token\b", source)
        assert named == [], f"jobhub/{module} names {named}"


@pytest.mark.parametrize("backend", sorted(OWN_CREDENTIALS))
def test_each_adapter_declares_its_own_credentials(backend: str) -> None:
    adapter = get_registry().adapter(backend)
    env, secrets = OWN_CREDENTIALS[backend]
    assert adapter.env_defaults == env
    assert set(adapter.Settings.secret_fields()) == secrets


@pytest.mark.parametrize(("backend", "foreign"), [("sieve", "jwt_secret"), ("wes", "api_key")])
def test_a_credential_another_backend_takes_is_an_unknown_setting(
    backend: str, foreign: str
) -> None:
    entry = {"type": backend, "url": "https://x.test", foreign: SECRET}
    with pytest.raises(ConfigError, match=f"{foreign}: unknown setting") as caught:
        Hub({backend: entry}, env={})
    assert SECRET not in str(caught.value)


def vault(registry: Registry, env: dict[str, str], **settings: Any) -> Adapter:
    hub = Hub({"v": {"type": "vault", **settings}}, registry=registry, env=env)
    return hub.backends["v"]


def test_any_secret_setting_is_filled_from_its_variable_and_hidden(registry: Registry) -> None:
    adapter = vault(registry, {"VAULT_PASSPHRASE": SECRET})
    assert adapter.settings.secret_fields() == ("api_key", "passphrase")
    assert list(adapter.settings.secrets()) == ["passphrase"]
    assert SECRET not in repr(adapter.settings) and SECRET not in str(adapter.settings)
    assert credentials(adapter) == {"api_key": False, "passphrase": True}


def test_any_secret_setting_is_warned_about_over_plain_http(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = vault(registry, {}, url="http://vault.example", passphrase=SECRET)
    _warned.clear()
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        SyncRunner(httpx.MockTransport(lambda r: httpx.Response(200))).client(adapter)
    _warned.clear()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "plain HTTP to vault.example" in messages[0]
    assert SECRET not in messages[0]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_any_secret_setting_in_a_file_others_can_read_is_warned_about(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "jobhub.toml"
    config.write_text(f'[backends.v]\ntype = "vault"\npassphrase = "{SECRET}"\n')
    config.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        Hub.from_config(config, registry=registry, env={})
    assert [r.getMessage() for r in caplog.records] == [
        f"config file {config} holds credentials and can be read by other users; "
        f"run: chmod 600 {config}"
    ]
