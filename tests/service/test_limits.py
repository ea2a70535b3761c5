"""Limits before work, and failed authentications audited without flooding.

All against a real server on loopback over real HTTP: the limits live in the
ASGI layer and in uvicorn's parser, which only a real connection exercises.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest

from linkage.audit.chain import AuditEntry
from linkage.audit.report import transparency_report
from linkage.formats.clkfile import FORMAT_VERSION, MAGIC
from linkage.service.loopback import RunningService, running_service
from linkage.storage import Store
from linkage.storage.audit_log import read_audit_log
from tests import http_calls
from tests.conftest import RunCli, database_for
from tests.service.helpers import assert_problem, create_project

MAX_UPLOAD = 64 * 1024
MIB = 1024 * 1024
JSON_BOMB = b"[" * 200_000
# Far deeper than Python's parser follows, yet under MAX_UPLOAD.
UPLOAD_BOMB = b"[" * 50_000


@dataclass(frozen=True)
class Service:
    """A running server, as the shared helpers want it."""

    running: RunningService

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def operator_token(self) -> str:
        return self.running.operator_token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http_calls.client(base_url=self.url, headers=headers, timeout=30)


class Clock:
    """The service's time, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One server for the module, on SQLite and then on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    database_url = database_for(request)
    with running_service(
        data_dir, max_upload_bytes=MAX_UPLOAD, database_url=database_url
    ) as running:
        yield Service(running)


