"""`linkage demo` runs the whole flow end to end through the real service."""

from __future__ import annotations

import json
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema
from linkage.service.loopback import SERVICE_THREAD_NAME, running_service
from tests import http_calls
from tests.conftest import CONFIGS, RunCli

AGENCIES = ("police", "health", "social_services", "tax")


def _service_threads() -> list[threading.Thread]:
    names = {SERVICE_THREAD_NAME, "linkage-run-worker"}
    return [thread for thread in threading.enumerate() if thread.name in names]


def _check_the_second_day(out: Path, output: str, matches: pd.DataFrame) -> None:
    """The second day's records were linked in, the police's withdrawn ones
    left every row, and health's lookup found its patient elsewhere."""
    assert "7. The next day" in output and "update run linked" in output
    arrived = set()
    for agency in AGENCIES:
        first = read_encodings(out / "encodings" / f"{agency}-day1.lnk")
        second = read_encodings(out / "encodings" / f"{agency}-day2.lnk")
        assert len(first) + len(second) == len(read_encodings(
            out / "encodings" / f"{agency}.lnk"
        )) and len(second) > 0  # fmt: skip
        arrived |= set(second.pseudonym_strings())
    assert arrived & set(matches["pseudonym"])
    changes = pd.read_csv(out / "results" / "police-changes.csv", dtype=str)
    withdrawn = set(changes.loc[changes["kind"] == "withdrawn", "pseudonym"])
    assert len(withdrawn) == 5 and not withdrawn & set(matches["pseudonym"])
    assert "health asks about one patient: known yes, known elsewhere yes" in output


