"""Bulk base64 decoding agrees with binascii's strict decoder, text by text."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkage.formats.base64_rows import decode_rows

_ROWS = st.integers(min_value=1, max_value=70).flatmap(
    lambda width: st.lists(
        st.binary(min_size=width, max_size=width), min_size=1, max_size=20
    )
)


@given(_ROWS)
def test_rows_are_what_binascii_decodes(rows: list[bytes]) -> None:
    texts = [base64.b64encode(row).decode() for row in rows]
    decoded = decode_rows(texts)
    assert decoded is not None
    assert [bytes(row) for row in decoded] == rows


@given(_ROWS, st.data())
def test_a_changed_character_is_decoded_only_where_binascii_agrees(
    rows: list[bytes], data: st.DataObject
) -> None:
    """With any one character of any text changed, the texts are decoded only
    if binascii's strict decoder takes each of them, to the same bytes."""
    texts = [base64.b64encode(row).decode() for row in rows]
    index = data.draw(st.integers(0, len(texts) - 1))
    position = data.draw(st.integers(0, len(texts[index]) - 1))
    character = data.draw(st.sampled_from("AQw/+=*\n \u00e4"))
    text = texts[index]
    texts[index] = text[:position] + character + text[position + 1 :]
    decoded = decode_rows(texts)
    if decoded is None:
        return
    expected = [binascii.a2b_base64(text, strict_mode=True) for text in texts]
    assert [bytes(row) for row in decoded] == expected


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [""],
        ["AAAA", "AAA"],
        ["AAAA", 7],
        ["AAAA", ["A", "A", "A", "A"]],
        ["AA==", "AAA="],
        ["AAA=", "AA=A"],
        ["A===", "A==="],
        ["AAAA", "AA\nA"],
        ["AAAA", "AAA="],
        ["AAAA", "AAAA", "AA=="],
        ["AAAA", "A=AA"],
    ],
)
def test_anything_else_is_left_to_the_caller(texts: list[object]) -> None:
    """Mixed lengths, mixed padding, non-strings and bad characters give None,
    so the caller's text-by-text decoding names the bad entry."""
    assert decode_rows(texts) is None


def test_leftover_bits_are_dropped_as_binascii_drops_them() -> None:
    decoded = decode_rows(["QR==", "QUJ="[:2] + "=="])
    assert decoded is not None
    assert [bytes(row) for row in decoded] == [b"A", b"A"]
