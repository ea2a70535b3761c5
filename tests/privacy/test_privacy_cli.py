"""`linkage privacy-check` end to end, on files made with `linkage encode`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from privacy_data import PLAIN_DEMO_SCHEMA, people

from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema
from tests.conftest import CONFIGS, FEBRL4_SCHEMA, RunCli, encode_demo_agencies


@pytest.fixture()
def demo_files(tmp_path: Path, run_cli: RunCli, secret_file: Path) -> dict[str, Path]:
    """1,000 people encoded by an agency; the attacker's list holds them all."""
    frame, records, population = _people_files(tmp_path)
    schema, encodings = _encoded(run_cli, tmp_path, records, secret_file)
    pairs = _pairs_file(tmp_path / "pairs.csv", encodings, frame)
    return {
        "encodings": encodings,
        "population": population,
        "pairs": pairs,
        "schema": schema,
    }


def _people_files(folder: Path) -> tuple[pd.DataFrame, Path, Path]:
    """1,000 people, their records file, and the attacker's list of them
    (shuffled)."""
    frame = people(1000)
    frame["person_id"] = "p" + frame["person_id"].astype(str)
    columns = ["person_id", "given_name", "surname", "date_of_birth", "sex",
               "postcode", "street"]  # fmt: skip
    records = folder / "records.csv"
    frame[columns].to_csv(records, index=False)
    population = folder / "population.csv"
    frame[columns].sample(frac=1, random_state=1).to_csv(population, index=False)
    return frame, records, population


def _pairs_file(path: Path, encodings: Path, frame: pd.DataFrame) -> Path:
    """Who each encoding is; pseudonyms come in the records' row order."""
    pseudonyms = read_encodings(encodings).pseudonym_strings()
    _write_pairs(path, zip(pseudonyms, frame["person_id"], strict=True))
    return path


def _encoded(
    run_cli: RunCli, folder: Path, records: Path, secret: Path
) -> tuple[Path, Path]:
    """``records`` encoded under the plain demo schema: (schema, encodings)."""
    schema = folder / "schema.json"
    schema.write_text(json.dumps(PLAIN_DEMO_SCHEMA))
    encodings = folder / "agency.lnk"
    result = run_cli(
        "encode", records, "--schema", schema, "--secret-file", secret,
        "--out", encodings,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return schema, encodings


def _write_pairs(path: Path, rows: object) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["pseudonym", "record_id"])
        writer.writerows(rows)  # type: ignore[arg-type]


def check(run_cli: RunCli, files: dict[str, Path], *extra: str | Path):
    return run_cli(
        "privacy-check", files["encodings"], "--schema", files["schema"],
        "--reference-population", files["population"], *extra,
    )  # fmt: skip


