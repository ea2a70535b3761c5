"""`linkage encode` and `linkage schema check` on real files."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.keyfiles import read_secret, read_vault_key
from linkage.encoding.keys import key_check_value
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema
from tests.conftest import CONFIGS, FEBRL4_SCHEMA, RunCli


def encode(run_cli: RunCli, records: Path, secret: Path, out: Path, *extra: str | Path):
    return run_cli(
        "encode", records, "--schema", FEBRL4_SCHEMA, "--secret-file", secret,
        "--out", out, *extra,
    )  # fmt: skip


def test_encode_writes_pseudonyms_and_clks_only(
    run_cli: RunCli, tmp_path: Path, febrl4_a_csv: Path, secret_file: Path
) -> None:
    """The encodings file has a header, random pseudonyms, CLKs and no record IDs."""
    out = tmp_path / "a.lnk"
    result = encode(run_cli, febrl4_a_csv, secret_file, out)
    assert result.exit_code == 0, result.output
    assert "Encoded 500 of 500 records" in result.output
    encodings = read_encodings(out)
    assert len(encodings) == 500
    assert encodings.header is not None
    assert encodings.header.schema_fingerprint == load_schema(FEBRL4_SCHEMA).fingerprint
    schema = load_schema(FEBRL4_SCHEMA)
    key = read_secret(secret_file, schema)
    assert encodings.header.key_check == key_check_value(key, schema)
    pseudonyms = encodings.pseudonym_strings()
    assert len(set(pseudonyms)) == 500
    assert all(len(p) == 32 for p in pseudonyms)
    raw = out.read_bytes()
    record_ids = pd.read_csv(febrl4_a_csv, dtype=str)["rec_id"]
    assert not any(rec_id.encode() in raw for rec_id in record_ids)


def test_pseudonyms_are_fresh_on_every_run(
    run_cli: RunCli, tmp_path: Path, febrl4_a_csv: Path, secret_file: Path
) -> None:
    """Encoding twice gives the same CLKs under new pseudonyms."""
    first, second = tmp_path / "1.lnk", tmp_path / "2.lnk"
    assert encode(run_cli, febrl4_a_csv, secret_file, first).exit_code == 0
    assert encode(run_cli, febrl4_a_csv, secret_file, second).exit_code == 0
    one, two = read_encodings(first), read_encodings(second)
    assert np.array_equal(one.clks, two.clks)
    assert not set(one.pseudonym_strings()) & set(two.pseudonym_strings())


def test_clkhash_json_output_matches_linkage_format(
    run_cli: RunCli, tmp_path: Path, febrl4_a_csv: Path, secret_file: Path
) -> None:
    """--format clkhash-json writes {"clks": [...]} with the same CLKs in row order."""
    binary, as_json = tmp_path / "a.lnk", tmp_path / "a.json"
    assert encode(run_cli, febrl4_a_csv, secret_file, binary).exit_code == 0
    result = encode(
        run_cli, febrl4_a_csv, secret_file, as_json, "--format", "clkhash-json"
    )
    assert result.exit_code == 0, result.output
    assert list(json.loads(as_json.read_text())) == ["clks"]
    assert np.array_equal(read_encodings(as_json).clks, read_encodings(binary).clks)


def test_agency_resolves_its_matches_from_the_vault(
    run_cli: RunCli,
    tmp_path: Path,
    febrl4_a_csv: Path,
    secret_file: Path,
    vault_key_file: Path,
) -> None:
    """Results (pseudonym, match_id) resolve to the agency's own record IDs."""
    out, vault = tmp_path / "a.lnk", tmp_path / "a.vault"
    result = encode(
        run_cli, febrl4_a_csv, secret_file, out, "--vault", vault,
        "--vault-key-file", vault_key_file, "--id-column", "rec_id",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pseudonyms = read_encodings(out).pseudonym_strings()
    results = tmp_path / "results.csv"
    with open(results, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["pseudonym", "match_id"])
        writer.writerows([p, f"m{i}"] for i, p in enumerate(pseudonyms[:50]))
    resolved = tmp_path / "resolved.csv"
    result = run_cli(
        "vault", "resolve", results, "--vault", vault,
        "--vault-key-file", vault_key_file, "--out", resolved,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(resolved, dtype=str)
    expected = pd.read_csv(febrl4_a_csv, dtype=str)["rec_id"].head(50)
    assert table["record_id"].tolist() == expected.tolist()
    assert table["match_id"].tolist() == [f"m{i}" for i in range(50)]


@pytest.fixture()
def dated_schema(tmp_path: Path) -> Path:
    """A small schema with a date and an enum, so values can be invalid."""
    document = {
        "version": 3,
        "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
        "features": [
            {"identifier": "ref", "ignored": True},
            {
                "identifier": "name",
                "format": {"type": "string", "case": "lower"},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 2},
                    "strategy": {"bitsPerFeature": 100},
                },
            },
            {
                "identifier": "dob",
                "format": {"type": "date", "format": "%Y-%m-%d"},
                "hashing": {
                    "comparison": {"type": "ngram", "n": 1, "positional": True},
                    "strategy": {"bitsPerFeature": 80},
                },
            },
        ],
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(document))
    return path


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return path


