"""The key-check value: agreed within a project, unrelated across projects."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from test_passphrase import project_schema

from linkage.encoding.keys import key_check_value, legacy_key_check_value

NORTH, SOUTH = project_schema("north"), project_schema("south")


@given(secret=st.binary(min_size=1, max_size=64))
def test_key_check_is_salted_per_project(secret: bytes) -> None:
    """Two parties of a project agree; the same secret elsewhere differs."""
    north = key_check_value(secret, NORTH)
    assert re.fullmatch(r"[0-9a-f]{32}", north)
    assert north == key_check_value(bytes(secret), NORTH)
    assert north != key_check_value(secret, SOUTH)
    assert not north.startswith(legacy_key_check_value(secret))


@given(first=st.binary(min_size=1), second=st.binary(min_size=1))
def test_different_secrets_give_different_values(first: bytes, second: bytes) -> None:
    if first != second:
        assert key_check_value(first, NORTH) != key_check_value(second, NORTH)


def test_legacy_value_is_the_old_unsalted_form() -> None:
    """Older files carry 16 hex digits, the same in every project."""
    assert len(legacy_key_check_value(b"x" * 43)) == 16
