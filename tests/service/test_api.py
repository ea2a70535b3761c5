"""The service over real HTTP: a uvicorn server on loopback, a SQLite file."""

from __future__ import annotations

import itertools
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from linkage.formats.clkfile import EncodingHeader, open_writer
from linkage.service import initialise
from linkage.service.loopback import running_service
from linkage.storage import Store, Upload
from tests import http_calls
from tests.conftest import database_for
from tests.service.helpers import DEFAULT_FINGERPRINT, assert_problem, create_project

FINGERPRINT = DEFAULT_FINGERPRINT
OTHER_FINGERPRINT = "b" * 64
MAX_UPLOAD = 4096
_names = itertools.count()


@dataclass(frozen=True)
class Service:
    """A running server and what the tests need to talk to it."""

    url: str
    data_dir: Path
    operator_token: str
    database_url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http_calls.client(base_url=self.url, headers=headers, timeout=10)

    def uploads(self, project_id: int) -> list[Upload]:
        store = Store.open(self.database_url)
        try:
            return store.uploads_for(project_id=project_id, include_superseded=True)
        finally:
            store.close()

    def files(self) -> list[Path]:
        return sorted(p for p in (self.data_dir / "uploads").rglob("*") if p.is_file())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One server for the module, on SQLite and then on PostgreSQL, stopped
    at its end."""
    data_dir = tmp_path_factory.mktemp("service") / "data"
    database_url = database_for(request)
    with running_service(
        data_dir, max_upload_bytes=MAX_UPLOAD, database_url=database_url
    ) as running:
        yield Service(
            running.url,
            data_dir,
            running.operator_token,
            database_url or f"sqlite:///{data_dir / 'linkage.db'}",
        )


def encodings_bytes(
    tmp_path: Path,
    count: int = 5,
    *,
    bits: int = 64,
    fingerprint: str = FINGERPRINT,
    key_check: str = "00ff",
    fmt: str = "linkage",
) -> bytes:
    """A small encodings file, as `linkage encode` would write it."""
    header = EncodingHeader(
        schema_fingerprint=fingerprint, bit_length=bits, key_check=key_check
    )
    rng = np.random.default_rng(count)
    clks = rng.integers(0, 256, size=(count, -(-bits // 8)), dtype=np.uint8)
    pseudonyms = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    path = tmp_path / f"upload-{next(_names)}.enc"
    with open_writer(path, fmt, header) as writer:  # type: ignore[arg-type]
        writer.write(pseudonyms, clks)
    return path.read_bytes()


def put(
    service: Service, token: str, project_id: int, party: str, body: object
) -> httpx.Response:
    with service.client(token) as client:
        return client.put(
            f"/projects/{project_id}/parties/{party}/encodings",
            content=body,  # type: ignore[arg-type]
            headers={"Content-Type": "application/octet-stream"},
        )


def test_health_needs_no_token(service: Service) -> None:
    """/health answers without a token."""
    with service.client() as client:
        assert client.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic dXNlcg=="])
def test_no_or_bad_token_is_401_without_saying_why(
    service: Service, authorization: str | None
) -> None:
    """Missing, unknown and wrongly sent tokens get the same 401 problem."""
    headers = {"Authorization": authorization} if authorization else {}
    with service.client() as client:
        response = client.get("/projects/1", headers=headers)
    detail = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in detail


def test_operator_creates_a_project_and_reads_it(service: Service) -> None:
    """The operator gets one fresh token per party and sees every party."""
    project_id, tokens = create_project(service)
    assert sorted(tokens) == ["health", "police"]
    assert len(set(tokens.values())) == 2
    assert all(len(token) >= 43 for token in tokens.values())
    with service.client(service.operator_token) as client:
        project = client.get(f"/projects/{project_id}").json()
    assert project["schema_fingerprint"] == FINGERPRINT
    assert [p["name"] for p in project["parties"]] == ["police", "health"]
    assert not any(p["uploaded"] for p in project["parties"])


def test_invalid_project_is_a_422_problem(service: Service) -> None:
    """A threshold outside (0, 1] is refused with a problem naming the field."""
    body = {
        "name": "bad",
        "schema_fingerprint": FINGERPRINT,
        "parties": ["a"],
        "threshold": 1.5,
    }
    with service.client(service.operator_token) as client:
        response = client.post("/projects", json=body)
    assert "threshold" in assert_problem(response, 422)


def test_duplicate_project_name_is_a_409_problem(service: Service) -> None:
    """A second project with a name in use is refused."""
    body = {"name": "twice", "schema_fingerprint": FINGERPRINT, "parties": ["a"]}
    with service.client(service.operator_token) as client:
        assert client.post("/projects", json=body).status_code == 201
        assert "twice" in assert_problem(client.post("/projects", json=body), 409)


def test_a_party_cannot_create_projects(service: Service) -> None:
    """Creating projects is the operator's alone."""
    _, tokens = create_project(service)
    body = {"name": "mine", "schema_fingerprint": FINGERPRINT, "parties": ["a"]}
    with service.client(tokens["police"]) as client:
        assert_problem(client.post("/projects", json=body), 403)


