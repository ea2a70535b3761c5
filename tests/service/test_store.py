"""The service's database, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from linkage.storage import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    Store,
    UploadRejectedError,
    hash_token,
)
from linkage.storage.tables import metadata

FINGERPRINT = "a" * 64
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    """A store on a fresh database, with a fixed clock."""
    opened = Store.open(database_url, clock=lambda: NOW)
    yield opened
    opened.close()


def make_project(store: Store, name: str = "p", *parties: str) -> int:
    created = store.create_project(
        name=name,
        schema_fingerprint=FINGERPRINT,
        threshold="auto",
        mode="link",
        parties=parties or ("a", "b"),
    )
    return created.project.id


def upload(store: Store, project_id: int, party: str, **change: object) -> object:
    values: dict[str, object] = {
        "path": f"{party}.lnk",
        "record_count": 3,
        "bit_length": 64,
        "key_check": "00ff",
        "schema_fingerprint": FINGERPRINT,
    }
    values.update(change)
    party_id = store.find_party(project_id=project_id, name=party).id
    return store.record_upload(
        project_id=project_id,
        party_id=party_id,
        **values,  # type: ignore[arg-type]
    )


def test_create_project_makes_parties_and_their_tokens(store: Store) -> None:
    """Each party gets a token that authenticates as that party only."""
    created = store.create_project(
        name="p",
        schema_fingerprint=FINGERPRINT,
        threshold=0.8,
        mode="link-dedup",
        parties=["a", "b"],
    )
    assert created.project.threshold == "0.8"
    assert created.project.created_at == NOW
    assert [p.name for p in store.parties_of(project_id=created.project.id)] == [
        "a",
        "b",
    ]
    record = store.authenticate(token=created.party_tokens["b"])
    assert record.role == "party"
    assert record.project_id == created.project.id
    assert record.party_id == created.parties[1].id


def test_project_names_are_unique(store: Store) -> None:
    """A second project with the same name is refused and nothing is written."""
    make_project(store, "p")
    with pytest.raises(ConflictError, match="already exists"):
        make_project(store, "p")


@pytest.mark.parametrize(
    ("threshold", "mode"), [(0.0, "link"), (1.5, "link"), ("high", "link"), (1, "x")]
)
def test_bad_threshold_or_mode_is_refused(
    store: Store, threshold: object, mode: str
) -> None:
    """Threshold must be 'auto' or in (0, 1]; mode link or link-dedup."""
    with pytest.raises(ValueError, match=r"threshold|mode"):
        store.create_project(
            name="p",
            schema_fingerprint=FINGERPRINT,
            threshold=threshold,  # type: ignore[arg-type]
            mode=mode,  # type: ignore[arg-type]
        )


def test_party_names_are_unique_per_project(store: Store) -> None:
    """The same name may be used in two projects but not twice in one."""
    first = make_project(store, "p1")
    second = make_project(store, "p2")
    assert store.add_party(project_id=second, name="c").name == "c"
    with pytest.raises(ConflictError):
        store.add_party(project_id=first, name="a")
    with pytest.raises(NotFoundError):
        store.add_party(project_id=999, name="a")


def test_tokens_are_stored_only_as_hashes(store: Store, database_url: str) -> None:
    """The database never holds a token's text, only its SHA-256 (on SQLite,
    not even in the file's free pages)."""
    token = store.create_token(role="operator")
    assert len(token) >= 43  # 32 random bytes in URL-safe base64.
    store.close()
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = "\n".join(
                repr(tuple(row))
                for table in metadata.sorted_tables
                for row in connection.execute(sa.select(table))
            )
    finally:
        engine.dispose()
    assert token not in stored and hash_token(token) in stored
    if database_url.startswith("sqlite:///"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert token.encode() not in raw


def test_unknown_and_revoked_tokens_are_refused_alike(store: Store) -> None:
    """Both raise the same AuthenticationError message."""
    token = store.create_token(role="operator")
    record = store.authenticate(token=token)
    assert record.role == "operator" and record.project_id is None
    store.revoke_token(token_id=record.id)
    with pytest.raises(AuthenticationError) as revoked:
        store.authenticate(token=token)
    with pytest.raises(AuthenticationError) as unknown:
        store.authenticate(token="not-a-token")
    assert str(revoked.value) == str(unknown.value)
    with pytest.raises(NotFoundError):
        store.revoke_token(token_id=999)


def test_token_scope_must_fit_the_role(store: Store) -> None:
    """A party token needs a party of the project; an operator token none."""
    project_id = make_project(store)
    party_id = store.find_party(project_id=project_id, name="a").id
    with pytest.raises(ValueError, match="party"):
        store.create_token(role="party", project_id=project_id)
    with pytest.raises(ValueError, match="party"):
        store.create_token(role="operator", party_id=party_id)
    with pytest.raises(NotFoundError):
        store.create_token(role="party", project_id=project_id + 1, party_id=party_id)
    with pytest.raises(ValueError, match="role"):
        store.create_token(role="admin")  # type: ignore[arg-type]


def test_reupload_supersedes_the_previous_version(store: Store) -> None:
    """Only the newest upload of a party is current; versions count up."""
    project_id = make_project(store)
    upload(store, project_id, "a", path="a1")
    recorded = upload(store, project_id, "a", path="a2")
    assert [u.path for u in recorded.replaced] == ["a1"]  # type: ignore[attr-defined]
    current = store.uploads_for(project_id=project_id)
    assert [(u.path, u.version) for u in current] == [("a2", 2)]
    every = store.uploads_for(project_id=project_id, include_superseded=True)
    assert [(u.path, u.superseded) for u in every] == [("a1", True), ("a2", False)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"schema_fingerprint": "b" * 64}, "schema fingerprint"),
        ({"bit_length": 128}, "128 bits but another party.s have 64 bits"),
        ({"key_check": "abcd"}, "key-check"),
    ],
)
def test_disagreeing_upload_is_refused_and_not_recorded(
    store: Store, change: dict[str, object], expected: str
) -> None:
    """A file that could not be compared with the others leaves no row."""
    project_id = make_project(store)
    upload(store, project_id, "a")
    with pytest.raises(UploadRejectedError, match=expected):
        upload(store, project_id, "b", **change)
    assert [u.path for u in store.uploads_for(project_id=project_id)] == ["a.lnk"]