def _chunks(total: int, size: int = MIB) -> Iterator[bytes]:
    """``total`` bytes in chunks of ``size``, all one object: never ``total``
    bytes in memory."""
    chunk = b"x" * size
    for _ in range(total // size):
        yield chunk


class _Counted:
    """A body generator that remembers how much of it was sent."""

    def __init__(self, total: int, size: int) -> None:
        self.total = total
        self.size = size
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in _chunks(self.total, self.size):
            self.sent += len(chunk)
            yield chunk


def test_an_unauthenticated_gigabyte_is_refused_before_it_is_read(
    service: Service,
) -> None:
    """A body with no token is answered at once; the service holds none of it."""
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()
    with http_calls.client(base_url=service.url, timeout=30) as client:
        response = client.post(
            "/projects",
            content=_chunks(1024 * MIB),
            headers={"Content-Type": "application/json"},
        )
    elapsed = time.monotonic() - started
    assert response.status_code in (401, 413), response.text
    assert_problem(response, response.status_code)
    assert elapsed < 1.0
    assert process.memory_info().rss - before < 50 * MIB


def test_no_token_and_a_body_is_the_usual_401(service: Service) -> None:
    """The same problem and challenge as a missing token anywhere else."""
    with http_calls.client(base_url=service.url, timeout=30) as client:
        early = client.post("/projects", json={"name": "x"})
        usual = client.get("/projects/1")
    assert assert_problem(early, 401) == assert_problem(usual, 401)
    assert early.headers["www-authenticate"] == usual.headers["www-authenticate"]


def test_a_declared_oversize_json_body_is_413_unread(service: Service) -> None:
    with service.client(service.operator_token) as client:
        response = client.post(
            "/projects",
            content=_chunks(2 * MIB),
            headers={
                "Content-Type": "application/json",
                "Content-Length": str(2 * MIB),
            },
        )
    assert "larger than this service accepts" in assert_problem(response, 413)


def test_a_streamed_oversize_json_body_is_cut_off(service: Service) -> None:
    """No Content-Length: the body is stopped once it passes the JSON cap."""
    body = _Counted(64 * MIB, 64 * 1024)
    with service.client(service.operator_token) as client:
        response = client.post(
            "/projects",
            content=iter(body),
            headers={"Content-Type": "application/json"},
        )
    assert_problem(response, 413)
    assert body.sent < body.total


def test_an_upload_over_the_cap_is_413_before_its_end(service: Service) -> None:
    """A party streaming more than max_upload_bytes is stopped, not drained."""
    project_id, tokens = create_project(service)
    body = _Counted(256 * MIB, 64 * 1024)
    with service.client(tokens["police"]) as client:
        response = client.put(
            f"/projects/{project_id}/parties/police/encodings",
            content=iter(body),
            headers={"Content-Type": "application/octet-stream"},
        )
    assert str(MAX_UPLOAD) in assert_problem(response, 413)
    assert body.sent < body.total // 2


def test_a_json_bomb_in_a_request_body_is_422(service: Service) -> None:
    with service.client(service.operator_token) as client:
        response = client.post(
            "/projects", content=JSON_BOMB, headers={"Content-Type": "application/json"}
        )
    assert "nested too deeply" in assert_problem(response, 422)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"clks": ' + UPLOAD_BOMB, id="clkhash-json"),
        pytest.param(
            struct.pack("<8sHHQI", MAGIC, FORMAT_VERSION, 0, 1, len(UPLOAD_BOMB))
            + UPLOAD_BOMB,
            id="linkage-header",
        ),
    ],
)
def test_a_json_bomb_in_an_upload_is_422(service: Service, body: bytes) -> None:
    """Both formats carry JSON: the clkhash file, the linkage file's header."""
    project_id, tokens = create_project(service, allow_clkhash_json=True)
    with service.client(tokens["police"]) as client:
        response = client.put(
            f"/projects/{project_id}/parties/police/encodings",
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert "nested too deeply" in assert_problem(response, 422)


def test_a_refused_format_is_refused_unparsed(service: Service) -> None:
    """clkhash JSON to a project that takes linkage files only: refused on
    its first bytes, so even a bomb gets the format's answer."""
    project_id, tokens = create_project(service)
    with service.client(tokens["police"]) as client:
        response = client.put(
            f"/projects/{project_id}/parties/police/encodings",
            content=b'{"clks": ' + UPLOAD_BOMB,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert "accepts linkage encodings files only" in assert_problem(response, 422)


def test_an_oversized_header_is_refused(service: Service) -> None:
    with http_calls.client(base_url=service.url, timeout=30) as client:
        try:
            response = client.get("/health", headers={"X-Padding": "a" * 100_000})
        except (httpx.ReadError, httpx.WriteError):
            # The server answers and closes once the header passes its limit;
            # a client still sending the rest may read the reset first.
            pass
        else:
            assert 400 <= response.status_code < 500
        # Refused, not broken: the next request is served.
        assert client.get("/health").status_code == 200


def _auth_failures(data_dir: Path) -> list[AuditEntry]:
    store = Store.open(f"sqlite:///{data_dir / 'linkage.db'}")
    try:
        entries, _ = read_audit_log(store)
    finally:
        store.close()
    return [entry for entry in entries if entry.action == "auth.failed"]


def _count(entry: AuditEntry) -> int:
    return int(entry.details.get("count", 1))


def test_a_flood_of_bad_tokens_is_counted_not_logged_one_by_one(
    tmp_path: Path, run_cli: RunCli
) -> None:
    """300 bad tokens: a few entries whose counts add up to 300; /health stays
    quick meanwhile; the log still verifies."""
    data_dir = tmp_path / "data"
    attempts = 300
    slowest_health = 0.0
    with (
        running_service(data_dir) as running,
        http_calls.client(base_url=running.url, timeout=30) as flooder,
    ):
        public_key = running.public_key_file

        def attempt(n: int) -> int:
            headers = {"Authorization": f"Bearer not-a-token-{n}"}
            return flooder.get("/projects/1", headers=headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            flood = [pool.submit(attempt, n) for n in range(attempts)]
            with http_calls.client(base_url=running.url, timeout=30) as client:
                while not all(future.done() for future in flood):
                    started = time.monotonic()
                    assert client.get("/health").status_code == 200
                    slowest_health = max(slowest_health, time.monotonic() - started)
                    time.sleep(0.01)
            assert [future.result() for future in flood] == [401] * attempts
    # Generous: without counting, each failure was a signed, serialised write.
    assert slowest_health < 0.5
    failures = _auth_failures(data_dir)
    assert 1 <= len(failures) <= 3
    assert sum(_count(entry) for entry in failures) == attempts
    assert {entry.details["client"] for entry in failures} == {"127.0.0.1"}
    assert transparency_report(failures).totals.failed_authentications == attempts
    verified = run_cli(
        "audit", "verify", "--data-dir", data_dir, "--service-key", public_key
    )
    assert verified.exit_code == 0, verified.output


def test_a_count_is_written_when_its_window_is_over(tmp_path: Path) -> None:
    """The next failure after the window writes its count, then opens a new
    window with an entry of its own."""
    clock = Clock()
    data_dir = tmp_path / "data"
    with running_service(data_dir, clock=clock) as running:
        bad = {"Authorization": "Bearer not-a-token"}
        with http_calls.client(base_url=running.url, headers=bad, timeout=30) as client:
            for _ in range(5):
                assert client.get("/projects/1").status_code == 401
            during = _auth_failures(data_dir)
            clock.now += timedelta(seconds=61)
            assert client.get("/projects/1").status_code == 401
            after = _auth_failures(data_dir)
    assert [_count(entry) for entry in during] == [1]
    assert during[0].details["path"] == "/projects/1"
    assert [_count(entry) for entry in after] == [1, 4, 1]
    assert after[1].details["since"] == during[0].at
    assert set(after[1].details) == {"client", "count", "since"}


def test_the_counts_are_written_when_the_service_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_service(data_dir) as running:
        bad = {"Authorization": "Bearer not-a-token"}
        with http_calls.client(base_url=running.url, headers=bad, timeout=30) as client:
            for _ in range(3):
                client.get("/projects/1")
    assert [_count(entry) for entry in _auth_failures(data_dir)] == [1, 2]


@pytest.mark.parametrize(
    ("cookie", "reaches_the_console"),
    [
        ("linkage_console=not-a-session", True),
        ("theme=dark; linkage_console_login=x", True),
        ("xlinkage_console=1", False),
        ("theme=linkage_console=1", False),
    ],
)
def test_only_the_console_cookies_let_a_form_through_without_a_token(
    service: Service, cookie: str, reaches_the_console: bool
) -> None:
    """A console form carries the console's cookie in place of a token, and
    the console answers it (a page: this session is unknown); a cookie whose
    name merely contains the console's is a body with no token, refused
    before the app sees it (a problem)."""
    with http_calls.client(base_url=service.url, timeout=30) as client:
        response = client.post(
            "/console/logout",
            content=b"csrf=x",
            headers={
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    if reaches_the_console:
        assert response.headers["content-type"].startswith("text/html")
    else:
        assert_problem(response, 401)