def test_a_party_reads_its_own_project_only(service: Service) -> None:
    """Another project answers 404, exactly as a missing one does."""
    own, tokens = create_project(service)
    other, _ = create_project(service)
    with service.client(tokens["police"]) as client:
        assert client.get(f"/projects/{own}").status_code == 200
        hidden = client.get(f"/projects/{other}")
        missing = client.get("/projects/999999")
    assert_problem(hidden, 404)
    assert_problem(missing, 404)
    assert hidden.json()["detail"].replace(str(other), "N") == missing.json()[
        "detail"
    ].replace("999999", "N")


def test_only_the_party_itself_may_upload(service: Service, tmp_path: Path) -> None:
    """Another party's token and the operator's get 403; another project's 404."""
    project_id, tokens = create_project(service)
    other_project, other_tokens = create_project(service)
    data = encodings_bytes(tmp_path)
    assert_problem(put(service, tokens["health"], project_id, "police", data), 403)
    assert_problem(
        put(service, service.operator_token, project_id, "police", data), 403
    )
    assert_problem(
        put(service, other_tokens["police"], project_id, "police", data), 404
    )
    assert service.uploads(project_id) == []
    assert service.uploads(other_project) == []


def test_upload_is_accepted_and_recorded(service: Service, tmp_path: Path) -> None:
    """A valid file is kept under uploads/ with mode 0600 and one row."""
    project_id, tokens = create_project(service)
    response = put(
        service, tokens["police"], project_id, "police", encodings_bytes(tmp_path)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["party"], body["version"], body["record_count"]) == ("police", 1, 5)
    assert (body["bit_length"], body["key_check"]) == (64, "00ff")
    [row] = service.uploads(project_id)
    stored = service.data_dir / row.path
    assert stored.is_file()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    with service.client(tokens["health"]) as client:
        parties = client.get(f"/projects/{project_id}").json()["parties"]
    assert parties[0] == {
        "name": "police",
        "uploaded": True,
        "upload_version": None,
        "record_count": None,
    }


def test_wrong_schema_fingerprint_is_refused(service: Service, tmp_path: Path) -> None:
    """A 422 names both fingerprints and nothing is kept."""
    project_id, tokens = create_project(service)
    before = service.files()
    data = encodings_bytes(tmp_path, fingerprint=OTHER_FINGERPRINT)
    detail = assert_problem(
        put(service, tokens["police"], project_id, "police", data), 422
    )
    assert OTHER_FINGERPRINT in detail and FINGERPRINT in detail
    assert service.files() == before
    assert service.uploads(project_id) == []


def test_damaged_upload_is_refused_without_naming_server_paths(
    service: Service, tmp_path: Path
) -> None:
    """A file that is not an encodings file gets 422; no temporary path leaks."""
    project_id, tokens = create_project(service)
    before = service.files()
    response = put(service, tokens["police"], project_id, "police", b"not encodings")
    detail = assert_problem(response, 422)
    assert "the upload" in detail and str(service.data_dir) not in detail
    assert service.files() == before
    assert service.uploads(project_id) == []