def test_clkhash_upload_is_compared_by_bytes(store: Store) -> None:
    """Without a header only the CLK size in bytes can be checked."""
    project_id = make_project(store)
    upload(store, project_id, "a", bit_length=60)
    upload(
        store, project_id, "b", bit_length=64, key_check=None, schema_fingerprint=None
    )
    with pytest.raises(UploadRejectedError, match="bytes per CLK"):
        upload(store, project_id, "b", bit_length=72, key_check=None)


def test_upload_for_a_party_of_another_project_is_refused(store: Store) -> None:
    """A party id from one project cannot be recorded under another."""
    first = make_project(store, "p1")
    second = make_project(store, "p2")
    party_id = store.find_party(project_id=first, name="a").id
    with pytest.raises(NotFoundError):
        store.record_upload(
            project_id=second,
            party_id=party_id,
            path="x",
            record_count=1,
            bit_length=8,
            key_check=None,
            schema_fingerprint=None,
        )


def test_concurrent_uploads_are_serialised(database_url: str) -> None:
    """Many threads and two stores on one database: every upload lands, in order."""
    first, second = Store.open(database_url), Store.open(database_url)
    try:
        project_id = make_project(first, "p", *(f"party{i}" for i in range(8)))

        def send(index: int) -> None:
            store = first if index % 2 else second
            upload(store, project_id, f"party{index % 8}", path=f"f{index}")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(send, range(40)))
        every = first.uploads_for(project_id=project_id, include_superseded=True)
        assert len(every) == 40
        current = first.uploads_for(project_id=project_id)
        assert sorted(u.version for u in current) == [5] * 8
    finally:
        first.close()
        second.close()


def test_reissuing_a_party_token_revokes_every_earlier_one(store: Store) -> None:
    """Old tokens of the party stop working; other parties' keep working."""
    created = store.create_project(
        name="reissue",
        schema_fingerprint=FINGERPRINT,
        threshold="auto",
        mode="link",
        parties=("a", "b"),
    )
    project_id = created.project.id
    a, b = created.parties
    extra = store.create_token(role="party", project_id=project_id, party_id=a.id)
    fresh = store.reissue_party_token(project_id=project_id, party_id=a.id)
    for old in (created.party_tokens["a"], extra):
        with pytest.raises(AuthenticationError):
            store.authenticate(token=old)
    assert store.authenticate(token=fresh).party_id == a.id
    assert store.authenticate(token=created.party_tokens["b"]).party_id == b.id
    with pytest.raises(NotFoundError):
        store.reissue_party_token(project_id=project_id + 1, party_id=a.id)


def test_two_services_on_one_database_never_take_one_run_twice(
    database_url: str,
) -> None:
    """Two stores (as two `linkage serve` processes would hold) claim queued
    runs from many threads at once: every run is taken exactly once."""
    first, second = Store.open(database_url), Store.open(database_url)
    try:
        queued = []
        for index in range(12):
            project_id = make_project(first, f"p{index}", "a", "b")
            for party in ("a", "b"):
                upload(first, project_id, party)
            queued.append(first.create_run(project_id=project_id).id)

        def take(index: int) -> list[int]:
            store = first if index % 2 else second
            taken = []
            while (claimed := store.claim_next_run()) is not None:
                taken.append(claimed.run.id)
            return taken

        with ThreadPoolExecutor(max_workers=6) as pool:
            taken = [run for runs in pool.map(take, range(6)) for run in runs]
        assert sorted(taken) == sorted(queued)
    finally:
        first.close()
        second.close()


def test_a_write_after_a_read_takes_the_write_lock_again(tmp_path: Path) -> None:
    """The pool hands the reader's connection to the next writer: that writer
    must begin with the write lock (a writer without it fails as 'locked'
    when another writer holds it, as a load test found)."""
    store = Store.open(f"sqlite:///{tmp_path / 'linkage.db'}")
    try:
        token = store.create_token(role="operator")
        store.authenticate(token=token)
        with store.transaction() as connection:
            assert not connection.info.get("read_only")
            raw = connection.connection.driver_connection
            assert raw is not None and raw.in_transaction
            # BEGIN IMMEDIATE took the write lock: a second writer is refused.
            other = sqlite3.connect(tmp_path / "linkage.db", timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        store.close()


def test_authenticating_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """A request's token check only reads: while another store holds the
    write lock (a long write), it still answers (on SQLite a read no longer
    takes the write lock, which would wait, then fail as 'locked')."""
    url = f"sqlite:///{tmp_path / 'linkage.db'}"
    writer, reader = Store.open(url), Store.open(url)
    try:
        token = writer.create_token(role="operator")
        with writer.transaction():
            make_project(writer, "being-written")
            assert reader.authenticate(token=token).role == "operator"
    finally:
        writer.close()
        reader.close()
