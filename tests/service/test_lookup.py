"""Real-time lookups over real HTTP: uvicorn on loopback, the demo's agencies.

Three synthetic agencies (``linkage.demo``) encode with the shipped demo
schema (views, fields some agencies lack), upload, and the operator runs a
linkage; then an agency looks up records and the tests compare each answer
with the run's own results files.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from linkage.audit.probing import lookup_probes
from linkage.formats.clkfile import Encodings, open_writer, read_encodings
from linkage.formats.schema import load_schema
from linkage.service.lookup.ratelimit import LookupRate
from linkage.service.loopback import running_service
from linkage.storage import Store
from linkage.storage.audit_log import read_audit_log
from tests import http_calls
from tests.conftest import (
    CONFIGS,
    RunCli,
    database_for,
    encode_demo_agencies,
    service_threads,
)
from tests.service.helpers import assert_problem, create_project

AGENCIES = ("police", "health", "social_services")
SECRET = b"a secret shared by the lookup test's agencies"
WAIT_SECONDS = 120
# Lookups the module's service allows each party at once, and a minute.
BURST = 60


@dataclass(frozen=True)
class Service:
    url: str
    data_dir: Path
    operator_token: str
    database_url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http_calls.client(base_url=self.url, headers=headers, timeout=30)

    def audit_entries(self) -> list[Any]:
        store = Store.open(self.database_url)
        try:
            return read_audit_log(store)[0]
        finally:
            store.close()


@dataclass(frozen=True)
class Linked:
    """A project whose run completed, and what the tests compare with."""

    project_id: int
    tokens: dict[str, str]
    encodings: dict[str, Encodings]
    results: dict[str, pd.DataFrame]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One server for the module, with a small lookup rate."""
    data_dir = tmp_path_factory.mktemp("lookup") / "data"
    database_url = database_for(request)
    rate = LookupRate(per_minute=1, burst=BURST)
    others = service_threads()
    with running_service(
        data_dir, database_url=database_url, lookup_rate=rate
    ) as running:
        yield Service(
            running.url,
            data_dir,
            running.operator_token,
            database_url or f"sqlite:///{data_dir / 'linkage.db'}",
        )
    # Only this module's server: with tests spread over workers, another
    # module's may still serve its own tests in this process.
    assert not service_threads() - others, "the server did not stop"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """300 demo people, as three agencies encode them."""
    root = tmp_path_factory.mktemp("agencies")
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    return encode_demo_agencies(root, AGENCIES, schema, SECRET, size=300, seed=23)


def _fingerprint(files: dict[str, Path]) -> str:
    header = read_encodings(files["police"]).header
    assert header is not None
    return header.schema_fingerprint


def _link(service: Service, files: dict[str, Path], **extra: object) -> Linked:
    project_id, tokens = create_project(
        service, _fingerprint(files), AGENCIES, mode="link-dedup", **extra
    )
    for party in AGENCIES:
        with service.client(tokens[party]) as client:
            response = client.put(
                f"/projects/{project_id}/parties/{party}/encodings",
                content=files[party].read_bytes(),
                headers={"Content-Type": "application/octet-stream"},
            )
        assert response.status_code == 200, response.text
    with service.client(service.operator_token) as client:
        run_id = client.post(f"/projects/{project_id}/runs").json()["run_id"]
        deadline = time.monotonic() + WAIT_SECONDS
        while (run := client.get(f"/projects/{project_id}/runs/{run_id}").json())[
            "state"
        ] not in ("completed", "failed"):
            assert time.monotonic() < deadline, run
            time.sleep(0.05)
    assert run["state"] == "completed", run
    # The demo's agencies lack different fields: some pairs are compared on
    # a view, which lookups must score the same way.
    assert run["stats"]["compared_on_views"] != "none", run["stats"]
    results = {}
    for party in AGENCIES:
        with service.client(tokens[party]) as client:
            text = client.get(f"/projects/{project_id}/results").text
        results[party] = pd.read_csv(io.StringIO(text), dtype=str)
    encodings = {party: read_encodings(files[party]) for party in AGENCIES}
    return Linked(project_id, tokens, encodings, results)


