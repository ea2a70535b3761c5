"""`linkage serve` and the client commands against a real server on loopback.

One uvicorn server runs in a thread for the module, on a free loopback port,
with a real SQLite file; the commands are driven through click's CliRunner.
The runs/results commands are also checked against a stand-in for the API
contract (``httpx.MockTransport``), since the real routes are built apart.
"""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from linkage.cli import main
from linkage.client import ServiceClient, ServiceError
from linkage.encoding.keyfiles import read_vault_key, write_key_file
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.formats.schema import load_schema
from linkage.service.loopback import RunningService, running_service
from tests import http_calls
from tests.conftest import CONFIGS, FEBRL4_SCHEMA

SECRET = b"a secret shared by the test agencies"


def invoke(*args: str | Path | int, env: dict[str, str] | None = None) -> Result:
    """Run `linkage` in process with a clean token environment."""
    environment = {"LINKAGE_TOKEN": "", "LINKAGE_SERVER": ""}
    environment.update(env or {})
    # An empty LINKAGE_SERVER would override the default: drop unset ones.
    cleaned: dict[str, str | None] = {
        k: (v if v else None) for k, v in environment.items()
    }
    return CliRunner().invoke(main, [str(a) for a in args], env=cleaned)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    data_dir = tmp_path_factory.mktemp("client") / "data"
    with running_service(data_dir) as service:
        yield service


@dataclass(frozen=True)
class Agency:
    """One agency's encodings file and the vault that stays with it."""

    encodings: Path
    vault: Path
    vault_key_file: Path


