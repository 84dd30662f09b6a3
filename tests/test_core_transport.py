"""Transport defaults that protect credentials: TLS on, warnings where settings risk a secret."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from jobhub import Hub
from jobhub.http import SyncRunner
from jobhub.plugins import Registry
from jobhub.transport import _warned
from tests.conftest import SECRET
from tests.fakes import FakePlugin


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register(FakePlugin(), name="fake")
    _warned.clear()
    return registry


def warnings_for(
    registry: Registry, caplog: pytest.LogCaptureFixture, **settings: object
) -> list[str]:
    hub = Hub({"f": {"type": "fake", "api_key": SECRET, **settings}}, registry=registry, env={})
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        runner = SyncRunner()
        runner.client(hub.backends["f"])
        runner.close()
        runner = SyncRunner()
        runner.client(hub.backends["f"])
        runner.close()
    return [r.getMessage() for r in caplog.records]


def test_tls_verification_is_on_by_default(registry: Registry) -> None:
    hub = Hub({"f": {"type": "fake", "url": "https://x.test"}}, registry=registry, env={})
    assert hub.backends["f"].settings.verify is True


def test_turning_tls_verification_off_warns_once(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    messages = warnings_for(registry, caplog, url="https://x.test", verify=False)
    assert messages == ["fake backend 'f': TLS certificate verification is OFF (verify = false)"]


def test_credentials_over_plain_http_to_a_remote_host_warn_once(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    messages = warnings_for(registry, caplog, url="http://build.example:9009")
    assert len(messages) == 1 and "plain HTTP to build.example" in messages[0]
    assert SECRET not in messages[0]


@pytest.mark.parametrize("url", ["http://localhost:9009", "http://127.0.0.1:1", "https://x.test"])
def test_loopback_and_https_do_not_warn(
    registry: Registry, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    assert warnings_for(registry, caplog, url=url) == []


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_config_file_others_can_read_is_warned_about(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "jobhub.toml"
    config.write_text(f'[backends.f]\ntype = "fake"\napi_key = "{SECRET}"\n')
    config.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        Hub.from_config(config, registry=registry, env={})
    assert [r.getMessage() for r in caplog.records] == [
        f"config file {config} holds credentials and can be read by other users; "
        f"run: chmod 600 {config}"
    ]
    caplog.clear()
    config.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="jobhub"):
        Hub.from_config(config, registry=registry, env={})
    assert caplog.records == []


def test_a_url_holding_a_password_is_refused(registry: Registry) -> None:
    from jobhub.errors import ConfigError

    with pytest.raises(ConfigError, match="url: must not hold a user or password") as caught:
        Hub(
            {"f": {"type": "fake", "url": f"https://me:{SECRET}@x.test"}}, registry=registry, env={}
        )
    assert SECRET not in str(caught.value)


def test_by_default_certificates_and_host_names_are_checked_against_certifis_cas(
    registry: Registry,
) -> None:
    import ssl

    from jobhub.transport import _tls

    hub = Hub({"f": {"type": "fake", "url": "https://x.test"}}, registry=registry, env={})
    context = _tls(hub.backends["f"])
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50


def test_a_ca_file_replaces_the_system_trust_store(registry: Registry) -> None:
    import certifi

    from jobhub.transport import _tls

    hub = Hub(
        {"f": {"type": "fake", "url": "https://x.test", "ca_file": certifi.where()}},
        registry=registry,
        env={},
    )
    context = _tls(hub.backends["f"])
    assert not isinstance(context, bool) and context.cert_store_stats()["x509_ca"] > 50


def test_an_unusable_ca_file_is_a_config_error_naming_it(
    registry: Registry, tmp_path: Path
) -> None:
    from jobhub.errors import ConfigError

    missing = tmp_path / "nope.pem"
    hub = Hub(
        {"f": {"type": "fake", "url": "https://x.test", "ca_file": str(missing)}},
        registry=registry,
        env={},
    )
    with hub, pytest.raises(ConfigError, match=f"ca_file {missing} cannot be used"):
        hub.get("f:1")