def test_demo_runs_a_linkage_through_the_service(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Agencies encode and upload, the operator runs, agencies download and
    resolve their own results, the demo scores; the server is stopped. Each
    record carries CLKs without the address and without the birth date too,
    and the operator says which agencies were compared on which."""
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "--people", "600", "--configs", CONFIGS)
    assert result.exit_code == 0, result.output
    assert not _service_threads()
    assert "listening at http://127.0.0.1:" in result.output
    assert "/console" in result.output and "--keep-serving" in result.output
    assert not (out / "tokens" / "approver-ng.token").exists()  # kept in process
    assert "does not hold: date_of_birth, sex" in result.output
    assert "(link-dedup, clk, threshold auto)" in result.output
    assert "police with tax: without_birth" in result.output
    assert "police with social_services: without_address" in result.output
    header = read_encodings(out / "encodings" / "tax.lnk").header
    assert header is not None
    assert [v.name for v in header.views] == ["clk", "without_address", "without_birth"]
    assert header.absent_fields == ("date_of_birth", "sex")
    assert header.clk_same_as == "without_birth"  # Tax holds no other field.
    shipped = load_schema(CONFIGS / "schemas" / "demo.json")
    assert header.schema_fingerprint == shipped.fingerprint
    assert "operator: threshold" in result.output
    assert "groups of" in result.output
    assert "all pairs" in result.output
    assert "Demo finished in" in result.output
    assert (out / "service" / "linkage.db").exists()
    assert (out / "service" / "operator.token").exists()
    gathered = []
    for agency in AGENCIES:
        encodings = read_encodings(out / "encodings" / f"{agency}.lnk")
        key = read_vault_key(out / "keys" / f"{agency}-vault.key")
        vault = Vault.open(out / "vaults" / f"{agency}.vault", key)
        own = set(encodings.pseudonym_strings())
        assert len(vault) == len(encodings) > 0
        assert own == {entry.pseudonym for entry in vault}
        for secret in (f"keys/{agency}-vault.key", f"tokens/{agency}.token"):
            assert stat.S_IMODE((out / secret).stat().st_mode) == 0o600
        results = pd.read_csv(out / "results" / f"{agency}.csv", dtype=str)
        resolved = pd.read_csv(out / "resolved" / f"{agency}.csv", dtype=str)
        assert list(results.columns) == ["pseudonym", "match_id", "score"]
        assert list(resolved.columns[:2]) == ["record_id", "match_id"]
        # Resolving adds the records of a person recorded more than once that
        # the operator left alone (they sent no match key), and only those.
        record_of = {entry.pseudonym: entry.record_id for entry in vault}
        added = set(resolved["record_id"]) - {
            record_of[p] for p in results["pseudonym"]
        }
        assert len(resolved) == len(results) + len(added) and len(results) > 0
        filed = set(vault.repeats) | set(vault.repeats.values())
        assert added <= {record_of[p] for p in filed}
        assert set(results["pseudonym"]) <= own
        assert f"{agency:<16} {len(results):>7} own rows" in result.output
        gathered.append(results.assign(party=agency))
    matches = pd.concat(gathered, ignore_index=True)
    parties_per_group = matches.groupby("match_id")["party"].nunique()
    assert (parties_per_group >= 2).sum() > 0
    across = matches[
        matches["match_id"].isin(parties_per_group.index[parties_per_group >= 2])
    ]
    assert across["party"].nunique() == len(AGENCIES)
    # The reveal came before the next day's update run, which may have merged
    # or dissolved the revealed match: check it against the first day's rows.
    _check_the_reveal(out, result.output, _first_day(out, matches))
    _check_the_second_day(out, result.output, matches)
    # Health's own ledger and the service's log tell the same story.
    checked = run_cli(
        "audit", "ledger", out / "audit.jsonl",
        "--service-key", out / "service" / "service-signing.pub",
        "--ledger", out / "vaults" / "health.answered", "--party", "health",
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    assert "agree: 1 answers of health" in checked.output


def test_demo_links_hardened_field_groups_probabilistically(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """--method probabilistic: hardened field groups, a probabilistic project."""
    out = tmp_path / "demo"
    result = run_cli(
        "demo", "--out", out, "--people", "600", "--configs", CONFIGS,
        "--method", "probabilistic",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(link-dedup, probabilistic, threshold auto)" in result.output
    assert "probabilistic, expected_f1" in result.output
    assert "model warning" not in result.output  # The fit had no doubts.
    header = read_encodings(out / "encodings" / "police.lnk").header
    assert header is not None and header.segments is not None
    assert [s.name for s in header.segments] == ["name", "birth", "address"]
    groups = load_schema(CONFIGS / "schemas" / "demo-groups.json")
    assert header.schema_fingerprint == groups.fingerprint


def test_the_operator_sees_when_the_model_doubts_itself(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Groups too coarse to tell people apart (sex on its own, everything
    else but the name in one filter): EM takes every candidate for a match,
    and the run says so instead of reporting it as an ordinary result."""
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS, configs)
    schema_path = configs / "schemas" / "demo-groups.json"
    document = json.loads(schema_path.read_text())
    document["linkage"]["segments"]["groups"] = {
        "name": ["given_name", "surname"],
        "person": ["date_of_birth", "postcode", "street"],
        "sex": ["sex"],
    }
    schema_path.write_text(json.dumps(document))
    result = run_cli(
        "demo", "--out", tmp_path / "demo", "--people", "600", "--configs", configs,
        "--method", "probabilistic",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "model warning: EM takes" in result.output
    assert "too coarse to tell people apart" in result.output


def _first_day(out: Path, matches: pd.DataFrame) -> pd.DataFrame:
    """The results each agency downloaded on the first day, rebuilt from the
    last ones and what the update run changed in each agency's rows."""
    rows = matches.set_index(["party", "pseudonym"])["match_id"].to_dict()
    for agency in AGENCIES:
        changes = pd.read_csv(
            out / "results" / f"{agency}-changes.csv", dtype=str, keep_default_na=False
        )
        for change in changes.itertuples():
            key = (agency, change.pseudonym)
            if change.kind == "added":
                rows.pop(key, None)
            else:  # moved, left or withdrawn: it was in the earlier match.
                rows[key] = change.match_id_before
    return pd.DataFrame(
        [(party, pseudonym, match_id) for (party, pseudonym), match_id in rows.items()],
        columns=["party", "pseudonym", "match_id"],
    )


def _check_the_reveal(out: Path, output: str, matches: pd.DataFrame) -> None:
    """One match revealed to the investigator: health's records in it, opened
    with the investigator's key after health checked the approvers' own
    signatures; the audit log verified."""
    assert "signed and approved (2 of 2); request is approved" in output
    assert "approvals by approver-ng and approver-okafor (pinned keys)" in output
    assert "signed by health's pinned key" in output
    assert "verified against the service key" in output
    revealed = pd.read_csv(out / "revealed.csv", dtype=str)
    assert stat.S_IMODE((out / "revealed.csv").stat().st_mode) == 0o600
    assert set(revealed["party"]) == {"health"}
    (match_id,) = set(revealed["match_id"])
    in_match = matches[(matches["match_id"] == match_id)]
    assert set(in_match["party"]) >= {"police", "health"}
    health = in_match[in_match["party"] == "health"]
    assert sorted(revealed["pseudonym"]) == sorted(health["pseudonym"])
    # The vault, not the resolved file: the update run may since have moved
    # one of these records to another match.
    key = read_vault_key(out / "keys" / "health-vault.key")
    record_of = {
        entry.pseudonym: entry.record_id
        for entry in Vault.open(out / "vaults" / "health.vault", key)
    }
    expected = [record_of[pseudonym] for pseudonym in health["pseudonym"]]
    assert sorted(revealed["record_id"]) == sorted(expected)


def test_the_demo_service_stops_when_the_demo_fails(tmp_path: Path) -> None:
    """An error inside the block still stops the server and its worker."""
    with (
        pytest.raises(RuntimeError, match="the demo broke"),
        running_service(tmp_path / "service") as service,
    ):
        assert http_calls.get(f"{service.url}/health", timeout=5).status_code == 200
        assert service.operator_token
        assert _service_threads()
        raise RuntimeError("the demo broke")
    assert not _service_threads()
    with pytest.raises(httpx.TransportError):
        http_calls.get(f"{service.url}/health", timeout=1)


def test_the_demo_runs_from_any_folder_with_the_installed_configs(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a checkout there is no ./configs: the demo takes the schemas
    and mappings installed with the package."""
    monkeypatch.chdir(tmp_path)
    assert not (tmp_path / "configs").exists()
    result = run_cli("demo", "--out", tmp_path / "demo", "--people", "300")
    assert result.exit_code == 0, result.output
    assert "Demo finished in" in result.output


def test_demo_keep_serving_leaves_the_console_open(tmp_path: Path) -> None:
    """`linkage demo --keep-serving` prints the console's address and the
    token files of each role (never a token), and serves the console until
    Ctrl-C: oversight logs in with its file and reads the audit trail."""
    out = tmp_path / "demo"
    # Ctrl-C as at a terminal: a shell starts background jobs with SIGINT
    # ignored, and Python keeps an ignored SIGINT ignored in its children.
    at_a_terminal = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from linkage.cli import main; main()"
    )
    command = [sys.executable, "-c", at_a_terminal, "demo",
               "--out", str(out), "--people", "300", "--configs", str(CONFIGS),
               "--keep-serving"]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as demo:
        _read_the_console(demo, out)


def _read_the_console(demo: subprocess.Popen[str], out: Path) -> None:
    """Wait for the console to be offered, log in to it, then press Ctrl-C."""
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 300
        while not lines or "Press Ctrl-C" not in lines[-1]:
            assert time.monotonic() < deadline and demo.poll() is None, lines
            lines.append(demo.stdout.readline())
        printed = "".join(lines)
        console = re.search(r"Web console: (http://127.0.0.1:\d+/console)", printed)
        assert console is not None, printed
        oversight = out / "tokens" / "ombudsman-reyes.token"
        assert str(oversight) in printed
        token = oversight.read_text().strip()
        assert stat.S_IMODE(oversight.stat().st_mode) == 0o600
        assert token not in printed
        with http_calls.client(
            base_url=console.group(1).removesuffix("/console")
        ) as web:
            form = web.get("/console/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            web.post("/console/login", data={"csrf": csrf.group(1), "token": token})
            audit = web.get("/console", follow_redirects=True)
        assert audit.status_code == 200 and "Log verified" in audit.text
        assert "reveal.fulfilled" in audit.text
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