def test_plain_clks_are_reported_exposed(
    run_cli: RunCli, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    """With the truth, every attack is scored; plain CLKs are exposed."""
    out = tmp_path / "report.json"
    result = check(
        run_cli, demo_files, "--known-pairs", demo_files["pairs"], "--json", out
    )
    assert result.exit_code == 0, result.output
    assert "attack" in result.output and "verdict" in result.output
    report = json.loads(out.read_text())
    shares = {r["attack"]: r["share"] for r in report["results"]}
    assert shares["graph"] >= 0.8
    assert shares["known-plaintext"] >= 0.9
    assert report["known_pairs"] == 50
    assert "graph" in result.output and "exposed" in result.output
    assert "delete encodings" in result.output


def test_one_attack_and_fewer_known_pairs(
    run_cli: RunCli, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    """--attack picks attacks; --known sets the known-plaintext attacker's pairs."""
    out = tmp_path / "report.json"
    result = check(
        run_cli, demo_files, "--known-pairs", demo_files["pairs"],
        "--attack", "known-plaintext", "--known", "40", "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [r["attack"] for r in report["results"]] == ["known-plaintext"]
    assert report["known_pairs"] == 40
    assert report["results"][0]["scored"] == 960


@pytest.mark.slow
def test_without_known_pairs_nothing_is_scored(
    run_cli: RunCli, demo_files: dict[str, Path]
) -> None:
    """The output says why no share is given and known plaintext did not run."""
    result = check(run_cli, demo_files, "--attack", "graph",
                   "--attack", "known-plaintext")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "not scored" in result.output
    assert "not run" in result.output
    assert "Without --known-pairs" in result.output


def test_unknown_pseudonyms_and_ids_are_named_by_row(
    run_cli: RunCli, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    """Every unusable pair is listed with its row and field; exit status 1."""
    pairs = tmp_path / "bad-pairs.csv"
    first = read_encodings(demo_files["encodings"]).pseudonym_strings()[0]
    _write_pairs(pairs, [(first, "p1"), ("f" * 32, "p2"), (first, "nobody")])
    result = check(run_cli, demo_files, "--known-pairs", pairs)
    assert result.exit_code == 1
    assert "row 2, field 'pseudonym'" in result.output
    assert "row 3, field 'record_id'" in result.output
    assert "'nobody'" in result.output


def test_known_pairs_file_needs_its_columns(
    run_cli: RunCli, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    """A pairs file without pseudonym,record_id columns is refused."""
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("id,person\n1,2\n")
    result = check(run_cli, demo_files, "--known-pairs", pairs)
    assert result.exit_code == 1
    assert "pseudonym,record_id" in result.output


def test_population_missing_a_feature_column(
    run_cli: RunCli, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    """The error names the file and the missing feature."""
    population = tmp_path / "short.csv"
    frame = pd.read_csv(demo_files["population"], dtype=str)
    frame.drop(columns=["surname"]).to_csv(population, index=False)
    files = dict(demo_files, population=population)
    result = check(run_cli, files)
    assert result.exit_code == 1
    assert "short.csv" in result.output and "field 'surname'" in result.output


def test_unknown_id_column(run_cli: RunCli, demo_files: dict[str, Path]) -> None:
    """--id-column must name a column of the population."""
    result = check(run_cli, demo_files, "--id-column", "nope")
    assert result.exit_code == 1
    assert "no ID column 'nope'" in result.output


def test_encodings_of_another_schema_are_refused(
    run_cli: RunCli, demo_files: dict[str, Path]
) -> None:
    """The schema's fingerprint must be the encodings'."""
    result = run_cli(
        "privacy-check", demo_files["encodings"], "--schema", FEBRL4_SCHEMA,
        "--reference-population", demo_files["population"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "different schema" in result.output


def test_not_an_encodings_file(run_cli: RunCli, demo_files: dict[str, Path]) -> None:
    """A CSV given as ENCODINGS is refused with a message naming it."""
    files = dict(demo_files, encodings=demo_files["population"])
    result = check(run_cli, files)
    assert result.exit_code == 1
    assert "population.csv" in result.output


def test_help_documents_every_option(run_cli: RunCli) -> None:
    """Every option of the command has help text."""
    from linkage.cli.privacy import privacy_check_command

    result = run_cli("privacy-check", "--help")
    assert result.exit_code == 0
    for parameter in privacy_check_command.params:
        if parameter.param_type_name == "option":
            assert parameter.help, parameter.name  # type: ignore[attr-defined]
            assert parameter.opts[0] in result.output
    for attack in ("frequency", "graph", "known-plaintext", "secret-guess"):
        assert attack in result.output


def test_secret_guess_does_not_find_a_keygen_secret(
    run_cli: RunCli, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    """The built-in guesses against the file's header: resistant, with the
    number of guesses and their rate."""
    out = tmp_path / "report.json"
    result = check(run_cli, demo_files, "--attack", "secret-guess", "--json", out)
    assert result.exit_code == 0, result.output
    (guess,) = json.loads(out.read_text())["results"]
    assert (guess["attack"], guess["share"], guess["verdict"]) == (
        "secret-guess",
        0.0,
        "resistant",
    )
    assert "secret-guess: not found in" in result.output
    assert "a second" in result.output


def test_secret_guess_finds_a_passphrase_in_the_dictionary(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A passphrase the encoder accepted falls to a --dictionary holding it:
    every record exposed, with advice to use keygen; the passphrase is never
    shown."""
    passphrase = "seven tall giraffes drink cold blue tea"
    secret = tmp_path / "passphrase.secret"
    secret.write_text(passphrase + "\n")
    records = tmp_path / "records.csv"
    people(30).drop(columns=["person_id"]).to_csv(records, index=False)
    schema, encodings = _encoded(run_cli, tmp_path, records, secret)
    dictionary = tmp_path / "guesses.txt"
    dictionary.write_text(f"letmein\n{passphrase}\n")
    files = {"encodings": encodings, "schema": schema, "population": records}
    result = check(
        run_cli, files, "--attack", "secret-guess", "--dictionary", dictionary
    )
    assert result.exit_code == 0, result.output
    assert "100.0 %" in result.output and "exposed" in result.output
    assert "the secret was found (stretched)" in result.output
    assert "linkage keygen" in result.output
    assert passphrase not in result.output


def test_the_equality_attack_reads_the_files_match_keys(
    run_cli: RunCli, tmp_path: Path, secret_file: Path
) -> None:
    """Match keys of common values (a surname and a postcode, a given name
    and a sex) in the encodings file give people away to the equality
    attacker; the same CLKs without the keys show no pattern."""
    frame, records, population = _people_files(tmp_path)
    shares = {}
    for keyed in (True, False):
        document = json.loads(json.dumps(PLAIN_DEMO_SCHEMA))
        document["linkage"] = {"hardening": {"diffusion": {"taps": 4, "length": 1024}}}
        if keyed:
            keys = [["surname", "postcode"], ["given_name", "sex"]]
            document["linkage"]["match_keys"] = keys
        schema = tmp_path / f"schema-{keyed}.json"
        schema.write_text(json.dumps(document))
        encodings = tmp_path / f"agency-{keyed}.lnk"
        encoded = run_cli(
            "encode", records, "--schema", schema, "--secret-file", secret_file,
            "--out", encodings,
        )  # fmt: skip
        assert encoded.exit_code == 0, encoded.output
        pairs = _pairs_file(tmp_path / f"pairs-{keyed}.csv", encodings, frame)
        out = tmp_path / f"report-{keyed}.json"
        equality = _equality_result(run_cli, encodings, schema, population, pairs, out)
        shares[keyed] = equality["share"]
    assert shares[True] >= 0.1
    assert shares[False] <= 0.01


def test_an_agency_lacking_fields_is_attacked_as_it_sent_its_records(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Social services hold no address: `linkage encode` sends a view in
    place of their CLK of every field and another view empty, and says so
    in the header. The check reads that, takes a list without the address
    columns, and its equality attacker finds her pattern in every record
    (she encodes her list as the agency sent its own; encoding every view,
    she matched none)."""
    vault_key = bytes(range(32))
    schema = CONFIGS / "schemas" / "demo.json"
    [encodings] = encode_demo_agencies(
        tmp_path, ("social_services",), load_schema(schema), b"privacy cli secret",
        size=600, seed=3, vault_key=vault_key,
    ).values()  # fmt: skip
    entries = list(Vault.open(tmp_path / "social_services.vault", vault_key))
    population = tmp_path / "population.csv"
    pd.DataFrame([{"id": e.pseudonym, **e.identity} for e in entries]).to_csv(
        population, index=False
    )
    assert "street" not in pd.read_csv(population, nrows=1).columns
    pairs = tmp_path / "pairs.csv"
    _write_pairs(pairs, [(e.pseudonym, e.pseudonym) for e in entries])
    out = tmp_path / "report.json"
    equality = _equality_result(run_cli, encodings, schema, population, pairs, out)
    assert equality["assigned"] == len(entries)


def _equality_result(
    run_cli: RunCli,
    encodings: Path,
    schema: Path,
    population: Path,
    pairs: Path,
    out: Path,
) -> dict:
    """The equality attack's result as `linkage privacy-check --json` writes it."""
    result = run_cli(
        "privacy-check", encodings, "--schema", schema,
        "--reference-population", population, "--known-pairs", pairs,
        "--attack", "equality", "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [equality] = json.loads(out.read_text())["results"]
    return equality
