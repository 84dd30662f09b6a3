"""`jobhub serve`: the ops dashboard — every backend's jobs on one live page, an API, metrics."""

from __future__ import annotations

import argparse
import os
import sys

from jobhub.commands import ExitCode
from jobhub.commands._args import port, positive, seconds

HELP = "serve every backend's jobs: a live page, a JSON API, an event stream, metrics"
DESCRIPTION = """\
Follow every configured backend (new jobs appear by themselves), record each job's latest
snapshot and every change in a store, and serve them: the page at /, the API under /api/v1
(its OpenAPI document at /api/v1/openapi.json), Server-Sent Events at /api/v1/events,
Prometheus metrics at /metrics. Runs until Ctrl-C (exit 130) or SIGTERM (exit 0), after
committing what it has. The first line it prints is the address it listens on.

Listening beyond 127.0.0.1 needs a read token (--token or JOBHUB_SERVE_TOKEN) or --no-auth;
cancelling needs a write token (--write-token or JOBHUB_SERVE_WRITE_TOKEN). Clients send
"Authorization: Bearer TOKEN". Needs jobhub[serve].
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="store: sqlite:///PATH (default: a file in the data directory) or "
        "postgresql://USER@HOST:PORT/DB",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=port, default=8765, help="port (8765; 0 picks a free one)")
    parser.add_argument(
        "--token", help="read token (default $JOBHUB_SERVE_TOKEN, which ps does not show)"
    )
    parser.add_argument(
        "--write-token", help="token that may also cancel (default $JOBHUB_SERVE_WRITE_TOKEN)"
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="serve without a read token on any address"
    )
    parser.add_argument(
        "--keep-days", type=positive, default=30, metavar="D", help="keep ended jobs D days (30)"
    )
    parser.add_argument(
        "--keep-failed-days",
        type=positive,
        default=90,
        metavar="D",
        help="keep failed jobs D days (90)",
    )
    nodes = parser.add_argument_group(
        "several nodes", "over one --db postgresql://… (docs/deploy.md); needs jobhub[postgres]"
    )
    nodes.add_argument(
        "--role",
        choices=("all", "api", "watcher"),
        default="all",
        help="all (default) and watcher follow backends, sharing them by lease; api follows "
        "none (every role answers HTTP: the API, metrics, probes)",
    )
    nodes.add_argument("--node", metavar="NAME", help="this node's name (default: host and pid)")
    nodes.add_argument(
        "--lease-ttl",
        type=seconds,
        default=15.0,
        metavar="S",
        help="a backend whose node stops renewing for S seconds is taken over (15)",
    )


SERVE_MODULES = ("starlette", "uvicorn", "sse_starlette", "prometheus_client")  # jobhub[serve]


def run(args: argparse.Namespace) -> int:
    from jobhub.commands._common import require_extra

    require_extra("serve", *SERVE_MODULES)
    import asyncio
    from datetime import timedelta

    from jobhub.serve import Options, Server, Service, Tokens, backends_from_config
    from jobhub.serve.auth import check_exposure
    from jobhub.store import Retention, open_store

    tokens = Tokens(
        read=args.token or os.environ.get("JOBHUB_SERVE_TOKEN") or None,
        write=args.write_token or os.environ.get("JOBHUB_SERVE_WRITE_TOKEN") or None,
    )
    check_exposure(args.host, tokens, no_auth=args.no_auth)
    backends, source = backends_from_config(args.config)
    if not backends:
        print(
            "jobhub: warning: no backend is configured — give --config FILE; serving an "
            "empty store",
            file=sys.stderr,
        )
    retention = Retention(
        keep=timedelta(days=args.keep_days), keep_failed=timedelta(days=args.keep_failed_days)
    )
    service = Service(
        backends,
        open_store(args.db),
        Options(
            tokens=tokens,
            retention=retention,
            node=args.node,
            role=args.role,
            lease_ttl=args.lease_ttl,
        ),
        config_source=source,
    )
    server = Server(service, args.host, args.port)
    interrupted = asyncio.run(server.serve(announce=lambda line: print(line, flush=True)))
    return ExitCode.INTERRUPTED if interrupted else ExitCode.OK
