"""A throwaway PostgreSQL server for tests: Debian's `initdb` and `pg_ctl` in a temporary
directory, on a free loopback port, stopped and deleted at the end of the session.

    def test_x(postgres_url: str) -> None:   # a fresh, empty database for this test
        ...

One server per test session, one database per test (created from `template0`, dropped after).
Without the server binaries or psycopg the tests that need them are skipped with the reason and
how to get them; with `JOBHUB_REQUIRE_POSTGRES=1` (set by `.ci/run`) they fail instead.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE = "JOBHUB_REQUIRE_POSTGRES"
HOW = (
    "install Debian's postgresql (apt-get install postgresql) and jobhub[postgres]; "
    f"{REQUIRE}=1 turns this skip into a failure"
)
SUPERUSER = "jobhub"
# When the tests run as root the server runs as this unprivileged account (initdb refuses root).
SERVER_ACCOUNT = "postgres"
START_TIMEOUT = 60


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_binaries() -> Path:
    """The newest installed server's bin directory (the one with `initdb` and `pg_ctl`)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) found")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_account() -> list[str]:
    """The prefix that runs a command as the unprivileged server account when we are root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SERVER_ACCOUNT, "--"]
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={SERVER_ACCOUNT}", f"--regid={SERVER_ACCOUNT}", "--init-groups"]
    raise PostgresUnavailable("running as root without runuser or setpriv to drop privileges")


def _chown_to_server_account(path: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        shutil.chown(path, SERVER_ACCOUNT, SERVER_ACCOUNT)
    except (LookupError, OSError) as error:
        raise PostgresUnavailable(
            f"no {SERVER_ACCOUNT!r} account to run the server as: {error}"
        ) from error


@dataclass
class PostgresServer:
    """A running server: connect as `SUPERUSER` over TCP on 127.0.0.1:`port`."""

    bin: Path
    home: Path
    port: int

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database's name."""
        import psycopg

        name = f"test_{os.getpid()}_{next(_databases)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        command = [*_as_server_account(), *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.home
        )
        if result.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} exited {result.returncode}: "
                f"{result.stderr.strip() or result.stdout.strip()}\n{log}"
            )

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.home}",
                "-c fsync=off",  # a throwaway server: durability is not what is under test
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "start",
            "--wait",
            f"--timeout={START_TIMEOUT}",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log),
            "-o",
            options,
        )

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run(
                str(self.bin / "pg_ctl"), "stop", "--pgdata", str(self.data), "-m", "immediate"
            )


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Start a server in a fresh temporary directory; stop it and delete the directory after."""
    binaries = find_binaries()
    # Not under pytest's tmp_path: that is private to root, and the server account must enter it.
    home = Path(tempfile.mkdtemp(prefix="jobhub-pg-"))
    try:
        _chown_to_server_account(home)
        for attempt in itertools.count(1):
            server = PostgresServer(bin=binaries, home=home, port=free_port())
            try:
                server.start()
                break
            except PostgresUnavailable:
                # Another process may have taken the port between probing and binding.
                server.stop()
                if attempt == 3:
                    raise
                shutil.rmtree(server.data, ignore_errors=True)
                time.sleep(0.2)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where PostgreSQL is required."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE}=1) but unavailable: {reason}")
    pytest.skip(f"no PostgreSQL: {reason} — {HOW}")


_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        unavailable(f"psycopg is not installed ({error})")
    try:
        with running_server() as server:
            yield server
    except PostgresUnavailable as error:
        unavailable(str(error))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new empty database on the session's server, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def store_url_for(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """A fresh store's --db url for `request.param`: "sqlite" (a file in `tmp`) or
    "postgresql" (a new database on the session's server, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp / 'serve.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)
