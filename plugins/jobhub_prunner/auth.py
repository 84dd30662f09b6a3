"""prunner's authentication: `Authorization: Bearer <JWT>`, HS256 with the server's secret.

A fresh token is signed as each request is sent (and re-sent on a retry), so a token never
outlives its request by much and a long wait never runs into an expired one. Claims are `sub`
(prunner records it as the job's `user`) and `exp` a minute ahead. There is deliberately no
`iat`: prunner rejects a token whose `iat` lies in its future and allows no clock skew, so a
client clock a second ahead would fail every request.

prunner takes any secret of 16 characters or more; RFC 7518 asks 32 bytes of an HS256 key, and
PyJWT warns about a shorter one on every token it signs. jobhub says so once, when the backend
is configured, and signs without PyJWT's per-token warning.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from typing import Any

import httpx
import jwt
from jwt.algorithms import HMACAlgorithm
from pydantic import SecretStr

from jobhub.errors import ConfigError

__all__ = ["TOKEN_LIFETIME", "JwtAuth"]

TOKEN_LIFETIME = 60  # seconds a signed token stays valid
PRUNNER_MIN_SECRET = 16  # prunner refuses to start with a shorter secret
STRONG_SECRET = 32  # bytes RFC 7518 asks of an HS256 key

log = logging.getLogger("jobhub.prunner")


class _HS256(HMACAlgorithm):
    """HS256 without the key-length check: the length is judged once, at configuration."""

    def check_key_length(self, key: Any) -> None:
        return None


_SIGNER = jwt.PyJWS(algorithms=[])
_SIGNER.register_algorithm("HS256", _HS256(HMACAlgorithm.SHA256))


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
        if self._token is None and self._secret is not None:
            _judge(label, len(self._secret.get_secret_value().encode()))

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
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return _SIGNER.encode(payload, self._secret.get_secret_value(), algorithm="HS256")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.bearer()}"
        yield request


def _judge(label: str, length: int) -> None:
    """One warning, at configuration, for a secret that is short (never the secret itself)."""
    if length < PRUNNER_MIN_SECRET:
        log.warning(
            "%s: jwt_secret is %d bytes; prunner requires at least %d, so the server will "
            "refuse its tokens — use the server's own secret",
            label,
            length,
            PRUNNER_MIN_SECRET,
        )
    elif length < STRONG_SECRET:
        log.warning(
            "%s: jwt_secret is %d bytes; prunner accepts it, but HS256 wants %d or more to be "
            "hard to guess — consider a longer secret on the server and here",
            label,
            length,
            STRONG_SECRET,
        )
