"""prunner's authentication: `Authorization: Bearer <JWT>`, HS256 with the server's secret.

A fresh token is signed as each request is sent (and re-sent on a retry), so a token never
outlives its request by much and a long wait never runs into an expired one. Claims are `sub`
(prunner records it as the job's `user`) and `exp` a minute ahead. There is deliberately no
`iat`: prunner rejects a token whose `iat` lies in its future and allows no clock skew, so a
client clock a second ahead would fail every request.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import httpx
import jwt
from pydantic import SecretStr

from jobhub.errors import ConfigError

__all__ = ["TOKEN_LIFETIME", "JwtAuth"]

TOKEN_LIFETIME = 60  # seconds a signed token stays valid


class JwtAuth(httpx.Auth):
    """Signs a short-lived HS256 JWT from `jwt_secret` for every request, or sends a ready
    `token` as it is (a token wins: it is the more specific setting). Without either it raises
    `ConfigError` naming both settings. Its repr shows neither."""

    def __init__(
        self,
        *,
        label: str,
        user: str,
        jwt_secret: SecretStr | None,
        token: SecretStr | None,
    ) -> None:
        self._label = label
        self._user = user
        # Kept as SecretStr so that no attribute ever prints a credential.
        self._secret = jwt_secret if jwt_secret and jwt_secret.get_secret_value() else None
        self._token = token if token and token.get_secret_value() else None

    def __repr__(self) -> str:
        if self._token is not None:
            how = "token=**********"
        elif self._secret is not None:
            how = "jwt_secret=**********"
        else:
            how = "no credentials"
        return f"JwtAuth(sub={self._user!r}, {how})"

    def bearer(self) -> str:
        """The token for the next request."""
        if self._token is not None:
            return self._token.get_secret_value()
        if self._secret is None:
            raise ConfigError(
                f"{self._label}: neither jwt_secret nor token is set — set jwt_secret (or the "
                "PRUNNER_JWT_SECRET environment variable) to the server's JWT secret, or token "
                "to a ready JWT"
            )
        claims = {"sub": self._user, "exp": int(time.time()) + TOKEN_LIFETIME}
        return jwt.encode(claims, self._secret.get_secret_value(), algorithm="HS256")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.bearer()}"
        yield request
