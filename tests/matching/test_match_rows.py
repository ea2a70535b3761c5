"""The groups `linkage match` writes without pandas: the same bytes as pandas'
``to_csv`` of the same rows (as it wrote them before), and each party's own."""

from __future__ import annotations

import io

import numpy as np

from linkage.matching.matcher import PARTY_COLUMNS, MatchRows


def _rows(scores: list[float]) -> MatchRows:
    count = len(scores)
    return MatchRows(
        match_id=[f"{i // 2:032x}" for i in range(count)],
        party=["a" if i % 2 else "b,c" for i in range(count)],
        pseudonym=[str(i) if i % 3 else f'"q{i}"' for i in range(count)],
        score=np.round(np.array(scores, dtype=np.float64), 4),
    )


def _written(rows: MatchRows, *columns: str) -> bytes:
    binary = io.BytesIO()
    if columns:
        rows.write_csv(binary, columns)
    else:
        rows.write_csv(binary)
    return binary.getvalue()


def test_rows_are_written_as_pandas_wrote_them() -> None:
    """Every score a match can have (4 decimals in [0, 1]), odd floats, and
    values that need quoting."""
    scores = [k / 10_000 for k in range(10_001)]
    scores += [1e-05, 0.00012, 0.1 + 0.2, 2 / 3, 1.0, 0.0]
    rows = _rows(scores)
    expected = rows.frame().to_csv(index=False).encode()
    assert _written(rows) == expected


def test_no_rows_write_the_header_only() -> None:
    rows = MatchRows([], [], [], np.zeros(0))
    assert _written(rows) == b"match_id,party,pseudonym,score\n"
    assert _written(rows) == rows.frame().to_csv(index=False).encode()


def test_a_party_gets_its_own_rows_in_its_columns() -> None:
    rows = _rows([0.9, 0.85, 0.8, 0.95])
    own = rows.of_party("a")
    assert own.party == ["a", "a"]
    assert own.pseudonym == ["1", '"q3"']
    assert own.score.tolist() == [0.85, 0.95]
    frame = own.frame(PARTY_COLUMNS)
    assert list(frame.columns) == list(PARTY_COLUMNS)
    assert _written(own, *PARTY_COLUMNS) == frame.to_csv(index=False).encode()


def test_rows_needing_no_quotes_are_written_as_pandas_wrote_them() -> None:
    """Hex match IDs and pseudonyms and plain party names, the usual case,
    take the joined path; a single column still goes through csv."""
    count = 1000
    rows = MatchRows(
        match_id=[f"{i // 3:032x}" for i in range(count)],
        party=["police" if i % 2 else "health" for i in range(count)],
        pseudonym=[f"{i * 7919:032x}" for i in range(count)],
        score=np.round(np.linspace(0.5, 1.0, count), 4),
    )
    assert _written(rows) == rows.frame().to_csv(index=False).encode()
    assert _written(rows, *PARTY_COLUMNS) == (
        rows.frame(PARTY_COLUMNS).to_csv(index=False).encode()
    )
    assert _written(rows, "party") == rows.frame(["party"]).to_csv(index=False).encode()
