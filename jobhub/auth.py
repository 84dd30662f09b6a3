"""Credentials put on requests as they are sent, never kept in a request or shown in a repr."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from jobhub.errors import ConfigError

if TYPE_CHECKING:
    from jobhub.backend import Adapter

__all__ = ["HeaderAuth"]


class HeaderAuth(httpx.Auth):
    """Puts a secret in one request header as each request is sent (e.g. `X-API-Key`).

    Without a secret it raises `ConfigError` naming the setting to fill, rather than sending
    an unauthenticated request. Its repr never shows the secret.
    """

    def __init__(
        self,
        adapter: Adapter,
        header: str,
        secret: SecretStr | None,
        *,
        setting: str,
        prefix: str = "",
    ) -> None:
        self._adapter_label = f"{adapter.type} backend {adapter.name!r}"
        self._header = header
        self._secret = secret
        self._setting = setting
        self._prefix = prefix

    def __repr__(self) -> str:
        return f"HeaderAuth({self._header!r}, {'**********' if self._secret else None})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._secret is None or not self._secret.get_secret_value():
            raise ConfigError(
                f"{self._adapter_label}: no {self._setting} is set — set it in the "
                "backend's settings or its environment variable"
            )
        request.headers[self._header] = self._prefix + self._secret.get_secret_value()
        yield request
