"""Backend settings, from a Python dict, a TOML file and the environment.

The file holds one ``[backends.<name>]`` table per backend, with the same keys as the dict form:

    [backends.ci]
    type = "prunner"
    url = "http://build:9009"
    timeout = 10

Where a file is looked for, first hit wins: an explicit path, ``$JOBHUB_CONFIG``,
``./jobhub.toml``, ``~/.config/jobhub/config.toml``. A ``./jobhub.toml`` is the one the user did
not choose (it may come with a cloned repository): its backends may not point a credential
taken from the environment at a url other than the vendor's.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from jobhub.errors import ConfigError

__all__ = [
    "MAX_SECONDS",
    "BackendSettings",
    "FromEnv",
    "HeaderSecret",
    "check_permissions",
    "find_config_file",
    "load_config_file",
    "locate_config",
    "refuse_redirected_credentials",
    "settings_error",
]

log = logging.getLogger("jobhub")


# The longest any pause or request may be set to: a day. Past it a wait is no longer
# "slow" but a typo, and far larger values overflow the clocks that schedule them.
MAX_SECONDS = 86400.0


class BackendSettings(BaseModel):
    """Settings every backend understands. Adapters subclass it to add their own keys and to set
    the defaults of theirs (``url``). Secrets are `SecretStr`: they print as ``**********``.

    Types are strict: ``timeout = "5"``, ``timeout = true`` or ``verify = "no"`` are refused,
    not guessed at (a whole number is taken where seconds are asked); numbers are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    type: str
    url: str
    timeout: float = Field(
        default=30.0, gt=0, le=MAX_SECONDS, description="seconds allowed for one request"
    )
    poll_interval: float = Field(
        default=1.0, gt=0, le=MAX_SECONDS, description="first, shortest pause (s)"
    )
    poll_max: float = Field(
        default=30.0, gt=0, le=MAX_SECONDS, description="cap the backoff grows to (s)"
    )
    retries: int = Field(default=3, ge=0, le=100, description="retries of a transient fault")
    concurrency: int = Field(default=8, ge=1, le=1024, description="requests in flight at once")
    long_polls: int = Field(
        default=512,
        ge=1,
        le=4096,
        description="long-polls held open at once while waiting (backends that offer one)",
    )
    verify: bool = Field(default=True, description="verify TLS certificates")
    ca_file: str | None = Field(
        default=None, description="PEM file of CA certificates to trust instead of the system's"
    )
    max_response_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="larger answers are refused"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("has blanks or a line break at an end — check for a stray newline")
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest.split("/")[0]:
            raise ValueError("must be an http:// or https:// URL with a host")
        if "@" in rest.split("/")[0]:
            # It would show in reprs and request logs; credentials have settings of their own.
            raise ValueError(
                "must not hold a user or password; credentials have settings of their own"
            )
        _check_url(value)
        return value

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """The settings that hold credentials: every field typed `SecretStr`."""
        return tuple(
            name
            for name, field in cls.model_fields.items()
            if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
        )

    @classmethod
    def env_defaults(cls) -> dict[str, str]:
        """`{setting: ENV_VAR}` for every field marked `FromEnv`."""
        return {
            name: marker.variable
            for name, field in cls.model_fields.items()
            for marker in field.metadata
            if isinstance(marker, FromEnv)
        }

    def secrets(self) -> dict[str, SecretStr]:
        """The credentials that are set (non-empty), by setting name."""
        found = {name: getattr(self, name) for name in self.secret_fields()}
        return {
            name: value
            for name, value in found.items()
            if isinstance(value, SecretStr) and value.get_secret_value()
        }


@dataclass(frozen=True, slots=True)
class FromEnv:
    """Marks a setting whose unset value is read from an environment variable:

    key: Annotated[HeaderSecret, FromEnv("ACME_KEY")] = None
    """

    variable: str


def _fits_a_header(value: SecretStr | None) -> SecretStr | None:
    """A secret sent in a request header as it is. A stray newline, control character or
    surrounding blank would be refused by the HTTP layer only when sending, in an error (and a
    DEBUG log line of httpcore's) that quotes the header: refuse it here instead."""
    text = value.get_secret_value() if value is not None else ""
    if text != text.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(
            "holds a line break, a control character or surrounding blanks, which cannot "
            "be sent in an HTTP header — check for a stray newline"
        )
    return value


# An optional credential sent in a request header as it is (an API key, a bearer token).
HeaderSecret = Annotated[SecretStr | None, AfterValidator(_fits_a_header)]


# A host name once in ASCII (httpx writes international names in punycode): dot-separated
# labels of letters, digits, "-" and "_", each 1-63 characters.
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?:\.(?!-)[A-Za-z0-9_-]{1,63})*\.?")