@pytest.fixture(scope="module")
def agencies(
    tmp_path_factory: pytest.TempPathFactory,
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> dict[str, Agency]:
    """100 FEBRL4 people seen by police and health, encoded as `linkage encode`
    does, each agency with its own vault."""
    folder = tmp_path_factory.mktemp("encodings")
    schema = load_schema(FEBRL4_SCHEMA)
    first = febrl4_frames[0].head(100)
    entities = set(first["rec_id"].str.split("-").str[1])
    second = febrl4_frames[1][
        febrl4_frames[1]["rec_id"].str.split("-").str[1].isin(entities)
    ]
    made = {}
    for party, frame in zip(("police", "health"), (first, second), strict=True):
        export = folder / f"{party}.csv"
        frame.to_csv(export, index=False)
        key_file = folder / f"{party}.vault-key"
        write_key_file(key_file)
        out, vault = folder / f"{party}.lnk", folder / f"{party}.vault"
        encode_csv(
            export, schema, SECRET, out, id_column="rec_id", party=party,
            vault=VaultTarget(vault, read_vault_key(key_file)),
        )  # fmt: skip
        made[party] = Agency(out, vault, key_file)
    return made


@pytest.fixture(scope="module")
def encodings(agencies: dict[str, Agency]) -> dict[str, Path]:
    """Each agency's encodings file."""
    return {party: agency.encodings for party, agency in agencies.items()}


_names = iter(range(10**6))


def create(server: RunningService, tmp_path: Path, *extra: str) -> tuple[int, Path]:
    """`linkage project create` for police and health; the id and tokens dir."""
    tokens = tmp_path / "tokens"
    result = invoke(
        "project", "create", f"project-{next(_names)}",
        "--schema", FEBRL4_SCHEMA, "--party", "police", "--party", "health",
        "--tokens-dir", tokens, "--server", server.url,
        "--token-file", server.operator_token_file, *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return int(result.stdout.strip()), tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_init_writes_a_private_token_file_and_never_prints_it(
    tmp_path: Path,
) -> None:
    """--init makes the 0600 token file, names it and its mode, and exits."""
    data_dir = tmp_path / "service"
    result = invoke("serve", "--data-dir", data_dir, "--init")
    assert result.exit_code == 0, result.output
    token_file = data_dir / "operator.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 43
    assert str(token_file) in result.output
    assert "0600" in result.output
    assert token not in result.output
    again = invoke("serve", "--data-dir", data_dir, "--init")
    assert again.exit_code == 0, again.output
    assert token_file.read_text().strip() == token


def test_serve_starts_uvicorn_with_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --init it initialises, then serves on the given host and port."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append((app, kw)))
    data_dir = tmp_path / "service"
    result = invoke("serve", "--data-dir", data_dir, "--port", "8123")
    assert result.exit_code == 0, result.output
    assert (data_dir / "operator.token").exists()
    [(app, options)] = calls
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 8123
    assert app.state.settings.data_dir == data_dir
    app.state.store.close()


def test_project_create_writes_each_party_token_file(
    server: RunningService, tmp_path: Path
) -> None:
    """Each party's token goes to DIR/<party>.token (0600) and works there."""
    project_id, tokens = create(server, tmp_path, "--threshold", "0.8", "--dedup")
    for party in ("police", "health"):
        path = tokens / f"{party}.token"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = path.read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        answer = http_calls.get(f"{server.url}/projects/{project_id}", headers=headers)
        assert answer.status_code == 200
        body = answer.json()
        assert body["threshold"] == "0.8"
        assert body["mode"] == "link-dedup"
        assert body["schema_fingerprint"] == load_schema(FEBRL4_SCHEMA).fingerprint


def test_project_create_prints_no_token(server: RunningService, tmp_path: Path) -> None:
    """The output names the token files, not what is in them."""
    tokens = tmp_path / "tokens"
    result = invoke(
        "project", "create", "quiet", "--schema", FEBRL4_SCHEMA,
        "--party", "a", "--tokens-dir", tokens, "--server", server.url,
        "--token-file", server.operator_token_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert str(tokens / "a.token") in result.output
    assert (tokens / "a.token").read_text().strip() not in result.output
    assert server.operator_token not in result.output


def test_project_create_keeps_existing_token_files(
    server: RunningService, tmp_path: Path
) -> None:
    """A token file in the way stops the command before any project is made."""
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "police.token").write_text("old\n")
    result = invoke(
        "project", "create", "blocked", "--schema", FEBRL4_SCHEMA,
        "--party", "police", "--tokens-dir", tokens, "--server", server.url,
        "--token-file", server.operator_token_file,
    )  # fmt: skip
    assert result.exit_code != 0
    assert "already exist" in result.output
    assert (tokens / "police.token").read_text() == "old\n"


@pytest.mark.parametrize(
    ("schema", "options", "expected"),
    [
        ("demo.json", ["--allow-clkhash-json"], "clkhash ignores"),
        ("demo.json", ["--method", "probabilistic"], "needs per-field encodings"),
    ],
)
def test_project_create_refuses_settings_the_schema_cannot_meet(
    server: RunningService,
    tmp_path: Path,
    schema: str,
    options: list[str],
    expected: str,
) -> None:
    """Hardened schemas take no clkhash JSON; probabilistic needs segments."""
    result = invoke(
        "project", "create", "refused", "--schema", CONFIGS / "schemas" / schema,
        "--party", "a", "--tokens-dir", tmp_path / "tokens", "--server", server.url,
        "--token-file", server.operator_token_file, *options,
    )  # fmt: skip
    assert result.exit_code == 2
    assert expected in result.output
    assert not (tmp_path / "tokens" / "a.token").exists()


def test_upload_is_accepted(
    server: RunningService, tmp_path: Path, encodings: dict[str, Path]
) -> None:
    """A party uploads its own encodings with its token file."""
    project_id, tokens = create(server, tmp_path)
    result = invoke(
        "upload", encodings["police"], "--project", project_id, "--party", "police",
        "--server", server.url, "--token-file", tokens / "police.token",
        "--progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Uploaded 100 records" in result.output, result.output
    assert "version 1" in result.output
    headers = {"Authorization": f"Bearer {server.operator_token}"}
    body = http_calls.get(f"{server.url}/projects/{project_id}", headers=headers).json()
    uploaded = {p["name"]: p["record_count"] for p in body["parties"]}
    assert uploaded == {"police": 100, "health": None}


def test_token_from_the_environment_works(
    server: RunningService, tmp_path: Path, encodings: dict[str, Path]
) -> None:
    """LINKAGE_TOKEN and LINKAGE_SERVER stand in for the options."""
    project_id, tokens = create(server, tmp_path)
    token = (tokens / "health.token").read_text().strip()
    result = invoke(
        "upload", encodings["health"], "--project", project_id, "--party", "health",
        env={"LINKAGE_TOKEN": token, "LINKAGE_SERVER": server.url},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert token not in result.output


def test_wrong_party_token_shows_the_servers_403_detail(
    server: RunningService, tmp_path: Path, encodings: dict[str, Path]
) -> None:
    """Another party's token is refused, in the server's own words, exit 1."""
    project_id, tokens = create(server, tmp_path)
    result = invoke(
        "upload", encodings["police"], "--project", project_id, "--party", "police",
        "--server", server.url, "--token-file", tokens / "health.token",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "403 Forbidden" in result.output
    assert "this token may not upload for party 'police'" in result.output
    assert (tokens / "health.token").read_text().strip() not in result.output


def test_operator_may_not_upload(
    server: RunningService, tmp_path: Path, encodings: dict[str, Path]
) -> None:
    """The operator's token is refused with the server's 403 detail."""
    project_id, _tokens = create(server, tmp_path)
    result = invoke(
        "upload", encodings["police"], "--project", project_id, "--party", "police",
        "--server", server.url, "--token-file", server.operator_token_file,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "403 Forbidden" in result.output
    assert "only a party's own token may upload its encodings" in result.output


def test_schema_mismatch_is_the_servers_422(
    server: RunningService, tmp_path: Path, encodings: dict[str, Path]
) -> None:
    """An upload under another schema is refused in the server's words."""
    tokens = tmp_path / "tokens"
    other = tmp_path / "other.json"
    raw = json.loads(FEBRL4_SCHEMA.read_text())
    raw["clkConfig"]["l"] = raw["clkConfig"]["l"] // 2
    other.write_text(json.dumps(raw))
    made = invoke(
        "project", "create", "other-schema", "--schema", other, "--party", "police",
        "--tokens-dir", tokens, "--server", server.url,
        "--token-file", server.operator_token_file,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    result = invoke(
        "upload", encodings["police"], "--project", made.stdout.strip(),
        "--party", "police", "--server", server.url,
        "--token-file", tokens / "police.token",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "422 Unprocessable" in result.output
    assert "fingerprint" in result.output


def test_bad_token_is_the_servers_401(server: RunningService, tmp_path: Path) -> None:
    """An unknown token gets the 401 detail, and the token is not echoed."""
    token_file = tmp_path / "bad.token"
    token_file.write_text("not-a-real-token-but-a-secret-one\n")
    result = invoke(
        "run", "status", "--project", "1", "--run", "1",
        "--server", server.url, "--token-file", token_file,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "401 Unauthorized" in result.output
    assert "Authorization: Bearer <token>" in result.output
    assert "not-a-real-token" not in result.output


def test_unreachable_server_is_a_clear_message(tmp_path: Path) -> None:
    """Nothing listening: say so, name the URL and `linkage serve`, exit 1."""
    url = f"http://127.0.0.1:{free_port()}"
    token_file = tmp_path / "t.token"
    token_file.write_text("some-token\n")
    result = invoke(
        "run", "start", "--project", "1", "--server", url, "--token-file", token_file
    )
    assert result.exit_code == 1
    assert f"could not reach the linkage server at {url}" in result.output
    assert "`linkage serve` is running" in result.output
    assert "some-token" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", ["nothing", "missing", "empty"])
def test_missing_token_is_a_clear_message(tmp_path: Path, where: str) -> None:
    """No token anywhere, a missing file, an empty file: exit 1 with why."""
    args: list[str | Path] = []
    if where != "nothing":
        path = tmp_path / "x.token"
        if where == "empty":
            path.write_text("\n")
        args = ["--token-file", path]
    result = invoke("run", "start", "--project", "1", *args)
    assert result.exit_code == 1
    expected = {
        "nothing": "LINKAGE_TOKEN",
        "missing": "does not exist",
        "empty": "is empty",
    }
    assert expected[where] in result.output


def test_every_client_option_has_help() -> None:
    """Each new command and option says what it is for."""
    for path in (
        ["serve"],
        ["project", "create"],
        ["upload"],
        ["run", "start"],
        ["run", "status"],
        ["run", "wait"],
        ["results"],
    ):
        command: click.Command = main
        for name in path:
            assert isinstance(command, click.Group)
            loaded = command.get_command(click.Context(command), name)
            assert loaded is not None, f"{path} {name}"
            command = loaded
        assert command.help
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, f"{path} {parameter.name}"


def test_run_and_results_end_to_end(
    server: RunningService, tmp_path: Path, agencies: dict[str, Agency]
) -> None:
    """Create, upload both, start, wait, download, resolve: the whole flow."""
    project_id, tokens = create(server, tmp_path, "--threshold", "0.75")
    common: list[str | Path | int] = ["--project", project_id, "--server", server.url]
    for party, agency in agencies.items():
        uploaded = invoke(
            "upload", agency.encodings, "--party", party, *common,
            "--token-file", tokens / f"{party}.token",
        )  # fmt: skip
        assert uploaded.exit_code == 0, uploaded.output
    operator: list[str | Path | int] = ["--token-file", server.operator_token_file]
    early = invoke("results", *common, "--out", tmp_path / "early.csv",
                   "--token-file", tokens / "police.token")  # fmt: skip
    assert early.exit_code == 1
    assert "has completed yet" in early.output
    assert not (tmp_path / "early.csv").exists()
    started = invoke("run", "start", *common, *operator)
    assert started.exit_code == 0, started.output
    run_id = started.stdout.strip()
    waited = invoke(
        "run", "wait", *common, "--run", run_id, "--timeout", "120",
        "--poll", "0.1", *operator,
    )  # fmt: skip
    assert waited.exit_code == 0, waited.output
    assert "state: completed" in waited.stdout
    status = invoke("run", "status", *common, "--run", run_id, *operator)
    assert status.exit_code == 0, status.output
    assert "state: completed" in status.stdout
    refused = invoke("results", *common, "--out", tmp_path / "op.csv", *operator)
    assert refused.exit_code == 1
    assert "only a party's own token may read its results" in refused.output
    entities: dict[str, pd.Series[str]] = {}
    for party, agency in agencies.items():
        out = tmp_path / f"{party}-results.csv"
        got = invoke(
            "results", *common, "--out", out,
            "--token-file", tokens / f"{party}.token",
        )  # fmt: skip
        assert got.exit_code == 0, got.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        frame = pd.read_csv(out, dtype=str)
        assert list(frame.columns) == ["pseudonym", "match_id", "score"]
        assert len(frame) > 80
        resolved = tmp_path / f"{party}-resolved.csv"
        done = invoke(
            "vault", "resolve", out, "--vault", agency.vault,
            "--vault-key-file", agency.vault_key_file, "--out", resolved,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        ids = pd.read_csv(resolved, dtype=str)
        assert ids["record_id"].str.startswith("rec-").all()
        ids["entity"] = ids["record_id"].str.split("-").str[1]
        entities[party] = ids.set_index("match_id")["entity"]
    joined = pd.concat(entities, axis=1, join="inner")
    assert len(joined) > 80
    assert (joined["police"] == joined["health"]).mean() > 0.95


# The runs/results API contract, played by a stand-in -------------------------


class FakeService:
    """The runs and results routes as the API contract states them."""

    def __init__(self, outcome: str = "completed") -> None:
        self.outcome = outcome
        self.polls = 0
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/projects/7/runs":
            body = {"run_id": 3, "project_id": 7, "state": "queued"}
            return httpx.Response(202, json=body)
        if request.method == "GET" and path == "/projects/7/runs/3":
            self.polls += 1
            state = "running" if self.polls < 3 else self.outcome
            return httpx.Response(200, json=self._status(state))
        if request.method == "GET" and path == "/projects/7/results":
            csv = "pseudonym,match_id,score\nabc,m1,0.91\ndef,m2,0.88\n"
            return httpx.Response(200, text=csv, headers={"content-type": "text/csv"})
        problem = {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "there is no run 9",
        }
        return httpx.Response(
            404, json=problem, headers={"content-type": "application/problem+json"}
        )

    def _status(self, state: str) -> dict[str, Any]:
        return {
            "run_id": 3,
            "project_id": 7,
            "state": state,
            "progress": {"running": 0.5}.get(state, 1.0),
            "message": "the uploads use different bit lengths"
            if state == "failed"
            else None,
            "created_at": "2026-01-01T00:00:00Z",
            "started_at": "2026-01-01T00:00:01Z",
            "finished_at": None,
            "stats": {"matches": 2} if state == "completed" else {},
        }


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeService]:
    """Route the CLI's client to a FakeService; LINKAGE_TOKEN holds a token."""
    service = FakeService()

    def connect(server: str, token: str, **kw: Any) -> ServiceClient:
        return ServiceClient(server, token, transport=httpx.MockTransport(service))

    monkeypatch.setattr("linkage.cli.connection.ServiceClient", connect)
    yield service


def fake_invoke(*args: str | Path | int) -> Result:
    return invoke(*args, env={"LINKAGE_TOKEN": "fake-token"})


def test_run_start_prints_the_run_id(fake: FakeService) -> None:
    """202 with run_id: the ID alone on stdout."""
    result = fake_invoke("run", "start", "--project", "7")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "3"
    assert fake.requests[0].headers["authorization"] == "Bearer fake-token"


def test_run_status_prints_the_state(fake: FakeService) -> None:
    result = fake_invoke("run", "status", "--project", "7", "--run", "3")
    assert result.exit_code == 0, result.output
    assert "state: running" in result.stdout
    assert "progress: 50%" in result.stdout


def test_run_wait_polls_until_completed(fake: FakeService) -> None:
    result = fake_invoke(
        "run", "wait", "--project", "7", "--run", "3", "--poll", "0.05", "--progress"
    )
    assert result.exit_code == 0, result.output
    assert fake.polls == 3
    assert "state: completed" in result.stdout
    assert "stats.matches: 2" in result.stdout


def test_run_wait_exits_1_with_the_failure_message(fake: FakeService) -> None:
    fake.outcome = "failed"
    result = fake_invoke(
        "run", "wait", "--project", "7", "--run", "3", "--poll", "0.05"
    )
    assert result.exit_code == 1
    assert "run 3 failed: the uploads use different bit lengths" in result.output


def test_run_wait_gives_up_after_the_timeout(fake: FakeService) -> None:
    result = fake_invoke(
        "run", "wait", "--project", "7", "--run", "3", "--timeout", "0", "--poll", "1"
    )
    assert result.exit_code == 1
    assert "still running after 0 seconds" in result.output


def test_unknown_run_shows_the_servers_detail(fake: FakeService) -> None:
    result = fake_invoke("run", "status", "--project", "7", "--run", "9")
    assert result.exit_code == 1
    assert "Error: the server answered 404 Not Found: there is no run 9" in (
        result.output
    )


def test_results_are_written_privately(fake: FakeService, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    result = fake_invoke("results", "--project", "7", "--out", out)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["pseudonym", "match_id", "score"]
    assert "Wrote 2 rows" in result.output


def test_refused_results_leave_no_file(fake: FakeService, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    result = fake_invoke("results", "--project", "8", "--out", out)
    assert result.exit_code == 1
    assert "there is no run 9" in result.output
    assert list(tmp_path.iterdir()) == []


def test_results_into_a_missing_folder_is_a_message(
    fake: FakeService, tmp_path: Path
) -> None:
    out = tmp_path / "no-such-folder" / "results.csv"
    result = fake_invoke("results", "--project", "7", "--out", out)
    assert result.exit_code == 1
    assert f"cannot write {out}" in result.output
    assert "Traceback" not in result.output


def test_upload_streams_with_a_content_length(tmp_path: Path) -> None:
    """The body is a stream with its length declared, not chunked."""
    seen: dict[str, Any] = {}
    body = bytes(range(256)) * 5000

    def handler(request: httpx.Request) -> httpx.Response:
        seen["headers"] = dict(request.headers)
        seen["body"] = b"".join(request.stream)  # type: ignore[arg-type]
        accepted = {
            "project_id": 1,
            "party": "a",
            "version": 1,
            "record_count": 3,
            "format": "linkage",
        }
        return httpx.Response(200, json=accepted)

    path = tmp_path / "big.lnk"
    path.write_bytes(body)
    calls: list[tuple[int, int]] = []
    with ServiceClient(
        "http://127.0.0.1", "t", transport=httpx.MockTransport(handler)
    ) as client:
        client.upload(1, "a", path, progress=lambda d, t: calls.append((d, t)))
    assert seen["body"] == body
    assert seen["headers"]["content-length"] == str(len(body))
    assert "transfer-encoding" not in seen["headers"]
    assert calls[-1] == (len(body), len(body))
    assert len(calls) == 2


def test_client_refuses_bad_urls_and_tokens() -> None:
    """Neither mistake reaches the network, and the token is not echoed."""
    with pytest.raises(ServiceError, match="http://"):
        ServiceClient("127.0.0.1:8000", "t")
    with pytest.raises(ServiceError, match="ASCII") as caught:
        ServiceClient("http://localhost", "line\nbreak-secret")
    assert "secret" not in str(caught.value)
    with ServiceClient("http://[::1]:8000", "t0k") as client:
        assert "t0k" not in repr(client)


def test_client_refuses_plain_http_to_another_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token would cross the network in clear: refused unless allowed."""
    monkeypatch.delenv("LINKAGE_ALLOW_HTTP", raising=False)
    for server in ("http://linkage.example.org", "http://10.0.0.7:8000"):
        with pytest.raises(ServiceError, match="LINKAGE_ALLOW_HTTP=1"):
            ServiceClient(server, "t")
    ServiceClient("https://linkage.example.org", "t").close()
    ServiceClient("http://10.0.0.7:8000", "t", allow_http=True).close()
    monkeypatch.setenv("LINKAGE_ALLOW_HTTP", "1")
    ServiceClient("http://linkage.example.org", "t").close()
