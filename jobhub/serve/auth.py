"""Who may read and who may cancel: Bearer tokens, compared in constant time.

`--token` (or `JOBHUB_SERVE_TOKEN`) grants reading, `--write-token` (`JOBHUB_SERVE_WRITE_TOKEN`)
reading and cancelling. Without a read token (`--no-auth`, or loopback without one) anyone who
can reach the server reads; without a write token nobody cancels. The page and its files, and
`/healthz`, `/readyz`, are open: they hold no job data.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import IntEnum

from starlette.requests import Request

from jobhub.errors import ConfigError
from jobhub.transport import is_loopback

__all__ = ["Access", "Tokens", "check_exposure"]


class Access(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


def _digest(token: str) -> bytes:
    # Comparing digests of equal length: the time taken says nothing of the token's length.
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Tokens:
    read: str | None = field(default=None, repr=False)
    write: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name, token in (("--token", self.read), ("--write-token", self.write)):
            if token is not None and (len(token) < 16 or token != token.strip()):
                raise ConfigError(
                    f"{name}: a token needs at least 16 characters and no surrounding "
                    "blanks — e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe())'`"
                )

    def access(self, request: Request) -> Access:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        presented = _digest(given.strip()) if scheme.lower() == "bearer" and given else None
        wrote = presented is not None and self.write is not None
        if wrote and hmac.compare_digest(presented or b"", _digest(self.write or "")):
            return Access.WRITE
        if self.read is None:
            return Access.READ
        if presented is not None and hmac.compare_digest(presented, _digest(self.read)):
            return Access.READ
        return Access.NONE


def check_exposure(host: str, tokens: Tokens, *, no_auth: bool) -> None:
    """Refuse to listen beyond this machine without a read token, unless told `--no-auth`."""
    if tokens.read is None and not no_auth and not is_loopback(host):
        raise ConfigError(
            f"--host {host}: anyone who can reach it could read every job — give --token "
            "(or JOBHUB_SERVE_TOKEN), or --no-auth to serve it open on purpose"
        )