def encode_small(
    run_cli: RunCli, schema: Path, records: Path, secret: Path, *extra: str | Path
):
    out = records.with_suffix(".lnk")
    result = run_cli(
        "encode", records, "--schema", schema, "--secret-file", secret,
        "--out", out, *extra,
    )  # fmt: skip
    return result, out


def test_invalid_values_are_all_reported_and_nothing_written(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """Every bad row is named with row and field; no output file is left."""
    records = write_rows(
        tmp_path / "people.csv",
        [["ref", "name", "dob"], ["1", "ann", "1980-02-29"],
         ["2", "Bob", "1981-01-01"], ["3", "cy", "1981-02-30"]],
    )  # fmt: skip
    result, out = encode_small(run_cli, dated_schema, records, secret_file)
    assert result.exit_code == 1
    assert "2 row(s) cannot be encoded" in result.output
    assert "row 2, field 'name': must be lower case (got 'Bob')" in result.output
    assert "row 3, field 'dob'" in result.output
    assert "'%Y-%m-%d'" in result.output
    assert "--skip-invalid" in result.output
    assert not out.exists()
    assert list(tmp_path.glob("*.part")) == []


def test_every_bad_row_and_problem_is_counted_beyond_those_kept(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """7,283 rows with two bad values each: the message counts all of them,
    though only the first thousand problems are kept and twenty shown."""
    rows = [["ref", "name", "dob"]]
    rows += [[str(i), "Bob", "1981-02-30"] for i in range(1, 7284)]
    records = write_rows(tmp_path / "people.csv", rows)
    result, out = encode_small(run_cli, dated_schema, records, secret_file)
    assert result.exit_code == 1
    assert "none of the 7,283 rows can be encoded (14,566 problems)" in result.output
    assert "  ... and 14,546 more" in result.output
    assert "Without a mapping, values are encoded exactly as written" in result.output
    assert "linkage mapping preview" in result.output
    assert not out.exists()


def test_a_mapping_that_fails_every_row_points_to_the_preview(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """Every name upper-cased for a lower-case schema: the mapping is suspect."""
    rows = [["ref", "name", "dob"]]
    rows += [[str(i), "ann", "1981-02-28"] for i in range(1, 31)]
    records = write_rows(tmp_path / "people.csv", rows)
    mapping = tmp_path / "agency.yaml"
    mapping.write_text(
        "version: 1\nfields:\n  name: {column: name, steps: [upper]}\n"
        "  dob: {column: dob}\n",
        encoding="utf-8",
    )
    result, _ = encode_small(
        run_cli, dated_schema, records, secret_file, "--mapping", mapping
    )
    assert result.exit_code == 1
    assert "none of the 30 rows can be encoded;" in result.output
    assert "the mapping (or the schema) probably does not fit" in result.output


def test_some_bad_rows_are_counted_once_each(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """1,200 bad rows among 2,000, one with two problems: counted as rows."""
    rows = [["ref", "name", "dob"], ["0", "Bob", "1981-02-30"]]
    rows += [[str(i), "ann", "1981-02-30"] for i in range(1, 1200)]
    rows += [[str(i), "ann", "1981-02-28"] for i in range(1200, 2000)]
    records = write_rows(tmp_path / "people.csv", rows)
    result, _ = encode_small(run_cli, dated_schema, records, secret_file)
    assert result.exit_code == 1
    assert "1,200 row(s) cannot be encoded (1,201 problems)" in result.output
    assert "  ... and 1,181 more" in result.output
    assert "mapping preview" not in result.output


def test_skip_invalid_writes_the_rest_and_a_report(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """--skip-invalid leaves bad rows out and lists them in --report."""
    records = write_rows(
        tmp_path / "people.csv",
        [
            ["ref", "name", "dob"],
            ["1", "ann", "1980-02-29"],
            ["2", "Bob", "1981-01-01"],
        ],
    )
    report = tmp_path / "skipped.csv"
    result, out = encode_small(
        run_cli,
        dated_schema,
        records,
        secret_file,
        "--skip-invalid",
        "--report",
        report,
    )
    assert result.exit_code == 0, result.output
    assert "skipped 1 invalid row(s)" in result.output
    assert len(read_encodings(out)) == 1
    rows = list(csv.reader(report.read_text().splitlines()))
    assert rows[0] == ["row", "field", "problem"]
    assert rows[1][:2] == ["2", "name"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"ref,name\n1,ann\n", "lacks 1 column(s)"),
        (b"ref,name,dob\n1,ann,1980-01-01\n2,bob\n", "line 3 has 2 fields"),
        (b"ref,name,dob\n1,ann,1980-01-01\n2,j\xf6rg,1980-01-01\n", "line 3"),
        (b"ref,name,name\n1,a,b\n", "more than once: name"),
    ],
    ids=["empty", "missing-column", "ragged", "latin-1", "duplicate-column"],
)
def test_bad_files_are_named_with_what_to_do(
    run_cli: RunCli,
    tmp_path: Path,
    dated_schema: Path,
    secret_file: Path,
    content: bytes,
    expected: str,
) -> None:
    """Each broken export gives exit 1, the file name and the problem."""
    records = tmp_path / "export.csv"
    records.write_bytes(content)
    result, out = encode_small(run_cli, dated_schema, records, secret_file)
    assert result.exit_code == 1
    assert str(records) in result.output
    assert expected in result.output
    assert not out.exists()


def test_wrong_text_encoding_suggests_the_option(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """A Latin-1 export fails as UTF-8 and succeeds with --encoding latin-1."""
    records = tmp_path / "export.csv"
    records.write_bytes(b"ref,name,dob\n1,j\xf6rg,1980-01-01\n")
    result, _ = encode_small(run_cli, dated_schema, records, secret_file)
    assert "not valid utf-8" in result.output
    assert "--encoding" in result.output
    result, out = encode_small(
        run_cli, dated_schema, records, secret_file, "--encoding", "latin-1"
    )
    assert result.exit_code == 0, result.output
    assert len(read_encodings(out)) == 1


@pytest.mark.parametrize(
    ("secret_content", "expected"),
    [(None, "does not exist"), ("", "empty"), ("short", "20")],
    ids=["missing", "empty", "short"],
)
def test_bad_secret_files_are_refused(
    run_cli: RunCli,
    tmp_path: Path,
    febrl4_a_csv: Path,
    secret_content: str | None,
    expected: str,
) -> None:
    """Missing, empty and short secret files are refused without a partial file."""
    secret = tmp_path / "secret"
    if secret_content is not None:
        secret.write_text(secret_content)
    out = tmp_path / "a.lnk"
    result = encode(run_cli, febrl4_a_csv, secret, out)
    assert result.exit_code == 1
    assert expected in result.output
    assert not out.exists()


def test_secret_never_appears_in_output(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path, secret_file: Path
) -> None:
    """Neither success nor failure messages show the secret."""
    secret = secret_file.read_text().strip()
    records = write_rows(tmp_path / "p.csv", [["ref", "name", "dob"], ["1", "X", "x"]])
    failed, _ = encode_small(run_cli, dated_schema, records, secret_file)
    assert failed.exit_code == 1
    assert secret not in failed.output


def test_invalid_schema_is_refused_before_reading_records(
    run_cli: RunCli, tmp_path: Path, febrl4_a_csv: Path, secret_file: Path
) -> None:
    """A schema with a key clkhash would ignore stops the run, naming the key."""
    document = json.loads(FEBRL4_SCHEMA.read_text())
    document["clkConfig"]["xorFolds"] = 1
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(document))
    result = run_cli(
        "encode", febrl4_a_csv, "--schema", schema, "--secret-file", secret_file,
        "--out", tmp_path / "a.lnk",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "clkConfig.xorFolds: clkhash ignores 'xorFolds'" in result.output


def test_schema_check_describes_a_valid_schema(run_cli: RunCli) -> None:
    """schema check prints each feature and the fingerprint."""
    result = run_cli("schema", "check", FEBRL4_SCHEMA)
    assert result.exit_code == 0, result.output
    assert (
        "given_name: string, 2-grams, 200 bits per feature, doubleHash" in result.output
    )
    assert load_schema(FEBRL4_SCHEMA).fingerprint in result.output


def test_progress_bar_goes_to_stderr(
    run_cli: RunCli, tmp_path: Path, febrl4_a_csv: Path, secret_file: Path
) -> None:
    """--progress draws a bar on stderr, never on stdout."""
    result = encode(
        run_cli, febrl4_a_csv, secret_file, tmp_path / "a.lnk", "--progress"
    )
    assert result.exit_code == 0, result.output
    assert "Encoding" in result.stderr
    assert result.stdout == ""


def test_messy_export_with_mapping_resolves_to_own_ids(
    run_cli: RunCli, tmp_path: Path, secret_file: Path, vault_key_file: Path
) -> None:
    """A police export, mapped, encodes; results resolve to its PERSON_REFs."""
    from linkage.demo.generator import write_demo_data

    exports = write_demo_data(tmp_path / "data", size=300, seed=5)
    out, vault = tmp_path / "police.lnk", tmp_path / "police.vault"
    result = run_cli(
        "encode", exports["police"], "--schema", CONFIGS / "schemas" / "demo.json",
        "--mapping", CONFIGS / "mappings" / "police.yaml",
        "--secret-file", secret_file, "--out", out,
        "--vault", vault, "--vault-key-file", vault_key_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    filed = len(Vault.open(vault, read_vault_key(vault_key_file)).repeats)
    # 300 demo people: some recorded twice by the police with the same match
    # key; local deduplication may find more (tests/encoding/test_local_dedup).
    hidden = re.search(
        r"; (\d+) record\(s\) of people recorded more than once", result.stderr
    )
    found = re.search(
        r"; (\d+) more record\(s\) found to be of a person", result.stderr
    )
    assert hidden, result.stderr
    assert int(hidden[1]) > 0
    assert int(hidden[1]) + (int(found[1]) if found else 0) == filed
    pseudonyms = read_encodings(out).pseudonym_strings()
    results = tmp_path / "results.csv"
    results.write_text(
        "pseudonym,match_id\n"
        + "".join(f"{p},m{i}\n" for i, p in enumerate(pseudonyms))
    )
    resolved = tmp_path / "resolved.csv"
    result = run_cli(
        "vault", "resolve", results, "--vault", vault,
        "--vault-key-file", vault_key_file, "--out", resolved, "--with-identity",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(resolved, dtype=str, keep_default_na=False)
    export = pd.read_csv(exports["police"], dtype=str, keep_default_na=False)
    assert table["record_id"].tolist() == export["PERSON_REF"].tolist()
    assert (table["given_name"] == table["given_name"].str.lower()).all()
    assert table["given_name"].map(str.isascii).all()


def _project_schema(dated_schema: Path, project: str) -> Path:
    """``dated_schema`` with the project's own HKDF salt, as projects should."""
    document = json.loads(dated_schema.read_text())
    salt = base64.b64encode(f"{project} salt".encode()).decode()
    document["clkConfig"]["kdf"]["salt"] = salt
    path = dated_schema.with_name(f"{project}.json")
    path.write_text(json.dumps(document))
    return path


def test_weak_secret_is_refused_without_output(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path
) -> None:
    """A 16-character secret of one letter is refused, pointing to keygen."""
    secret = tmp_path / "weak.secret"
    secret.write_text("aaaaaaaaaaaaaaaa\n")
    records = write_rows(tmp_path / "p.csv", [["ref", "name", "dob"]])
    result, out = encode_small(run_cli, dated_schema, records, secret)
    assert result.exit_code == 1
    assert "too weak" in result.output and "linkage keygen" in result.output
    assert str(secret) in result.output
    assert "aaaaaaaaaaaaaaaa" not in result.output
    assert not out.exists()


def test_key_check_is_salted_per_project_and_agreed_within_one(
    run_cli: RunCli,
    tmp_path: Path,
    dated_schema: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One passphrase in two projects: the two agencies of a project agree on
    the key-check value, the projects' values differ; it is stretched, with
    a warning."""
    secret = tmp_path / "shared.secret"
    secret.write_text("seven tall giraffes drink cold blue tea\n")
    rows = [["ref", "name", "dob"], ["1", "ann", "1990-01-02"]]
    checks = {}
    for project in ("north", "south"):
        schema = _project_schema(dated_schema, project)
        for agency in ("police", "health"):
            records = write_rows(tmp_path / f"{project}-{agency}.csv", rows)
            result, out = encode_small(run_cli, schema, records, secret)
            assert result.exit_code == 0, result.output
            checks[project, agency] = read_encodings(out).header.key_check
    assert checks["north", "police"] == checks["north", "health"]
    assert checks["south", "police"] == checks["south", "health"]
    assert checks["north", "police"] != checks["south", "police"]
    assert len(checks["north", "police"]) == 32
    assert "stretched with scrypt" in caplog.text
    assert "giraffes" not in caplog.text


def test_a_secret_used_as_is_makes_the_clks_clkhash_would(
    run_cli: RunCli, tmp_path: Path, dated_schema: Path
) -> None:
    """--secret-as-is: a secret keygen did not make is hashed as written, as
    clkhash uses its secret, so files made by clkhash itself with it link with
    ours; without the flag it is stretched and the CLKs differ."""
    text = "seven tall giraffes drink cold blue tea"
    secret = tmp_path / "clkhash.secret"
    secret.write_text(text + "\n")
    rows = [["ref", "name", "dob"], ["1", "ann", "1990-01-02"]]
    as_is, out = encode_small(
        run_cli, dated_schema, write_rows(tmp_path / "a.csv", rows), secret,
        "--secret-as-is",
    )  # fmt: skip
    assert as_is.exit_code == 0, as_is.output
    stretched, other = encode_small(
        run_cli, dated_schema, write_rows(tmp_path / "b.csv", rows), secret
    )
    assert stretched.exit_code == 0, stretched.output
    schema = load_schema(dated_schema)
    written = read_encodings(out)
    values = pd.DataFrame({"name": ["ann"], "dob": ["1990-01-02"]})
    expected = ClkEncoder(schema, text.encode()).encode(values).clks
    assert np.array_equal(written.clks, expected)
    assert written.header.key_check == key_check_value(text.encode(), schema)
    assert not np.array_equal(read_encodings(other).clks, expected)


def test_an_agency_lacking_fields_is_told_what_it_sends(
    run_cli: RunCli, tmp_path: Path, secret_file: Path
) -> None:
    """The tax export (no birth date, no sex) under the shipped default: the
    summary says which view stands in for its CLK and which goes empty."""
    from linkage.demo.generator import write_demo_data

    exports = write_demo_data(tmp_path / "data", size=100, seed=5)
    out = tmp_path / "tax.lnk"
    result = run_cli(
        "encode", exports["tax"], "--schema", CONFIGS / "schemas" / "demo.json",
        "--mapping", CONFIGS / "mappings" / "tax.yaml",
        "--secret-file", secret_file, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fields not in this export (encoded empty): date_of_birth, sex" in (
        result.output
    )
    assert "the view without_birth is sent in place of the CLK" in result.output
    assert "sent empty, holding too few of their fields: view(s) without_address" in (
        result.output
    )
    # Tax holds no birth date, so none of its records has a shipped key.
    assert (
        "match key(s) of soundex(given_name) + soundex(surname) + date_of_birth "
        "(none where" in result.output
    )
    keys = read_encodings(out).match_keys
    assert keys is not None and not keys[:, :16].any()
    # Each unique key: one in every record, no two alike.
    assert "Unique key(s) of given_name + surname; given_name + postcode" in (
        result.output
    )
    assert "each written once per person where no other person in this" in (
        result.output
    )
    for column in range(16, 64, 16):
        unique = {bytes(row) for row in keys[:, column : column + 16]}
        assert len(unique) == len(keys) and bytes(16) not in unique


def test_a_field_no_record_holds_is_named_with_what_to_do(
    run_cli: RunCli, tmp_path: Path, secret_file: Path
) -> None:
    """A police export whose DOB column is empty in every row: its CLKs hold
    fewer fields, and only a mapping without the birth date sends the view
    the police hold in their place. The export as it is warns nothing."""
    from linkage.demo.generator import write_demo_data

    exports = write_demo_data(tmp_path / "data", size=100, seed=5)
    police = pd.read_csv(exports["police"], dtype=str, keep_default_na=False)
    blank = tmp_path / "police-no-dob.csv"
    police.assign(DOB="").to_csv(blank, index=False)

    def encode(export: Path) -> str:
        result = run_cli(
            "encode", export, "--schema", CONFIGS / "schemas" / "demo.json",
            "--mapping", CONFIGS / "mappings" / "police.yaml",
            "--secret-file", secret_file, "--out", tmp_path / "police.lnk",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.output

    warned = encode(blank)
    assert f"Warning: no record of {blank} holds date_of_birth." in warned
    assert "Leave date_of_birth out of the mapping and encode again" in warned
    assert "sends the view without_birth in place of the CLK" in warned
    assert "Warning" not in encode(exports["police"])
