"""The throwaway PostgreSQL the store and lease tests run against: a real server on loopback,
one empty database per test."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(120)


def test_each_test_gets_an_empty_database_on_a_loopback_server(postgres_url: str) -> None:
    import psycopg

    assert postgres_url.startswith("postgresql://jobhub@127.0.0.1:")
    with psycopg.connect(postgres_url) as connection:
        version = connection.execute("SHOW server_version_num").fetchone()
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        connection.execute("CREATE TABLE scratch (n int)")
    assert version is not None and int(version[0]) >= 120000
    assert tables == (0,)
