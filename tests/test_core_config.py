"""Settings from dicts, TOML files and the environment, and the errors bad ones give."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobhub import Hub
from jobhub.errors import ConfigError
from jobhub.plugins import Registry
from tests.conftest import SECRET
from tests.fakes import FakePlugin


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register(FakePlugin(), name="fake")
    return registry


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_file_configures_named_backends(tmp_path: Path, registry: Registry) -> None:
    config = write(
        tmp_path / "j.toml",
        f"""
[backends.ci]
type = "fake"
url = "http://ci.test:9009"
api_key = "{SECRET}"
timeout = 5
""",
    )
    hub = Hub.from_config(config, registry=registry, env={})
    adapter = hub.backends["ci"]
    assert (adapter.type, str(adapter.base_url), adapter.settings.timeout) == (
        "fake",
        "http://ci.test:9009",
        5.0,
    )
    assert adapter.settings.api_key is not None
    assert adapter.settings.api_key.get_secret_value() == SECRET


def test_type_defaults_to_the_backend_name(registry: Registry) -> None:
    hub = Hub({"fake": {"api_key": "k"}}, registry=registry, env={})
    assert hub.backends["fake"].type == "fake"


def test_credentials_come_from_the_environment(registry: Registry) -> None:
    hub = Hub({"f": {"type": "fake"}}, registry=registry, env={"FAKE_TOKEN": SECRET})
    key = hub.backends["f"].settings.api_key
    assert key is not None and key.get_secret_value() == SECRET


def test_the_file_wins_over_the_environment(registry: Registry) -> None:
    hub = Hub(
        {"f": {"type": "fake", "api_key": "from-file"}},
        registry=registry,
        env={"FAKE_TOKEN": "from-env"},
    )
    key = hub.backends["f"].settings.api_key
    assert key is not None and key.get_secret_value() == "from-file"


def test_without_a_file_the_environment_configures_backends(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("JOBHUB_CONFIG", raising=False)
    hub = Hub.from_config(registry=registry, env={"FAKE_TOKEN": "k"})
    assert list(hub.backends) == ["fake"]
    assert list(Hub.from_config(registry=registry, env={}).backends) == []


def test_jobhub_config_variable_and_local_file_are_found(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "jobhub.toml", '[backends.local]\ntype = "fake"\n')
    monkeypatch.delenv("JOBHUB_CONFIG", raising=False)
    assert list(Hub.from_config(registry=registry, env={}).backends) == ["local"]
    other = write(tmp_path / "other.toml", '[backends.viaenv]\ntype = "fake"\n')
    monkeypatch.setenv("JOBHUB_CONFIG", str(other))
    assert list(Hub.from_config(registry=registry, env={}).backends) == ["viaenv"]


def test_a_missing_file_is_named(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.toml does not exist"):
        Hub.from_config(tmp_path / "nope.toml", registry=registry, env={})


def test_invalid_toml_names_the_file_and_line(tmp_path: Path, registry: Registry) -> None:
    config = write(tmp_path / "bad.toml", "[backends.x]\ntype = \n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML: .*line 2"):
        Hub.from_config(config, registry=registry, env={})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('type = "fake"\napi-key = "x"', r"backends.x: api-key: unknown setting"),
        ('type = "fake"\ntimeout = "soon"', r"backends.x: timeout: Input should be a valid number"),
        ('type = "fake"\ntimeout = -1', r"backends.x: timeout: Input should be greater than 0"),
        (
            'type = "nosuch"',
            r"backends.x.type: no adapter for backend type 'nosuch' \(known: fake\)",
        ),
        (
            'type = "fake"\nurl = "build:9009"',
            r"backends.x: url: must be an http:// or https:// URL with a host",
        ),
        ('type = "fake"\nurl = "ftp://h"', r"backends.x: url: must be an http"),
        ("type = 3", r"backends.x.type: must be a string"),
    ],
)
def test_bad_settings_name_the_file_the_key_and_the_problem(
    tmp_path: Path, registry: Registry, body: str, message: str
) -> None:
    config = write(tmp_path / "c.toml", f"[backends.x]\n{body}\n")
    with pytest.raises(ConfigError, match=message) as caught:
        Hub.from_config(config, registry=registry, env={})
    assert "\n" not in str(caught.value)


def test_unknown_top_level_keys_are_refused(tmp_path: Path, registry: Registry) -> None:
    config = write(tmp_path / "c.toml", '[sieve]\napi_key = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown top-level key\(s\) sieve"):
        Hub.from_config(config, registry=registry, env={})


def test_a_bad_value_is_not_echoed_back(tmp_path: Path, registry: Registry) -> None:
    config = write(tmp_path / "c.toml", f'[backends.x]\ntype = "fake"\napi_key = ["{SECRET}"]\n')
    with pytest.raises(ConfigError) as caught:
        Hub.from_config(config, registry=registry, env={})
    assert "api_key" in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("line", "key", "said"),
    [
        ('url = "http://127.0.0.1:abc"', "url", "port"),
        ('url = "http://[::1"', "url", "not a valid URL"),
        ('url = "http://x.test:99999"', "url", "port"),
        ('url = "http://build.test\\n"', "url", "blanks or a line break"),
        ('url = " http://build.test"', "url", "blanks or a line break"),
        ('url = "http://a..b/api"', "url", "host"),
        ('url = "http://exa mple.test"', "url", "host"),
        ("timeout = inf", "timeout", "finite number"),
        ("timeout = nan", "timeout", "finite number"),
        ("timeout = 1e300", "timeout", "less than or equal to 86400"),
        ("poll_max = 1e300", "poll_max", "less than or equal to 86400"),
        ("poll_interval = inf", "poll_interval", "finite number"),
        ("timeout = true", "timeout", "valid number"),
        ('timeout = "5"', "timeout", "valid number"),
        ('verify = "no"', "verify", "valid boolean"),
        ("verify = 0", "verify", "valid boolean"),
        ("retries = 2.0", "retries", "valid integer"),
        ("retries = 1000000000", "retries", "less than or equal to"),
        ("concurrency = 1000000000", "concurrency", "less than or equal to"),
        ("api_key = 5", "api_key", "valid string"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_file_and_key(
    tmp_path: Path, registry: Registry, line: str, key: str, said: str
) -> None:
    config = write(tmp_path / "c.toml", f'[backends.x]\ntype = "fake"\n{line}\n')
    with pytest.raises(ConfigError) as caught:
        Hub.from_config(config, registry=registry, env={})
    message = str(caught.value)
    assert message.startswith(f"{config}: backends.x: {key}: "), message
    assert said in message and "\n" not in message


def test_whole_numbers_are_taken_where_seconds_are_asked(registry: Registry) -> None:
    hub = Hub({"f": {"type": "fake", "timeout": 5, "poll_max": 60.5}}, registry=registry, env={})
    assert (hub.backends["f"].settings.timeout, hub.backends["f"].settings.poll_max) == (5, 60.5)


def test_a_file_starting_with_a_byte_order_mark_is_read(tmp_path: Path, registry: Registry) -> None:
    config = tmp_path / "bom.toml"
    config.write_bytes(b'\xef\xbb\xbf[backends.ci]\ntype = "fake"\ntimeout = 5\n')
    hub = Hub.from_config(config, registry=registry, env={})
    assert hub.backends["ci"].settings.timeout == 5


def test_a_directory_given_as_the_config_is_named_as_one(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=rf"config file {tmp_path} is a directory"):
        Hub.from_config(tmp_path, registry=registry, env={})
    monkeypatch.setenv("JOBHUB_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match=rf"JOBHUB_CONFIG points to {tmp_path}, a directory"):
        Hub.from_config(registry=registry, env={})


# -- environment credentials and the url they go to ----------------------------------------------

REDIRECTING = '[backends.fake]\nurl = "https://collector.attacker.example/api"\n'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and a home of their own, with no $JOBHUB_CONFIG."""
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JOBHUB_CONFIG", raising=False)
    return tmp_path / "home"


