"""The hash chain and signed heads catch every single edit, deletion and swap."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditFormatError,
    SignedHead,
    entry_hash,
    format_time,
    head_message,
    next_entry,
    parse_time,
    sign_head,
    verify_log,
)

KEY = Ed25519PrivateKey.generate()
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
N = 20


def build_log(
    count: int, key: Ed25519PrivateKey = KEY, head_every: int = 7
) -> tuple[list[AuditEntry], list[SignedHead]]:
    """A log of ``count`` entries with heads every few entries and at the end."""
    entries: list[AuditEntry] = []
    heads: list[SignedHead] = []
    previous = None
    for i in range(count):
        previous = next_entry(
            previous,
            at=START + timedelta(minutes=i),
            actor=["operator", "party:police", "investigator:alice"][i % 3],
            action=["project.created", "reveal.requested", "auth.failed"][i % 3],
            project_id=None if i % 4 == 0 else i,
            details={"n": i, "note": f"event {i} ✓", "list": [1, 2.5, None, True]},
        )
        entries.append(previous)
        if (i + 1) % head_every == 0 or i == count - 1:
            heads.append(
                sign_head(key, previous, START + timedelta(minutes=i, seconds=30))
            )
    return entries, heads


def rehash(entry: AuditEntry) -> AuditEntry:
    """The entry with its hash recomputed, as a careful forger would do."""
    fields = entry.to_json()
    del fields["hash"]
    return dataclasses.replace(entry, hash=entry_hash(**fields))


def check(entries: list[AuditEntry], heads: list[SignedHead]) -> Any:
    return verify_log(entries, heads, KEY.public_key())


EDITS: dict[str, Callable[[AuditEntry], AuditEntry]] = {
    "actor": lambda e: dataclasses.replace(e, actor=e.actor + "-x"),
    "details": lambda e: dataclasses.replace(
        e, details={**e.details, "__edited__": True}
    ),
    "at": lambda e: dataclasses.replace(
        e, at=format_time(parse_time(e.at) + timedelta(seconds=1))
    ),
}


# --- entries and time --------------------------------------------------------


def test_next_entry_chains_from_genesis() -> None:
    first = next_entry(
        None, at=START, actor="operator", action="a", project_id=None, details={}
    )
    second = next_entry(
        first, at=START, actor="operator", action="b", project_id=3, details={}
    )
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert len(first.hash) == 64 and first.hash == first.hash.lower()


def test_entry_hash_is_the_documented_construction() -> None:
    import hashlib
    import json

    entry = next_entry(
        None, at=START, actor="op", action="x", project_id=1, details={"é": [1]}
    )
    body = entry.to_json()
    del body["hash"]
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    expected = hashlib.sha256(b"linkage-audit-entry v1\n" + canonical).hexdigest()
    assert entry.hash == expected


def test_details_are_copied_so_later_changes_do_not_leak_in() -> None:
    details: dict[str, Any] = {"parties": ["a"]}
    entry = next_entry(
        None, at=START, actor="op", action="x", project_id=None, details=details
    )
    details["parties"].append("b")
    assert entry.details == {"parties": ["a"]}
    assert check([entry], [sign_head(KEY, entry, START)]).ok


@pytest.mark.parametrize(
    ("details", "error"),
    [
        ({"when": START}, TypeError),
        ({"s": {1, 2}}, TypeError),
        ({"b": b"x"}, TypeError),
        ({1: "int key"}, TypeError),
        ({"x": math.nan}, ValueError),
        ({"x": [math.inf]}, ValueError),
    ],
)
def test_next_entry_refuses_details_json_cannot_hold(
    details: dict[Any, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match="details"):
        next_entry(
            None, at=START, actor="op", action="x", project_id=None, details=details
        )


def test_format_time_converts_to_utc_and_round_trips() -> None:
    plus_two = datetime(2025, 3, 1, 11, 0, 0, 123, tzinfo=timezone(timedelta(hours=2)))
    text = format_time(plus_two)
    assert text == "2025-03-01T09:00:00.000123Z"
    assert parse_time(text) == plus_two


def test_format_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone"):
        format_time(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01T09:00:00Z",
        "2025-03-01 09:00:00.000000Z",
        "2025-13-01T09:00:00.000000Z",
        "",
    ],
)
def test_parse_time_is_strict(text: str) -> None:
    with pytest.raises(AuditFormatError):
        parse_time(text)


def test_entry_json_round_trip() -> None:
    entries, heads = build_log(3)
    assert [AuditEntry.from_json(e.to_json()) for e in entries] == entries
    assert [SignedHead.from_json(h.to_json()) for h in heads] == heads


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 0),
        ("seq", "1"),
        ("seq", True),
        ("at", "yesterday"),
        ("actor", ""),
        ("action", 3),
        ("project_id", "7"),
        ("details", []),
        ("details", {"x": math.nan}),
        ("prev_hash", "ABC"),
        ("hash", "0" * 63),
    ],
)
def test_entry_from_json_names_the_bad_field(field: str, value: Any) -> None:
    obj = build_log(1)[0][0].to_json()
    obj[field] = value
    with pytest.raises(AuditFormatError, match=f"field '{field}'"):
        AuditEntry.from_json(obj)


def test_entry_from_json_names_missing_and_unknown_fields() -> None:
    obj = build_log(1)[0][0].to_json()
    del obj["actor"]
    with pytest.raises(AuditFormatError, match="field 'actor': is missing"):
        AuditEntry.from_json(obj)
    obj = {**build_log(1)[0][0].to_json(), "extra": 1}
    with pytest.raises(AuditFormatError, match="field 'extra'"):
        AuditEntry.from_json(obj)
    with pytest.raises(AuditFormatError, match="JSON object"):
        AuditEntry.from_json([1, 2])


@pytest.mark.parametrize(
    ("field", "value"),
    [("seq", -1), ("hash", "x"), ("signed_at", "now"), ("signature", "abc=")],
)
def test_head_from_json_names_the_bad_field(field: str, value: Any) -> None:
    obj = build_log(1)[1][0].to_json()
    obj[field] = value
    with pytest.raises(AuditFormatError, match=f"field '{field}'"):
        SignedHead.from_json(obj)


def test_head_signature_is_base64url_over_the_head_message() -> None:
    import base64

    entry = build_log(1)[0][0]
    head = sign_head(KEY, entry, START)
    assert "=" not in head.signature
    signature = base64.urlsafe_b64decode(head.signature + "==")
    message = head_message(head.seq, head.hash, head.signed_at)
    assert message == (
        b"linkage-audit-head v1\n" + f"1\n{entry.hash}\n{head.signed_at}".encode()
    )
    KEY.public_key().verify(signature, message)


# --- verification: the valid log -----------------------------------------------


def test_valid_log_verifies() -> None:
    entries, heads = build_log(N)
    result = check(entries, heads)
    assert result.ok and result.problem is None
    assert (result.entries, result.heads) == (N, len(heads))


def test_heads_need_not_be_at_every_entry_only_at_the_last() -> None:
    entries, _ = build_log(N)
    assert check(entries, [sign_head(KEY, entries[-1], START)]).ok


def test_empty_log_proves_nothing() -> None:
    result = check([], [])
    assert not result.ok
    assert result.problem is not None and result.problem.kind == "empty"


# --- verification: every single tampering ---------------------------------------


@pytest.mark.parametrize("field", sorted(EDITS))
@pytest.mark.parametrize("position", range(N))
def test_edit_without_rehash_is_changed_at_that_entry(
    field: str, position: int
) -> None:
    entries, heads = build_log(N)
    entries[position] = EDITS[field](entries[position])
    problem = check(entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.seq) == (
        "changed",
        position,
        position + 1,
    )
    assert f"entry {position + 1} was changed" in problem.message


@pytest.mark.parametrize("field", sorted(EDITS))
@pytest.mark.parametrize("position", range(N))
def test_edit_with_rehash_breaks_the_chain_or_the_head(
    field: str, position: int
) -> None:
    entries, heads = build_log(N)
    entries[position] = rehash(EDITS[field](entries[position]))
    problem = check(entries, heads).problem
    assert problem is not None
    if position < N - 1:
        assert (problem.kind, problem.position, problem.seq) == (
            "changed",
            position + 1,
            position + 2,
        )
        assert f"between entry {position + 1} and {position + 2}" in problem.message
    else:
        assert (problem.kind, problem.position, problem.seq) == ("head-mismatch", -1, N)


@pytest.mark.parametrize("position", range(N))
def test_deleting_any_entry_is_detected(position: int) -> None:
    entries, heads = build_log(N)
    del entries[position]
    problem = check(entries, heads).problem
    assert problem is not None
    if position < N - 1:
        assert (problem.kind, problem.seq) == ("removed", position + 1)
        assert problem.message == f"entry {position + 1} is missing: it was removed"
    else:
        assert problem.kind == "head-mismatch"
        assert (
            problem.message
            == f"entries after {N - 1} were removed: a signed head covers entry {N}"
        )


@pytest.mark.parametrize("position", range(N - 1))
def test_swapping_adjacent_entries_is_reordered(position: int) -> None:
    entries, heads = build_log(N)
    entries[position], entries[position + 1] = entries[position + 1], entries[position]
    problem = check(entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.position) == ("reordered", position)


def test_removing_several_entries_names_the_range() -> None:
    entries, heads = build_log(N)
    del entries[4:7]
    problem = check(entries, heads).problem
    assert problem is not None and problem.kind == "removed"
    assert problem.message == "entries 5..7 are missing: they were removed"


def test_duplicated_entry_is_inserted() -> None:
    entries, heads = build_log(N)
    entries.insert(5, entries[5])
    problem = check(entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.seq) == ("inserted", 6, 6)


def test_seq_going_backwards_is_reordered() -> None:
    entries, heads = build_log(N)
    entries.append(entries[3])
    problem = check(entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.seq) == ("reordered", N, 4)


def test_rewritten_first_entry_with_renumbered_rest_is_caught() -> None:
    entries, heads = build_log(N)
    forged = rehash(dataclasses.replace(entries[1], seq=1, prev_hash="1" * 64))
    problem = check([forged, *entries[2:]], heads).problem
    assert problem is not None and problem.kind == "changed" and problem.position == 0


def test_head_signed_by_another_key_is_bad_signature() -> None:
    entries, heads = build_log(N)
    heads[-1] = sign_head(Ed25519PrivateKey.generate(), entries[-1], START)
    problem = check(entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.position, problem.seq) == ("bad-signature", -1, N)


def test_head_with_altered_fields_is_bad_signature() -> None:
    entries, heads = build_log(N)
    heads[0] = dataclasses.replace(heads[0], signed_at=format_time(START))
    problem = check(entries, heads).problem
    assert problem is not None and problem.kind == "bad-signature"


def test_whole_log_rewritten_without_the_key_is_caught_by_old_heads() -> None:
    entries, heads = build_log(N)
    entries[2] = rehash(EDITS["actor"](entries[2]))
    for i in range(3, N):
        entries[i] = rehash(
            dataclasses.replace(entries[i], prev_hash=entries[i - 1].hash)
        )
    assert check(entries, []).problem is not None  # Nothing signed at all.
    problem = check(entries, heads).problem
    assert problem is not None and problem.kind == "head-mismatch"
    assert "rewritten" in problem.message


@pytest.mark.parametrize("extra", [1, 3])
def test_entries_after_the_last_head_are_unsigned(extra: int) -> None:
    entries, heads = build_log(N)
    for i in range(extra):
        entries.append(
            next_entry(
                entries[-1],
                at=START,
                actor="operator",
                action="late",
                project_id=None,
                details={"i": i},
            )
        )
    problem = check(entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("unsigned", N + 1)
    span = f"entry {N + 1} is" if extra == 1 else f"entries {N + 1}..{N + extra} are"
    assert problem.message.startswith(f"{span} not covered by a signed head")


def test_no_heads_at_all_is_unsigned() -> None:
    entries, _ = build_log(N)
    problem = check(entries, []).problem
    assert problem is not None and problem.kind == "unsigned"
    assert f"entries 1..{N}" in problem.message


def test_heads_without_entries_mean_entries_were_removed() -> None:
    _, heads = build_log(N)
    problem = check([], heads).problem
    assert problem is not None and problem.kind == "head-mismatch"


def test_entry_problems_are_reported_before_head_problems() -> None:
    entries, heads = build_log(N)
    heads[0] = sign_head(Ed25519PrivateKey.generate(), entries[6], START)
    entries[10] = EDITS["actor"](entries[10])
    problem = check(entries, heads).problem
    assert problem is not None and (problem.kind, problem.seq) == ("changed", 11)


# --- property: no single mutation goes unnoticed --------------------------------


@st.composite
def logs_and_mutations(draw: st.DrawFn) -> tuple[list[AuditEntry], list[SignedHead]]:
    json_values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
        ),
        max_leaves=6,
    )
    count = draw(st.integers(1, 12))
    entries: list[AuditEntry] = []
    heads: list[SignedHead] = []
    previous = None
    for i in range(count):
        previous = next_entry(
            previous,
            at=START + timedelta(seconds=draw(st.integers(0, 10**6))),
            actor=draw(st.text(min_size=1, max_size=10)),
            action=draw(st.sampled_from(["reveal.requested", "auth.failed", "x"])),
            project_id=draw(st.none() | st.integers(0, 100)),
            details=draw(st.dictionaries(st.text(max_size=5), json_values, max_size=3)),
        )
        entries.append(previous)
        if i == count - 1 or draw(st.booleans()):
            heads.append(sign_head(KEY, previous, START))
    mutation = draw(st.sampled_from(["delete", "swap", "edit", "edit-rehash"]))
    position = draw(st.integers(0, count - 1))
    if mutation == "delete":
        del entries[position]
    elif mutation == "swap" and count > 1:
        other = position + 1 if position + 1 < count else position - 1
        entries[position], entries[other] = entries[other], entries[position]
    else:
        field = draw(st.sampled_from(sorted(EDITS)))
        edited = EDITS[field](entries[position])
        entries[position] = rehash(edited) if mutation == "edit-rehash" else edited
    return entries, heads


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(logs_and_mutations())
def test_any_single_mutation_is_detected(
    log: tuple[list[AuditEntry], list[SignedHead]],
) -> None:
    entries, heads = log
    assert not check(entries, heads).ok
