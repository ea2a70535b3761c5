"""A small linkage world for the reveal tests, built through the real CLI.

Two agencies (police and health) export demo records plus one person whose
name and birth date occur nowhere else; they encode, upload to a real service
on loopback, the operator runs the linkage, and the police resolve their own
results to learn the distinctive person's match ID. An investigator (with an
X25519 key pair), two approvers (with signing keys) and a person who is both
investigator and approver are registered. Each agency has its own signing key
and a trust file pinning the approvers and investigators (and the policy's k
and lifetime); each investigator a trust file pinning both agencies' keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import Result

from linkage.reveal.policy import DEFAULT_POLICY, RevealPolicy, format_duration
from linkage.service.loopback import running_service
from linkage.storage.tables import metadata
from tests.conftest import CONFIGS, RunCli, database_for

SCHEMA = CONFIGS / "schemas" / "demo.json"
AGENCIES = ("police", "health")

# Nobody else in the demo data is called this or born that day.
GIVEN, SURNAME = "Zephyrine", "Quillfeather"
BIRTH = ("1961-07-14", "14/07/1961", "19610714", "14.07.1961")
POLICE_ROW = (
    'PX0000001,"QUILLFEATHER, ZEPHYRINE",14/07/1961,F,12 MARBLEWOOD LANE,EPPING,2121\n'
)
HEALTH_ROW = (
    "MRNX0000001,Zephyrine,Quillfeather,1961-07-14,female,"
    "12 Marblewood Lane,Epping,2121\n"
)


@dataclass
class World:
    """Everything a reveal test needs: the server, files, tokens and the match."""

    run_cli: RunCli
    root: Path
    url: str
    data_dir: Path
    project_id: int
    match_id: str
    database_url: str

    def path(self, name: str) -> Path:
        return self.root / name

    def cli(self, *args: str | Path, token: str | None = None) -> Result:
        """Run `linkage` with ``--server`` and, if given, ``--token-file``."""
        extra: list[str | Path] = ["--server", self.url]
        if token is not None:
            extra += ["--token-file", self.path(f"{token}.token")]
        return self.run_cli(*args, *extra)

    def ok(self, *args: str | Path, token: str | None = None) -> Result:
        """Like :meth:`cli`, and the command must succeed."""
        result = self.cli(*args, token=token)
        assert result.exit_code == 0, result.output
        return result

    def local(self, *args: str | Path) -> Result:
        """Run an offline `linkage` command; it must succeed."""
        result = self.run_cli(*args)
        assert result.exit_code == 0, result.output
        return result

    def request(self, *parties: str, purpose: str = "test") -> int:
        """The investigator asks to reveal the match; return the request ID."""
        party_args: list[str] = []
        for party in parties or ("health",):
            party_args += ["--party", party]
        result = self.ok(
            "reveal", "request", "--project", str(self.project_id),
            "--match-id", self.match_id, *party_args, "--purpose", purpose,
            "--legal-basis", "Data Sharing Act s.12", "--case-ref", "CASE-7",
            token="alice",
        )  # fmt: skip
        return int(result.stdout.strip())

    def decide(
        self, request_id: int, approver: str, decision: str = "approve"
    ) -> Result:
        """``approver`` is the token's name (sam's is sam-approver)."""
        signing: list[str | Path] = []
        if decision == "approve":
            key = self.path(f"{approver.split('-')[0]}-signing.key")
            signing = ["--key", key]
        return self.cli(
            "reveal", decision, "--project", str(self.project_id),
            "--request", str(request_id), "--reason", f"{approver} checked it",
            *signing, token=approver,
        )  # fmt: skip

    def approve_fully(self, request_id: int) -> None:
        for approver in ("bob", "carol"):
            result = self.decide(request_id, approver)
            assert result.exit_code == 0, result.output

    def agency_checks(self, party: str) -> list[str | Path]:
        """The files an agency checks grants against: the service key, its
        trust file, its own downloaded results (fetched first if missing)
        and its ledger."""
        results = self.path(f"{party}-results.csv")
        if not results.exists():
            self.ok(
                "results", "--project", str(self.project_id), "--out", results,
                token=party,
            )  # fmt: skip
        return [
            "--party", party,
            "--service-key", self.path("tokens/service-key.pub"),
            "--trust", self.path(f"{party}.trust"),
            "--results", results,
            "--ledger", self.path(f"{party}.ledger"),
        ]  # fmt: skip

    def pending(self, party: str) -> Result:
        return self.cli(
            "reveal", "pending", "--project", str(self.project_id),
            *self.agency_checks(party), token=party,
        )  # fmt: skip

    def fulfil(self, grant_id: int, party: str = "health") -> Result:
        return self.cli(
            "reveal", "fulfil", "--project", str(self.project_id),
            "--grant", str(grant_id), *self.agency_checks(party),
            "--vault", self.path(f"{party}.vault"),
            "--vault-key-file", self.path(f"{party}-vault.key"),
            "--signing-key", self.path(f"{party}-signing.key"),
            token=party,
        )  # fmt: skip

    def open(
        self, request_id: int, key: str = "alice.key", out: str = "out.csv"
    ) -> Result:
        return self.cli(
            "reveal", "open", "--project", str(self.project_id),
            "--request", str(request_id), "--key", self.path(key),
            "--service-key", self.path("tokens/service-key.pub"),
            "--trust", self.path("alice.trust"),
            "--out", self.path(out), token="alice",
        )  # fmt: skip

    def grant_of(self, request_id: int, party: str = "health") -> int:
        """The grant ID of ``party`` in a request (the investigator's view)."""
        result = self.ok(
            "reveal", "status", "--project", str(self.project_id),
            "--request", str(request_id), token="alice",
        )  # fmt: skip
        del result
        with self.database() as db:
            row = db.execute(
                "SELECT t.id FROM reveal_targets t JOIN parties p ON p.id = t.party_id"
                " WHERE t.request_id = ? AND p.name = ?",
                (request_id, party),
            ).fetchone()
        return int(row[0])

    def stored_grant(self, grant_id: int) -> tuple[bytes, bytes]:
        """A grant's payload and signature as the database holds them."""
        with self.database() as db:
            payload, signature = db.execute(
                "SELECT grant_payload, grant_signature FROM reveal_targets"
                " WHERE id = ?",
                (grant_id,),
            ).fetchone()
        return bytes(payload), bytes(signature)

    def store_grant(self, grant_id: int, payload: bytes, signature: bytes) -> None:
        """Overwrite a grant in the database, as its operator could."""
        with self.database() as db:
            db.execute(
                "UPDATE reveal_targets SET grant_payload = ?, grant_signature = ?"
                " WHERE id = ?",
                (payload, signature, grant_id),
            )

    @contextmanager
    def database(self) -> Iterator[Database]:
        """The service's database, opened directly (as an attacker with
        access to the operator's disk or database server would); committed
        at the end of the block."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.begin() as connection:
                yield Database(connection)
        finally:
            engine.dispose()

    def dump(self) -> bytes:
        """Every row of every table, as text: what a database dump holds."""
        with self.database() as db:
            return db.dump().encode("utf-8")

    def log_source(self) -> list[str | Path]:
        """Where `linkage audit` reads the service's log from."""
        if self.database_url.startswith("sqlite:"):
            return ["--data-dir", self.data_dir]
        return ["--database-url", self.database_url]

    def audit_actions(self) -> list[tuple[str, str, str]]:
        """(actor, action, details JSON) of every audit entry, in order."""
        with self.database() as db:
            rows = db.execute(
                "SELECT actor, action, details FROM audit_entries ORDER BY seq"
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]


class Database:
    """A connection that takes SQL with ``?`` placeholders on SQLite and
    PostgreSQL alike, as the tests write it."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sa.CursorResult:
        parts = sql.split("?")
        assert len(parts) == len(params) + 1, sql
        named = "".join(
            part + (f":p{index}" if index < len(params) else "")
            for index, part in enumerate(parts)
        )
        values = {f"p{index}": value for index, value in enumerate(params)}
        return self._connection.execute(sa.text(named), values)

    def dump(self) -> str:
        return "\n".join(
            repr(tuple(row))
            for table in metadata.sorted_tables
            for row in self._connection.execute(sa.select(table))
        )


@contextmanager
def world_for(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    folder: str,
) -> Iterator[World]:
    """A module's world under the default policy, on the database the fixture
    is parametrized with (``["sqlite", "postgresql"]``)."""
    root = tmp_path_factory.mktemp(folder)
    database_url = database_for(request)
    with build_world(
        RunCli(), root, DEFAULT_POLICY, database_url=database_url
    ) as built:
        yield built


@contextmanager
def build_world(
    run_cli: RunCli,
    root: Path,
    policy: RevealPolicy,
    clock: Callable[[], datetime] | None = None,
    database_url: str | None = None,
) -> Iterator[World]:
    """Encode, upload, run and resolve; yield the world with the service up
    (on ``clock``, if given; on ``database_url``, default SQLite)."""
    from linkage.demo.generator import write_demo_data

    exports = write_demo_data(root / "data", size=300, seed=11)
    with exports["police"].open("a", encoding="utf-8") as police:
        police.write(POLICE_ROW)
    with exports["health"].open("a", encoding="utf-8") as health:
        health.write(HEALTH_ROW)
    _ok(run_cli("keygen", "--out", root / "secret.key"))
    for agency in AGENCIES:
        _ok(run_cli("keygen", "--out", root / f"{agency}-vault.key"))
        encoded = run_cli(
            "encode", exports[agency], "--schema", SCHEMA,
            "--mapping", CONFIGS / "mappings" / f"{agency}.yaml",
            "--secret-file", root / "secret.key",
            "--out", root / f"{agency}.lnk", "--vault", root / f"{agency}.vault",
            "--vault-key-file", root / f"{agency}-vault.key", "--party", agency,
        )  # fmt: skip
        _ok(encoded)
    with running_service(
        root / "service", policy=policy, clock=clock, database_url=database_url
    ) as service:
        url = database_url or f"sqlite:///{service.data_dir / 'linkage.db'}"
        world = World(run_cli, root, service.url, service.data_dir, 0, "", url)
        (root / "operator.token").write_text(service.operator_token + "\n")
        world.project_id = _make_project(world)
        _register_members(world)
        _pin_keys(world, policy)
        world.match_id = _run_and_find_match(world)
        yield world


def _make_project(world: World) -> int:
    result = world.ok(
        "project", "create", "reveal-test", "--schema", SCHEMA,
        "--party", "police", "--party", "health", "--threshold", "0.8",
        "--tokens-dir", world.path("tokens"), token="operator",
    )  # fmt: skip
    project_id = int(result.stdout.strip())
    for agency in AGENCIES:
        world.path(f"{agency}.token").write_text(
            world.path(f"tokens/{agency}.token").read_text()
        )
        world.ok(
            "upload", world.path(f"{agency}.lnk"), "--project", str(project_id),
            "--party", agency, token=agency,
        )  # fmt: skip
    return project_id


def _register_members(world: World) -> None:
    project = str(world.project_id)
    for investigator in ("alice", "sam"):
        world.local(
            "keygen", "--investigator", "--out", world.path(f"{investigator}.key")
        )
        world.ok(
            "project", "add-member", "--project", project, "--name", investigator,
            "--role", "investigator",
            "--public-key", world.path(f"{investigator}.key.pub"),
            "--token-out", world.path(f"{investigator}.token"), token="operator",
        )  # fmt: skip
    for approver, token in (
        ("bob", "bob"),
        ("carol", "carol"),
        ("sam", "sam-approver"),
    ):
        key = world.path(f"{approver}-signing.key")
        world.local("keygen", "--signing", "--out", key)
        world.ok(
            "project", "add-member", "--project", project, "--name", approver,
            "--role", "approver", "--public-key", f"{key}.pub",
            "--token-out", world.path(f"{token}.token"), token="operator",
        )  # fmt: skip


def _pin_keys(world: World, policy: RevealPolicy) -> None:
    """Each agency pins the approvers and investigators; each investigator
    pins the agencies (through `linkage reveal trust`, as they would)."""
    approvers = [f"{name}={world.path(f'{name}-signing.key.pub')}"
                 for name in ("bob", "carol", "sam")]  # fmt: skip
    investigators = [f"{name}={world.path(f'{name}.key.pub')}"
                     for name in ("alice", "sam")]  # fmt: skip
    agencies = []
    for agency in AGENCIES:
        key = world.path(f"{agency}-signing.key")
        world.local("keygen", "--signing", "--out", key)
        agencies.append(f"{agency}={key}.pub")
    lifetime = format_duration(policy.grant_lifetime)
    for agency in AGENCIES:
        world.local(
            "reveal", "trust", "--file", world.path(f"{agency}.trust"),
            *[arg for pin in approvers for arg in ("--approver", pin)],
            *[arg for pin in investigators for arg in ("--investigator", pin)],
            "--approvals", str(policy.approvals_required), "--lifetime", lifetime,
        )  # fmt: skip
    for investigator in ("alice", "sam"):
        world.local(
            "reveal", "trust", "--file", world.path(f"{investigator}.trust"),
            *[arg for pin in agencies for arg in ("--agency", pin)],
        )  # fmt: skip


def _run_and_find_match(world: World) -> str:
    result = world.ok(
        "run", "start", "--project", str(world.project_id), token="operator"
    )
    run_id = result.stdout.strip()
    world.ok(
        "run", "wait", "--project", str(world.project_id), "--run", run_id,
        "--poll", "0.2", "--timeout", "300", token="operator",
    )  # fmt: skip
    world.ok(
        "results", "--project", str(world.project_id),
        "--out", world.path("police-results.csv"), token="police",
    )  # fmt: skip
    world.local(
        "vault", "resolve", world.path("police-results.csv"),
        "--vault", world.path("police.vault"),
        "--vault-key-file", world.path("police-vault.key"),
        "--out", world.path("police-resolved.csv"),
    )  # fmt: skip
    resolved = pd.read_csv(world.path("police-resolved.csv"), dtype=str)
    return str(resolved.set_index("record_id").loc["PX0000001", "match_id"])


def _ok(result: Result) -> None:
    assert result.exit_code == 0, result.output