@pytest.fixture(scope="module")
def linked(service: Service, files: dict[str, Path]) -> Linked:
    """A project that keeps its encodings, linked once."""
    return _link(service, files, retain_encodings=True)


def _query(
    tmp_path: Path,
    encodings: Encodings,
    clks: np.ndarray,
    keys: np.ndarray | None = None,
    **header: Any,
) -> bytes:
    """An encodings file of ``clks`` (and their match ``keys``, none if not
    given) with ``encodings``' header (changed as ``header`` says) and fresh
    pseudonyms, as `linkage encode` writes one."""
    assert encodings.header is not None
    made = replace(encodings.header, record_count=0, **header)
    path = tmp_path / f"query-{time.monotonic_ns()}.lnk"
    pseudonyms = np.random.default_rng().integers(0, 256, (len(clks), 16), np.uint8)
    if keys is None and made.key_bytes:
        keys = np.zeros((len(clks), made.key_bytes), dtype=np.uint8)
    with open_writer(path, "linkage", made) as writer:
        writer.write(pseudonyms, clks, keys)
    return path.read_bytes()


def _look_up(
    service: Service, linked: Linked, party: str, body: bytes
) -> httpx.Response:
    with service.client(linked.tokens[party]) as client:
        return client.post(
            f"/projects/{linked.project_id}/lookup",
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )


def _grouped_rows(linked: Linked, party: str, count: int) -> list[int]:
    """Rows of ``party``'s file whose record the run put in a group shared
    with another agency."""
    mine = linked.results[party]
    others = pd.concat(r for p, r in linked.results.items() if p != party)
    shared = mine[mine["match_id"].isin(set(others["match_id"]))]
    pseudonyms = linked.encodings[party].pseudonym_strings()
    rows = [pseudonyms.index(p) for p in shared["pseudonym"].head(count)]
    assert len(rows) == count, "the demo should link this many"
    return rows