def _check_url(value: str) -> None:
    """Refuse, while the settings are read, a url that no request could be sent to (so the
    error names the file and key, rather than surfacing from the HTTP layer on first use)."""
    try:
        url = httpx.URL(value)
        host = url.raw_host.decode("ascii")
        port = url.port
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise ValueError(f"is not a valid URL ({_short(exc)})") from None
    if port is not None and not 0 < port <= 65535:
        raise ValueError(f"port {port} is out of range (1-65535)")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if len(host) > 253 or not _HOST_NAME.fullmatch(host):
            raise ValueError(
                f"host {_short(url.host)!r} is not a valid host name (empty or over-long "
                "labels, blanks or other characters a host name cannot hold)"
            ) from None


def _short(exc: object, limit: int = 100) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def settings_error(exc: ValidationError, *, where: str) -> ConfigError:
    """One readable line per problem: where (file or backend), the key, what is wrong."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(p) for p in err["loc"]) or "(entry)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "finite_number":
            msg = "must be a finite number (not inf or nan)"
        elif err["type"] == "extra_forbidden":
            msg = "unknown setting (check its spelling)"
        elif err["type"] == "missing":
            msg = "required setting is missing"
        problems.append(f"{where}: {key}: {msg}")
    return ConfigError("; ".join(problems))


USER_CONFIG = "~/.config/jobhub/config.toml"


def find_config_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read, or None when there is none (not an error)."""
    found = locate_config(path)
    return found[0] if found is not None else None


def locate_config(path: str | os.PathLike[str] | None = None) -> tuple[Path, bool] | None:
    """The config file to read and whether the user chose it (`path`, ``$JOBHUB_CONFIG``, the
    user config directory) rather than it being found in the current directory; None when
    there is none (not an error)."""
    if path is not None:
        found = Path(path).expanduser()
        if found.is_dir():
            raise ConfigError(f"config file {found} is a directory; give the path of a TOML file")
        if not found.is_file():
            raise ConfigError(f"config file {found} does not exist")
        return found, True
    env = os.environ.get("JOBHUB_CONFIG")
    if env:
        found = Path(env).expanduser()
        if found.is_dir():
            raise ConfigError(
                f"JOBHUB_CONFIG points to {found}, a directory; point it at a TOML file"
            )
        if not found.is_file():
            raise ConfigError(f"JOBHUB_CONFIG points to {found}, which does not exist")
        return found, True
    local = Path("jobhub.toml")
    if local.is_file():
        return local, False
    user = Path(USER_CONFIG).expanduser()
    return (user, True) if user.is_file() else None


def refuse_redirected_credentials(
    path: Path, backends: Mapping[str, Any], adapters: Mapping[str, Any], env: Mapping[str, str]
) -> None:
    """A file found in the current directory (a cloned repository's, say) must not send a
    credential taken from the environment to a url of its choosing: `ConfigError` when one of
    its backends sets a url other than the adapter's default and leaves a credential to the
    environment. `adapters` are those built from `backends`."""
    for name, entry in backends.items():
        adapter = adapters.get(name)
        if adapter is None or "url" not in entry:
            continue
        url_variable = adapter.env_defaults.get("url")
        default = env.get(url_variable) if url_variable else None
        if default is None:
            default = adapter.Settings.model_fields["url"].default
        if isinstance(default, str) and str(entry["url"]).rstrip("/") == default.rstrip("/"):
            continue
        for key in adapter.settings.secret_fields():
            variable = adapter.env_defaults.get(key)
            if key in entry or not variable or not env.get(variable):
                continue
            raise ConfigError(
                f"{path}: backends.{name}: this file in the current directory sets url "
                f"{_short(entry['url'])} and leaves {key} to ${variable}; jobhub does not send "
                "a credential from your environment to a url a file in the current directory "
                f"chose — set {key} in that file, or move the backend to a config you choose "
                f"(--config FILE, $JOBHUB_CONFIG or {USER_CONFIG})"
            )


def check_permissions(path: Path, backends: Mapping[str, Any], adapters: Mapping[str, Any]) -> None:
    """Warn when `path`, read into `backends`, holds a credential (a setting its adapter's
    settings type as a secret) and other users can read it. `adapters` are built from it."""
    holds_secrets = any(
        key in backends.get(name, {})
        for name, adapter in adapters.items()
        for key in adapter.settings.secret_fields()
    )
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if holds_secrets and os.name == "posix" and mode & 0o077:
        log.warning(
            "config file %s holds credentials and can be read by other users; run: chmod 600 %s",
            path,
            path,
        )


def load_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``[backends.<name>]`` tables from a TOML file."""
    try:
        # "utf-8-sig": some editors start a UTF-8 file with a byte-order mark, which TOML
        # would otherwise refuse as a stray character.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    unknown = set(data) - {"backends"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            "backends go in [backends.<name>] tables"
        )
    backends = data.get("backends", {})
    if not isinstance(backends, Mapping):
        raise ConfigError(f"{path}: backends: must be a table of [backends.<name>] tables")
    for name, entry in backends.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: backends.{name}: must be a table of settings")
    return {str(name): dict(entry) for name, entry in backends.items()}
