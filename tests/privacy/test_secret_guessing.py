"""The offline-guessing attacker: key-check values of weak secrets are found."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from privacy_data import demo_schema, encode, people

from linkage.encoding.keyfiles import generate_key_text
from linkage.encoding.keys import key_check_value, legacy_key_check_value
from linkage.encoding.passphrase import stretch_passphrase
from linkage.encoding.recipe import encode_csv
from linkage.errors import InputError
from linkage.formats.clkfile import read_encodings
from linkage.privacy.check import privacy_check
from linkage.privacy.guessing import common_secrets, dictionary_file, guess_secret

SCHEMA = demo_schema("given_name", "surname")
PASSPHRASE = "seven tall giraffes drink cold blue tea"
BUILT_IN = list(common_secrets())


def test_an_old_file_of_sixteen_as_is_found() -> None:
    """The unsalted 16-digit value of older files: 'aaaaaaaaaaaaaaaa' falls."""
    found = guess_secret(legacy_key_check_value(b"aaaaaaaaaaaaaaaa"), SCHEMA)
    assert found.found and found.way == "legacy"
    assert 0 < found.guesses < len(BUILT_IN)
    assert found.stretched_guesses == 0


def test_a_weak_secret_given_unstretched_is_found_in_a_real_file(
    tmp_path: Path,
) -> None:
    """An encodings file made through the library with 'password123' as the
    key: its header gives the secret away."""
    records = tmp_path / "records.csv"
    people(20)[["given_name", "surname"]].to_csv(records, index=False)
    out = tmp_path / "agency.lnk"
    encode_csv(records, SCHEMA, b"password123", out)
    header = read_encodings(out).header
    assert header is not None
    found = guess_secret(header.key_check, SCHEMA)
    assert found.found and found.way == "as is"
    assert "the secret was found (as is)" in found.describe()
    assert "password123" not in found.describe()


@settings(max_examples=5, deadline=None)
@given(secret=st.sampled_from(BUILT_IN))
def test_every_built_in_guess_is_found_as_is(secret: str) -> None:
    found = guess_secret(key_check_value(secret.encode(), SCHEMA), SCHEMA)
    assert found.found


def test_a_keygen_secret_is_not_found() -> None:
    """Every built-in guess is tried, quickly, and none fits."""
    key = generate_key_text().encode()
    result = guess_secret(key_check_value(key, SCHEMA), SCHEMA)
    assert not result.found and result.complete and result.way is None
    assert result.guesses == len(BUILT_IN)
    assert result.stretched_guesses == 0  # The encoder refuses them all as weak.
    assert result.fast_rate > 1_000
    assert result.describe().startswith(f"not found in {len(BUILT_IN):,} guesses")


def test_an_accepted_passphrase_falls_to_a_dictionary_that_holds_it(
    tmp_path: Path,
) -> None:
    """A stretched passphrase is found only by stretching each guess: slowly.
    Weak lines and keygen-form lines are not stretched."""
    key = stretch_passphrase(PASSPHRASE, SCHEMA)
    dictionary = tmp_path / "words.txt"
    dictionary.write_bytes(
        b"password\n\n  \xff\xfe not text\nan unrelated long passphrase here\n"
        + f"  {PASSPHRASE}  \n".encode()
    )
    candidates = list(dictionary_file(dictionary))
    assert candidates == ["password", "an unrelated long passphrase here", PASSPHRASE]
    result = guess_secret(key_check_value(key, SCHEMA), SCHEMA, candidates)
    assert result.found and result.way == "stretched"
    assert (result.fast_guesses, result.stretched_guesses) == (3, 2)
    assert 0 < result.stretched_rate < 100


def test_guessing_stops_at_the_time_limit() -> None:
    key = generate_key_text().encode()
    result = guess_secret(key_check_value(key, SCHEMA), SCHEMA, time_limit=0)
    assert not result.found and not result.complete
    assert result.guesses < len(BUILT_IN)
    assert "stopped at the time limit" in result.describe()


@pytest.mark.parametrize("value", ["abc", "0" * 64])
def test_a_value_linkage_does_not_write_is_refused(value: str) -> None:
    with pytest.raises(InputError, match="hex digits"):
        guess_secret(value, SCHEMA)


def test_an_unreadable_dictionary_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the dictionary"):
        list(dictionary_file(tmp_path))


@pytest.mark.parametrize(
    ("secret", "share", "verdict"),
    [(b"aaaaaaaaaaaaaaaa", 1.0, "exposed"),
     (generate_key_text().encode(), 0.0, "resistant")],
    ids=["weak", "generated"],  # The generated key differs in each process.
)  # fmt: skip
def test_privacy_check_scores_the_secret_guess(
    secret: bytes, share: float, verdict: str
) -> None:
    """Found, the secret exposes every encoding, with or without the truth."""
    population = people(30)
    report = privacy_check(
        encode(SCHEMA, population), population, SCHEMA,
        attacks=["secret-guess"], key_check=key_check_value(secret, SCHEMA),
    )  # fmt: skip
    (result,) = report.results
    assert (result.attack, result.share, result.verdict) == (
        "secret-guess",
        share,
        verdict,
    )
    assert result.scored == 30 and result.correct == 30 * share
    assert report.exposed == (verdict == "exposed")
    assert any("linkage keygen" in advice for advice in report.advice) == (
        verdict == "exposed"
    )


def test_privacy_check_without_a_key_check_value_does_not_guess() -> None:
    population = people(10)
    report = privacy_check(
        encode(SCHEMA, population), population, SCHEMA, attacks=["secret-guess"]
    )
    (result,) = report.results
    assert result.verdict == "not run" and "key-check value" in result.note