def test_a_linked_person_finds_the_group_and_own_pseudonyms(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """A record the run grouped with another agency's comes back with that
    group's match ID, every one of the asker's pseudonyms in it, and
    known_elsewhere; nothing else."""
    police = linked.encodings["police"]
    rows = _grouped_rows(linked, "police", 5)
    response = _look_up(
        service, linked, "police", _query(tmp_path, police, police.clks[rows])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"project_id", "run_id", "results"}
    results = linked.results["police"]
    pseudonyms = police.pseudonym_strings()
    for row, item in zip(rows, body["results"], strict=True):
        match_id = results.loc[results["pseudonym"] == pseudonyms[row], "match_id"]
        expected = sorted(
            results.loc[results["match_id"] == match_id.iloc[0], "pseudonym"]
        )
        assert item["known"] and item["known_elsewhere"]
        assert item["match_id"] == match_id.iloc[0]
        assert item["own_pseudonyms"] == expected
        assert item["agencies"] is None  # The default policy names no agency.
        assert set(item) == {
            "record", "pseudonym", "known", "match_id", "own_pseudonyms",
            "known_elsewhere", "agencies",
        }  # fmt: skip


def test_a_slightly_different_encoding_still_finds_its_group(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """A few bits flipped (a typo's worth) still lands in the same group."""
    health = linked.encodings["health"]
    [row] = _grouped_rows(linked, "health", 1)
    clks = health.clks[[row]].copy()
    clks[0, :4] ^= 0b00010001  # Eight bits of the CLK of every field.
    response = _look_up(service, linked, "health", _query(tmp_path, health, clks))
    assert response.status_code == 200, response.text
    [item] = response.json()["results"]
    results = linked.results["health"]
    pseudonym = health.pseudonym_strings()[row]
    assert item["match_id"] == results.set_index("pseudonym").at[pseudonym, "match_id"]
    assert pseudonym in item["own_pseudonyms"]


def test_a_shared_match_key_finds_its_group_whatever_the_clk(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """A query sharing a match key with a linked record (a married name, a
    move: its CLK unlike any) gets that record's group, as a run would have
    grouped them; with no key it is not known."""
    health = linked.encodings["health"]
    assert health.match_keys is not None
    # Grouped rows come in the order of random match IDs, and a record
    # lacking one of the key's fields carries no key: take one that has it.
    row = next(
        row
        for row in _grouped_rows(linked, "health", 20)
        if health.match_keys[row].any()
    )
    unrelated = np.random.default_rng(5).integers(
        0, 256, health.clks[[row]].shape, dtype=np.uint8
    )
    keys = health.match_keys[[row]]
    pseudonym = health.pseudonym_strings()[row]
    expected = linked.results["health"].set_index("pseudonym").at[pseudonym, "match_id"]
    for sent, known in ((keys, True), (np.zeros_like(keys), False)):
        query = _query(tmp_path, health, unrelated, sent)
        response = _look_up(service, linked, "health", query)
        assert response.status_code == 200, response.text
        [item] = response.json()["results"]
        assert item["known"] is known
        assert item["match_id"] == (expected if known else None)


def test_a_stranger_is_not_known(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """Random CLKs as dense as the agency's match nobody."""
    police = linked.encodings["police"]
    rng = np.random.default_rng(5)
    density = np.unpackbits(police.clks).mean()
    bits = rng.random((3, police.clks.shape[1] * 8)) < density
    response = _look_up(
        service, linked, "police", _query(tmp_path, police, np.packbits(bits, axis=1))
    )
    assert response.status_code == 200, response.text
    for item in response.json()["results"]:
        assert item == {
            "record": item["record"],
            "pseudonym": item["pseudonym"],
            "known": False,
            "match_id": None,
            "own_pseudonyms": [],
            "known_elsewhere": False,
            "agencies": None,
        }


def test_another_agencys_pseudonyms_never_appear(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """Looking up social services' own records in the groups they share with
    police and health: the answer's text holds none of their pseudonyms."""
    social = linked.encodings["social_services"]
    rows = _grouped_rows(linked, "social_services", 5)
    response = _look_up(
        service, linked, "social_services", _query(tmp_path, social, social.clks[rows])
    )
    assert response.status_code == 200, response.text
    for party in ("police", "health"):
        for pseudonym in linked.encodings[party].pseudonym_strings():
            assert pseudonym not in response.text
    assert "police" not in response.text and "health" not in response.text


def test_the_lookup_command_prints_each_answer(
    service: Service, linked: Linked, tmp_path: Path, run_cli: RunCli
) -> None:
    """`linkage lookup FILE --project N` with a token file: one line per
    record, the match ID and own pseudonyms for a known one; --json is the
    service's answer."""
    police = linked.encodings["police"]
    rows = _grouped_rows(linked, "police", 1)
    stranger = np.zeros((1, police.clks.shape[1]), dtype=np.uint8)
    stranger[0, :8] = 0xFF
    query = tmp_path / "query.lnk"
    query.write_bytes(
        _query(tmp_path, police, np.concatenate([police.clks[rows], stranger]))
    )
    token_file = tmp_path / "police.token"
    token_file.write_text(linked.tokens["police"])
    token_file.chmod(0o600)
    common = ("--project", linked.project_id, "--server", service.url)
    result = run_cli("lookup", query, *common, "--token-file", token_file)
    assert result.exit_code == 0, result.output
    results = linked.results["police"]
    pseudonym = police.pseudonym_strings()[rows[0]]
    match_id = results.set_index("pseudonym").at[pseudonym, "match_id"]
    first, second = result.output.splitlines()[1:]
    assert f"known; match ID {match_id}" in first and pseudonym in first
    assert "known elsewhere: yes" in first
    assert second.endswith("not known")
    as_json = run_cli("lookup", query, *common, "--token-file", token_file, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["results"][0]["match_id"] == match_id


def test_a_file_encoded_otherwise_is_a_422_naming_what_differs(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """Another schema, another secret, or no file at all: 422 saying what."""
    police = linked.encodings["police"]
    assert police.header is not None
    clks = police.clks[:1]
    keys_only = {"match_keys": police.header.extensions["match_keys"]}
    for header, named in (
        ({"schema_fingerprint": "c" * 64}, "schema fingerprint"),
        ({"key_check": "0" * 32}, "key-check value"),
        ({"extensions": keys_only}, "views"),
    ):
        response = _look_up(
            service, linked, "police", _query(tmp_path, police, clks, **header)
        )
        assert named in assert_problem(response, 422)
    detail = assert_problem(_look_up(service, linked, "police", b'{"clks": []}'), 422)
    assert "linkage encodings file" in detail
    too_many = _query(tmp_path, police, police.clks[: BURST + 1])
    detail = assert_problem(_look_up(service, linked, "police", too_many), 422)
    assert f"a lookup takes 1 to {BURST}" in detail


def test_only_a_party_may_look_up(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """The operator's token gets 403: the answer is an agency's own."""
    police = linked.encodings["police"]
    with service.client(service.operator_token) as client:
        response = client.post(
            f"/projects/{linked.project_id}/lookup",
            content=_query(tmp_path, police, police.clks[:1]),
        )
    assert "agency's own token" in assert_problem(response, 403)


def test_a_project_that_deletes_its_encodings_answers_409(
    service: Service, files: dict[str, Path], tmp_path: Path
) -> None:
    """Without --keep-encodings there is nothing to compare with: 409 says so."""
    plain = _link(service, files)
    police = plain.encodings["police"]
    response = _look_up(
        service, plain, "police", _query(tmp_path, police, police.clks[:1])
    )
    assert "keep-encodings" in assert_problem(response, 409)


def test_the_rate_limit_answers_429_with_retry_after(
    service: Service, files: dict[str, Path], tmp_path: Path
) -> None:
    """A burst's worth goes through; one more record is refused with the
    seconds to wait; the first refusal is audited once."""
    project_id, tokens = create_project(
        service, _fingerprint(files), AGENCIES, retain_encodings=True
    )
    fresh = Linked(project_id, tokens, {}, {})
    police = read_encodings(files["police"])
    first = _look_up(
        service, fresh, "police", _query(tmp_path, police, police.clks[:BURST])
    )
    assert first.status_code == 409  # No run yet, but the records were counted.
    for _ in range(2):
        refused = _look_up(
            service, fresh, "police", _query(tmp_path, police, police.clks[:1])
        )
        assert "retry in" in assert_problem(refused, 429)
        assert int(refused.headers["Retry-After"]) >= 1
    limited = [
        e for e in service.audit_entries()
        if e.action == "lookup.limited" and e.project_id == project_id
    ]  # fmt: skip
    assert len(limited) == 1 and limited[0].details == {"party": "police"}


def test_lookups_are_audited_and_a_probing_burst_is_flagged(
    service: Service, linked: Linked, tmp_path: Path
) -> None:
    """Every answered lookup is an audit entry with counts only; thirty
    strangers in a row from one agency are flagged as probing."""
    tax_like = linked.encodings["health"]
    rng = np.random.default_rng(9)
    bits = rng.random((30, tax_like.clks.shape[1] * 8)) < 0.3
    response = _look_up(
        service, linked, "health", _query(tmp_path, tax_like, np.packbits(bits, axis=1))
    )
    assert response.status_code == 200, response.text
    entries = [
        e for e in service.audit_entries()
        if e.action == "lookup.answered" and e.project_id == linked.project_id
    ]  # fmt: skip
    assert entries and all(
        set(e.details) == {"party", "run_id", "records", "known"} for e in entries
    )
    assert entries[-1].details["records"] == 30 and entries[-1].details["known"] == 0
    assert entries[-1].actor == "party:health"
    probes = lookup_probes(service.audit_entries())
    flagged = {(p.project_id, p.party) for p in probes}
    assert (linked.project_id, "health") in flagged
    assert (linked.project_id, "police") not in flagged
