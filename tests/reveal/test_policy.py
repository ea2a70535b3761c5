"""The reveal policy: the shipped file, every rule, and durations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.reveal.policy import (
    DEFAULT_POLICY,
    MAX_GRANT_LIFETIME,
    PolicyError,
    RevealPolicy,
    format_duration,
    load_policy,
    parse_duration,
)

SHIPPED = Path(__file__).parents[2] / "configs" / "policy.yaml"

GOOD = """\
reveal:
  approvals_required: 3
  approver_role: approver
  self_approval: false
  deny_ends_request: false
  grant_lifetime: 90m
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _replace(key: str, value: str) -> str:
    lines = [
        f"  {key}: {value}" if line.startswith(f"  {key}:") else line
        for line in GOOD.splitlines()
    ]
    return "\n".join(lines) + "\n"


def test_shipped_policy_is_the_default() -> None:
    assert load_policy(SHIPPED) == DEFAULT_POLICY
    assert DEFAULT_POLICY.approvals_required == 2
    assert DEFAULT_POLICY.grant_lifetime == timedelta(hours=24)


def test_good_policy(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, GOOD))
    assert policy == RevealPolicy(
        approvals_required=3,
        approver_role="approver",
        deny_ends_request=False,
        grant_lifetime=timedelta(minutes=90),
    )


def test_self_approval_may_be_left_out(tmp_path: Path) -> None:
    text = GOOD.replace("  self_approval: false\n", "")
    assert load_policy(_write(tmp_path, text)).approvals_required == 3


def test_json_round_trip() -> None:
    obj = DEFAULT_POLICY.to_json()
    assert obj == {
        "approvals_required": 2,
        "approver_role": "approver",
        "deny_ends_request": True,
        "grant_lifetime": 86400,
    }
    assert RevealPolicy.from_json(obj) == DEFAULT_POLICY


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {"approvals_required": 2},
        {**DEFAULT_POLICY.to_json(), "grant_lifetime": "24h"},
        {**DEFAULT_POLICY.to_json(), "self_approval": False},
        {**DEFAULT_POLICY.to_json(), "approvals_required": 0},
    ],
)
def test_from_json_is_strict(obj: object) -> None:
    with pytest.raises(PolicyError):
        RevealPolicy.from_json(obj)


def test_policy_error_is_an_input_error() -> None:
    assert issubclass(PolicyError, InputError)


def test_constructor_checks_ranges() -> None:
    with pytest.raises(PolicyError, match="approvals_required"):
        RevealPolicy(0, "approver", True, timedelta(hours=1))
    with pytest.raises(PolicyError, match="grant_lifetime"):
        RevealPolicy(2, "approver", True, timedelta(seconds=-5))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nothere\.yaml does not exist"):
        load_policy(tmp_path / "nothere.yaml")


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "reveal:\n  approvals_required: [2\n")
    with pytest.raises(PolicyError, match=r"policy\.yaml is not valid YAML") as info:
        load_policy(path)
    assert "line " in str(info.value)


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "  approvals_required: 1\n")
    with pytest.raises(PolicyError, match="duplicate key 'approvals_required'"):
        load_policy(path)


@pytest.mark.parametrize("text", ["", "approvals_required: 2\n", "- reveal\n"])
def test_missing_reveal_block(tmp_path: Path, text: str) -> None:
    with pytest.raises(PolicyError, match="no 'reveal' block"):
        load_policy(_write(tmp_path, text))


def test_reveal_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"field 'reveal': must be a mapping"):
        load_policy(_write(tmp_path, "reveal: 2\n"))


def test_unknown_keys_are_listed_with_the_allowed_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "  aprovals: 2\nextra: 1\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert "field 'reveal.aprovals': unknown key" in message
    assert "approvals_required, approver_role" in message
    assert "field 'extra': unknown key" in message


def test_missing_keys_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "reveal:\n  approvals_required: 2\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    for key in ("approver_role", "deny_ends_request", "grant_lifetime"):
        assert f"field 'reveal.{key}': missing" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("approvals_required", "true", "whole number"),
        ("approvals_required", "'2'", "whole number"),
        ("approvals_required", "2.5", "whole number"),
        ("approvals_required", "0", "must be from 1 to 50"),
        ("approvals_required", "51", "must be from 1 to 50"),
        ("approver_role", "operator", "only role supported is 'approver'"),
        ("approver_role", "2", "only role supported is 'approver'"),
        ("deny_ends_request", "1", "true or false"),
        ("deny_ends_request", "'yes'", "true or false"),
        ("self_approval", "true", "cannot be enabled"),
        ("self_approval", "maybe", "cannot be enabled"),
        ("grant_lifetime", "0", "more than zero"),
        ("grant_lifetime", "31d", "at most 30d"),
        ("grant_lifetime", "-5m", "not a duration"),
        ("grant_lifetime", "24 hours", "not a duration"),
        ("grant_lifetime", "1.5h", "not a duration"),
        ("grant_lifetime", "true", "not a duration"),
        ("grant_lifetime", "[1]", "not a duration"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, key: str, value: str, expected: str
) -> None:
    path = _write(tmp_path, _replace(key, value))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert f"{path}, field 'reveal.{key}'" in message
    assert expected in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = _replace("approvals_required", "0").replace(
        "approver_role: approver", "approver_role: admin"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, text))
    assert {p.field for p in info.value.problems} == {
        "reveal.approvals_required",
        "reveal.approver_role",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (90, timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        (" 7 d ", timedelta(days=7)),
        (0, timedelta(0)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7w", "h", "-1h", "1.5h", "1h30m", -1])
def test_parse_duration_refuses(text: str | int) -> None:
    with pytest.raises(PolicyError, match="duration"):
        parse_duration(text)


def test_parse_duration_refuses_bool() -> None:
    with pytest.raises(PolicyError, match="not a duration"):
        parse_duration(True)


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=24)) == "1d"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(seconds=61)) == "61s"
    assert format_duration(timedelta(0)) == "0s"
    assert format_duration(MAX_GRANT_LIFETIME) == "30d"


@given(st.integers(min_value=0, max_value=999_999_999), st.sampled_from("smhd"))
def test_parse_duration_units(n: int, unit: str) -> None:
    seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(f"{n}{unit}") == timedelta(seconds=seconds)


@given(st.integers(min_value=0, max_value=999_999_999))
def test_format_then_parse_round_trip(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    text = format_duration(delta)
    assert parse_duration(text) == delta
    assert parse_duration(seconds) == delta
