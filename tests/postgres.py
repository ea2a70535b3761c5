"""A real PostgreSQL server on loopback for the tests, from the machine's own
binaries (Debian's `postgresql` package; `.ci/run` installs it if missing).

The server lives in a temporary folder and listens on a free loopback port,
with trust authentication for the `postgres` user (nothing else can reach
it). Each test gets a database of its own. initdb refuses to run as root,
so as root the server runs as the `postgres` system user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

_SEARCH = (
    "/usr/local/bin",
    *sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin")), reverse=True),
)


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (f"{folder}/{name}" for folder in _SEARCH if Path(folder, name).exists()), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed; install Debian's postgresql "
            "package (`.ci/run` does)"
        )
    return found


class PostgresServer:
    """A running server; :meth:`new_database` gives a SQLAlchemy URL."""

    def __init__(self, port: int) -> None:
        self.port = port

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway server; stop it and remove its files at the end."""
    root = Path(tempfile.mkdtemp(prefix="linkage-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres")
    data = root / "data"
    port = _free_port()
    try:
        _run([*as_postgres, _binary("initdb"), "-D", str(data), "--auth=trust",
              "-U", "postgres", "-E", "UTF8"])  # fmt: skip
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
        _run([*as_postgres, _binary("pg_ctl"), "-D", str(data), "-l",
              str(root / "log"), "-o", options, "-w", "start"])  # fmt: skip
        try:
            yield PostgresServer(port)
        finally:
            _run([*as_postgres, _binary("pg_ctl"), "-D", str(data), "-m", "fast",
                  "-w", "stop"])  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}...: {done.stderr or done.stdout}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
