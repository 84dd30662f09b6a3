"""`jobhub serve`: every configured backend's jobs in one store, served as a JSON API, an event
stream, Prometheus metrics and a live page (see docs/serve.md).

    from jobhub.serve import Server, Service, Options
    from jobhub.store import open_store

    service = Service({"ci": {"type": "prunner", "url": "http://build:9009"}}, open_store())
    asyncio.run(Server(service, "127.0.0.1", 0).serve())

How it is built: `service.Service` (one hub per backend, the `ingest.Recorder` writing the
store, the `stream.Broadcaster` feeding the streams, pruning), `api` (the routes), `auth`
(tokens), `health` (each backend's health from its own requests), `metrics`, `openapi`,
`app` (the ASGI app and its security headers), `server` (uvicorn, signals), `static/` (the
page). Importing this package needs `jobhub[serve]`.
"""

from __future__ import annotations

from jobhub.serve.auth import Tokens
from jobhub.serve.server import Server
from jobhub.serve.service import Options, Service

__all__ = ["Options", "Server", "Service", "Tokens", "backends_from_config"]


def backends_from_config(path: str | None) -> tuple[dict[str, dict[str, object]], str | None]:
    """The configured backends (the same search as `Hub.from_config`) and where they came
    from. Without a file: each backend type whose credentials are in the environment."""
    import os

    from jobhub.config import find_config_file, load_config_file
    from jobhub.plugins import get_registry

    found = find_config_file(path)
    if found is not None:
        return dict(load_config_file(found)), f"{found}: backends"
    return {
        name: {}
        for name, cls in get_registry().adapters.items()
        if cls.configured_from_env(os.environ)
    }, None