def test_oversize_upload_is_413(service: Service, tmp_path: Path) -> None:
    """Past the limit, declared or streamed, the answer is 413 and nothing is kept."""
    project_id, tokens = create_project(service)
    before = service.files()
    data = encodings_bytes(tmp_path, count=MAX_UPLOAD // 16)
    assert len(data) > MAX_UPLOAD
    assert_problem(put(service, tokens["police"], project_id, "police", data), 413)

    def chunked() -> Iterator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    streamed = put(service, tokens["police"], project_id, "police", chunked())
    assert_problem(streamed, 413)
    assert service.files() == before
    assert service.uploads(project_id) == []


def test_inconsistent_key_check_is_refused(service: Service, tmp_path: Path) -> None:
    """A second party encoded with another secret cannot upload."""
    project_id, tokens = create_project(service)
    first = put(
        service, tokens["police"], project_id, "police", encodings_bytes(tmp_path)
    )
    assert first.status_code == 200
    data = encodings_bytes(tmp_path, key_check="abcd")
    detail = assert_problem(
        put(service, tokens["health"], project_id, "health", data), 422
    )
    assert "key-check" in detail
    assert len(service.uploads(project_id)) == 1


def test_reupload_replaces_the_previous_file(service: Service, tmp_path: Path) -> None:
    """Before a run, a new upload supersedes the old row and removes its file."""
    project_id, tokens = create_project(service)
    put(service, tokens["police"], project_id, "police", encodings_bytes(tmp_path, 3))
    [old] = service.uploads(project_id)
    second = put(
        service, tokens["police"], project_id, "police", encodings_bytes(tmp_path, 7)
    )
    assert second.json()["version"] == 2
    rows = service.uploads(project_id)
    assert [(r.version, r.superseded, r.record_count) for r in rows] == [
        (1, True, 3),
        (2, False, 7),
    ]
    assert not (service.data_dir / old.path).exists()
    assert (service.data_dir / rows[1].path).exists()


def test_clkhash_json_only_where_the_project_allows_it(
    service: Service, tmp_path: Path
) -> None:
    """clkhash JSON has no fingerprint, so a project must opt in to accept it."""
    data = encodings_bytes(tmp_path, fmt="clkhash-json")
    strict, strict_tokens = create_project(service)
    refused = put(service, strict_tokens["police"], strict, "police", data)
    assert "clkhash JSON" in assert_problem(refused, 422)
    lenient, tokens = create_project(service, allow_clkhash_json=True)
    accepted = put(service, tokens["police"], lenient, "police", data)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["format"] == "clkhash-json"
    assert accepted.json()["key_check"] is None


def test_unknown_route_is_a_problem(service: Service) -> None:
    """Even a 404 from routing has the problem+json shape."""
    with service.client(service.operator_token) as client:
        assert_problem(client.get("/nowhere"), 404)


def test_initialise_is_idempotent_and_private(tmp_path: Path) -> None:
    """The operator token file is 0600, works, and is not rotated on rerun."""
    path = initialise(tmp_path / "data")
    token = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert initialise(tmp_path / "data") == path
    assert path.read_text().strip() == token
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'linkage.db'}")
    try:
        assert store.authenticate(token=token).role == "operator"
    finally:
        store.close()


def test_openapi_schema_is_served(service: Service) -> None:
    """The schema lists every route and the bearer scheme."""
    with service.client() as client:
        schema = client.get("/openapi.json").json()
    assert "/projects/{project_id}/parties/{party}/encodings" in schema["paths"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_malformed_party_name_is_a_422_problem(service: Service) -> None:
    """Party names in paths are checked before anything else is looked up."""
    project_id, tokens = create_project(service)
    response = put(service, tokens["police"], project_id, "bad name!", b"x")
    assert "party" in assert_problem(response, 422)


def test_operator_revokes_a_party_token_and_gets_a_new_one(
    service: Service, tmp_path: Path
) -> None:
    """The old token then gets the unknown token's 401; the new one works."""
    project_id, tokens = create_project(service)
    route = f"/projects/{project_id}/parties/police/token"
    with service.client(service.operator_token) as client:
        response = client.delete(route)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["project_id"], body["party"]) == (project_id, "police")
    fresh = body["token"]
    assert len(fresh) >= 43 and fresh not in tokens.values()
    with service.client(tokens["police"]) as client:
        old = client.get(f"/projects/{project_id}")
    with service.client("an unknown token") as client:
        unknown = client.get(f"/projects/{project_id}")
    assert assert_problem(old, 401) == assert_problem(unknown, 401)
    assert old.headers["www-authenticate"] == "Bearer"
    data = encodings_bytes(tmp_path)
    assert_problem(put(service, tokens["police"], project_id, "police", data), 401)
    assert put(service, fresh, project_id, "police", data).status_code == 200
    # The other party's token is untouched.
    with service.client(tokens["health"]) as client:
        assert client.get(f"/projects/{project_id}").status_code == 200


def test_only_the_operator_revokes_tokens(service: Service) -> None:
    """A party may not revoke (403); another project's party is 404; an
    unknown party is 404; nothing is revoked."""
    project_id, tokens = create_project(service)
    _, other_tokens = create_project(service)
    route = f"/projects/{project_id}/parties/health/token"
    with service.client(tokens["police"]) as client:
        assert_problem(client.delete(route), 403)
    with service.client(other_tokens["health"]) as client:
        assert_problem(client.delete(route), 404)
    with service.client(service.operator_token) as client:
        missing = client.delete(f"/projects/{project_id}/parties/nobody/token")
    assert "nobody" in assert_problem(missing, 404)
    with service.client(tokens["health"]) as client:
        assert client.get(f"/projects/{project_id}").status_code == 200