def test_a_local_file_cannot_send_an_environment_credential_to_its_own_url(
    home: Path, registry: Registry
) -> None:
    write(Path("jobhub.toml"), REDIRECTING)
    with pytest.raises(ConfigError) as caught:
        Hub.from_config(registry=registry, env={"FAKE_TOKEN": SECRET})
    message = str(caught.value)
    assert message.startswith("jobhub.toml: backends.fake: ")
    assert "current directory" in message and "$FAKE_TOKEN" in message
    assert "https://collector.attacker.example/api" in message and "--config" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "body",
    [
        REDIRECTING + f'api_key = "{SECRET}"\n',  # the file brings its own credential
        "[backends.fake]\ntimeout = 5\n",  # the vendor's default url
        '[backends.fake]\nurl = "http://fake.test/api/"\n',  # the default, spelt with a slash
    ],
    ids=["own credential", "default url", "default url with a slash"],
)
def test_a_local_file_may_use_the_environment_with_the_default_url_or_bring_its_own(
    home: Path, registry: Registry, body: str
) -> None:
    write(Path("jobhub.toml"), body)
    Path("jobhub.toml").chmod(0o600)
    hub = Hub.from_config(registry=registry, env={"FAKE_TOKEN": SECRET})
    key = hub.backends["fake"].settings.api_key
    assert key is not None and key.get_secret_value() == SECRET


def test_a_file_the_user_chose_may_point_environment_credentials_anywhere(
    home: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"FAKE_TOKEN": SECRET}
    named = write(Path("jobhub.toml"), REDIRECTING)
    assert "fake" in Hub.from_config(named, registry=registry, env=env).backends  # --config
    monkeypatch.setenv("JOBHUB_CONFIG", str(named))
    assert "fake" in Hub.from_config(registry=registry, env=env).backends
    monkeypatch.delenv("JOBHUB_CONFIG")
    named.unlink()
    (home / ".config" / "jobhub").mkdir(parents=True)
    write(home / ".config" / "jobhub" / "config.toml", REDIRECTING)
    assert "fake" in Hub.from_config(registry=registry, env=env).backends


def test_long_polls_is_a_declared_setting_the_waits_hold_to(registry: Registry) -> None:
    from jobhub.waiting.longpoll import MAX_HOLDS, max_holds

    hub = Hub({"b": {"type": "fake", "api_key": SECRET, "long_polls": 3}}, registry=registry)
    assert max_holds(hub.adapter("b")) == 3
    default = Hub({"b": {"type": "fake", "api_key": SECRET}}, registry=registry)
    assert max_holds(default.adapter("b")) == MAX_HOLDS == 512
    for bad in (0, "3", 10**6):
        with pytest.raises(ConfigError, match="long_polls"):
            Hub({"b": {"type": "fake", "api_key": SECRET, "long_polls": bad}}, registry=registry)
