"""Schema-driven fuzzing of the API (schemathesis, from the served OpenAPI document): no request
the document allows, nor any malformed one it generates, gets a server error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from jobhub.serve import Options
from jobhub.serve.openapi import openapi_document
from jobhub.store import Retention, open_store
from tests.serve_helpers import Live, live_server
from tests.store_helpers import change, ended, make_job

pytestmark = pytest.mark.timeout(300)

# The stream never ends: its parameters are checked in test_serve_api and test_serve_stream.
schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path="/api/v1/events")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db: Path = tmp_path_factory.mktemp("fuzz") / "serve.db"

    async def fill() -> None:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        jobs = [make_job(n, backend=("ci", "gpu")[n % 2]) for n in range(60)]
        await store.record(
            [change(None, ended(j, "failed") if n % 3 else j) for n, j in enumerate(jobs)]
        )
        await store.close()

    asyncio.run(fill())
    century = timedelta(days=36500)
    options = Options(retention=Retention(keep=century, keep_failed=century))
    with live_server({}, db, options) as server:
        yield server


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case, fuzzed: Live) -> None:
    case.call_and_validate(base_url=fuzzed.url, checks=[not_a_server_error])
