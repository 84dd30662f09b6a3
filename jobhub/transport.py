"""How jobhub connects to a backend: the options of each HTTP client (timeouts, limits, TLS,
no redirects, no proxy settings from the environment), the `User-Agent` every request carries,
and the warnings, once per backend, about settings that put its credentials at risk.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx

from jobhub.backend import Adapter
from jobhub.errors import ConfigError

__all__ = ["USER_AGENT", "client_options", "is_loopback"]

log = logging.getLogger("jobhub.http")  # where these warnings have always been logged


def _user_agent() -> str:
    try:
        return f"jobhub/{version('jobhub')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "jobhub"


# Every request says who sends it, so a backend's operators can tell jobhub's calls apart.
USER_AGENT = _user_agent()


def is_loopback(host: str) -> bool:
    """True when `host` can only be this machine: "localhost" or a loopback address
    (127.0.0.0/8, ::1, ::ffff:127.x.x.x). Decided by address, never by how a name begins:
    `127.attacker.example` is someone else's host."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


_warned: set[tuple[str, str, str]] = set()


def _warn_once(adapter: Adapter, what: str, message: str) -> None:
    key = (adapter.name, str(adapter.base_url), what)
    if key not in _warned:
        _warned.add(key)
        log.warning("%s backend %r: %s", adapter.type, adapter.name, message)


def _check_transport(adapter: Adapter) -> None:
    """Warn (once per backend) about settings that put credentials at risk."""
    settings = adapter.settings
    if not settings.verify:
        _warn_once(adapter, "verify", "TLS certificate verification is OFF (verify = false)")
    host = adapter.base_url.host
    loopback = is_loopback(host)
    has_secret = bool(settings.secrets())
    if adapter.base_url.scheme == "http" and not loopback and has_secret:
        _warn_once(
            adapter,
            "plain-http",
            f"credentials are sent over plain HTTP to {host}; use https:// if the server has it",
        )


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """What `verify=True` gives (certifi's CAs), made once: making one loads the CA bundle
    (about 30 ms of CPU), and a backend's connections are split over several clients."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


def _tls(adapter: Adapter) -> bool | ssl.SSLContext:
    settings = adapter.settings
    if not settings.verify:
        return False
    if settings.ca_file is None:
        return _default_tls()
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{adapter.type} backend {adapter.name!r}: ca_file {settings.ca_file} cannot be "
            f"used ({type(exc).__name__}: {exc}) — point it at a PEM file of CA certificates"
        ) from None


def client_options(adapter: Adapter, connections: int | None = None) -> dict[str, Any]:
    """The keyword arguments of an `httpx.Client` or `AsyncClient` for the backend, with
    `connections` at once (default: its `concurrency`); warns once about risky settings."""
    settings = adapter.settings
    _check_transport(adapter)
    connections = connections or settings.concurrency
    return {
        "timeout": httpx.Timeout(settings.timeout),
        "verify": _tls(adapter),
        "follow_redirects": False,
        "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        "trust_env": False,
    }
