"""Keygen keys used as is, passphrases refused when weak or stretched."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkage.encoding.keyfiles import generate_key_text
from linkage.encoding.passphrase import (
    MIN_PASSPHRASE_CHARS,
    common_secrets,
    encoding_key,
    is_generated_key,
    passphrase_weakness,
    stretch_passphrase,
)
from linkage.formats.schema import LinkageSchema, schema_from_dict
from tests.conftest import FEBRL4_SCHEMA

STRONG = "seven tall giraffes drink cold blue tea"


def project_schema(project: str) -> LinkageSchema:
    """The FEBRL4 schema with a project's own HKDF salt."""
    document = copy.deepcopy(json.loads(FEBRL4_SCHEMA.read_text()))
    salt = base64.b64encode(project.encode()).decode()
    document["clkConfig"]["kdf"]["salt"] = salt
    return schema_from_dict(document)


def test_keygen_keys_are_recognised_and_used_as_is() -> None:
    """Every key keygen writes is recognised, and the encoder uses its text."""
    schema = project_schema("a")
    keys = [generate_key_text() for _ in range(20)]
    assert all(is_generated_key(key) for key in keys)
    assert encoding_key(keys[0], schema) == keys[0].encode()


def test_a_key_from_an_older_keygen_is_a_strong_passphrase() -> None:
    """Random text without keygen's check bits is stretched, not refused."""
    digest = hashlib.sha256(b"a key from keygen before the check bits").digest()
    old = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert len(old) == 43 and not is_generated_key(old)
    assert passphrase_weakness(old) is None
    schema = project_schema("a")
    assert encoding_key(old, schema) == stretch_passphrase(old, schema)


@pytest.mark.parametrize(
    "typed",
    ["a" * 43, "A" * 43, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
     ("thequickbrownfoxjumpsoverthelazydog" * 2)[:43],
     ("TheQuickBrownFoxJumpsOverTheLazyDog" * 2)[:43]],
)  # fmt: skip
def test_typed_text_of_the_keygen_form_is_not_a_key(typed: str) -> None:
    """Text of 43 key characters that was plainly typed is a passphrase."""
    assert not is_generated_key(typed)


@pytest.mark.parametrize(
    ("weak", "reason"),
    [("aaaaaaaaaaaaaaaa", "fewer than 20 characters"),
     ("password123", "fewer than 20 characters"),
     ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "fewer than 8 different"),
     ("abcdefgh" * 3, "one short piece repeated"),
     ("qwertyuiopasdfghjklzxcvbnm", "common password or pattern"),
     ("correct horse battery staple", "common password or pattern"),
     ("Password2024!Password", "mostly digits and symbols"),
     ("73829104758392017463", "mostly digits and symbols")],
)  # fmt: skip
def test_weak_passphrases_are_named_why(weak: str, reason: str) -> None:
    found = passphrase_weakness(weak)
    assert found is not None and reason in found
    assert weak not in found


def test_every_built_in_guess_is_a_weak_passphrase() -> None:
    """What the guessing attacker tries first, the encoder never accepts."""
    guesses = list(common_secrets())
    assert len(guesses) == len(set(guesses)) > 10_000
    assert {"password", "aaaaaaaaaaaaaaaa", "password123", "qwerty"} <= set(guesses)
    assert all(passphrase_weakness(guess) is not None for guess in guesses)


@given(piece=st.text(min_size=1, max_size=9), times=st.integers(2, 12))
def test_a_repeated_piece_is_always_weak(piece: str, times: int) -> None:
    assert passphrase_weakness(piece * times) is not None


@given(text=st.text(max_size=MIN_PASSPHRASE_CHARS - 1))
def test_short_text_is_always_weak(text: str) -> None:
    assert passphrase_weakness(text) is not None


def test_a_passphrase_is_stretched_per_project() -> None:
    """Same passphrase and schema: same key (agencies agree); another
    project's schema: another key. The key is 32 bytes in base64url, so
    clkhash given its text makes the same CLKs."""
    north, south = project_schema("north"), project_schema("south")
    assert passphrase_weakness(STRONG) is None
    key = stretch_passphrase(STRONG, north)
    assert key == encoding_key(STRONG, north)
    assert key != stretch_passphrase(STRONG, south)
    assert len(base64.urlsafe_b64decode(key + b"=")) == 32
