"""Tests for evaluating match groups against a ground truth."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.evaluation import Evaluation, PairScores, evaluate


def _truth(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["party", "id", "entity"])


def _matches(*rows: tuple[str, str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["match_id", "party", "pseudonym"])
    return frame.assign(score=0.9)


# Three people, each once in party A and once in party B: three true pairs.
THREE_PEOPLE = _truth(
    ("A", "a1", "p1"),
    ("B", "b1", "p1"),
    ("A", "a2", "p2"),
    ("B", "b2", "p2"),
    ("A", "a3", "p3"),
    ("B", "b3", "p3"),
)


def test_two_predicted_pairs_one_right() -> None:
    """3 true pairs, 2 predicted of which 1 right: P 0.5, R 1/3, F1 0.4."""
    matches = _matches(("g1", "A", "a1"), ("g1", "B", "b1"))
    matches = pd.concat(
        [matches, _matches(("g2", "A", "a2"), ("g2", "B", "b3"))], ignore_index=True
    )
    result = evaluate(matches, THREE_PEOPLE)
    assert result.across_parties == PairScores(predicted=2, true=3, correct=1)
    assert result.across_parties.precision == 0.5
    assert result.across_parties.recall == pytest.approx(1 / 3)
    assert result.across_parties.f1 == pytest.approx(0.4)
    assert result.within_party == PairScores(predicted=0, true=0, correct=0)
    assert result.all_pairs == result.across_parties
    assert (result.groups, result.true_entities, result.exact_groups) == (2, 3, 1)
    assert result.cluster_precision == 0.5
    assert result.cluster_recall == pytest.approx(1 / 3)


def test_duplicates_within_a_party_are_counted_apart() -> None:
    """A group of a1, a2 (one person twice in A) and b1: 1 within, 2 across."""
    truth = _truth(("A", "a1", "p1"), ("A", "a2", "p1"), ("B", "b1", "p1"))
    matches = _matches(("g1", "A", "a1"), ("g1", "A", "a2"), ("g1", "B", "b1"))
    result = evaluate(matches, truth)
    assert result.within_party == PairScores(predicted=1, true=1, correct=1)
    assert result.across_parties == PairScores(predicted=2, true=2, correct=2)
    assert result.all_pairs == PairScores(predicted=3, true=3, correct=3)
    assert result.exact_groups == 1


def test_a_wrong_duplicate_within_a_party() -> None:
    """Two different people of party A grouped: within-party precision 0."""
    truth = _truth(("A", "a1", "p1"), ("A", "a2", "p2"), ("A", "a3", "p2"))
    matches = _matches(("g1", "A", "a1"), ("g1", "A", "a2"))
    result = evaluate(matches, truth)
    assert result.within_party == PairScores(predicted=1, true=1, correct=0)
    assert result.within_party.precision == 0.0
    assert result.within_party.recall == 0.0
    assert result.within_party.f1 == 0.0
    assert result.across_parties.precision is None
    assert result.across_parties.recall is None


def test_clusters_of_three() -> None:
    """A full group of three is exact; two of three records found is not."""
    truth = _truth(
        ("A", "a1", "p1"),
        ("B", "b1", "p1"),
        ("C", "c1", "p1"),
        ("A", "a2", "p2"),
        ("B", "b2", "p2"),
        ("C", "c2", "p2"),
    )
    matches = _matches(
        ("g1", "A", "a1"),
        ("g1", "B", "b1"),
        ("g1", "C", "c1"),
        ("g2", "A", "a2"),
        ("g2", "B", "b2"),
    )
    result = evaluate(matches, truth)
    assert result.all_pairs == PairScores(predicted=4, true=6, correct=4)
    assert result.all_pairs.precision == 1.0
    assert result.all_pairs.recall == pytest.approx(4 / 6)
    assert (result.groups, result.true_entities, result.exact_groups) == (2, 2, 1)
    assert result.cluster_precision == 0.5
    assert result.cluster_recall == 0.5


def test_a_group_mixing_two_people_is_not_exact() -> None:
    """A group holding all of p1 and one record of p2 is not exactly right."""
    truth = _truth(("A", "a1", "p1"), ("B", "b1", "p1"), ("C", "c2", "p2"))
    matches = _matches(("g1", "A", "a1"), ("g1", "B", "b1"), ("g1", "C", "c2"))
    result = evaluate(matches, truth)
    assert result.all_pairs == PairScores(predicted=3, true=1, correct=1)
    assert result.exact_groups == 0
    assert result.cluster_precision == 0.0


def test_single_record_groups_are_counted_apart() -> None:
    """A group of one links nothing: it is not among the groups scored."""
    matches = _matches(("g1", "A", "a1"), ("g1", "B", "b1"), ("g2", "A", "a2"))
    result = evaluate(matches, THREE_PEOPLE)
    assert (result.groups, result.single_record_groups) == (1, 1)
    assert result.cluster_precision == 1.0


def test_the_same_pseudonym_in_two_parties_is_two_records() -> None:
    """Records are keyed by (party, id), so equal IDs in two parties differ."""
    truth = _truth(("A", "x", "p1"), ("B", "x", "p2"))
    matches = _matches(("g1", "A", "x"), ("g1", "B", "x"))
    result = evaluate(matches, truth)
    assert result.across_parties == PairScores(predicted=1, true=0, correct=0)


def test_numbers_as_ids_match_text_ids() -> None:
    """IDs read as numbers on one side and as text on the other still join."""
    truth = pd.DataFrame({"party": ["A", "B"], "id": [1, 2], "entity": [7, 7]})
    matches = _matches(("g1", "A", "1"), ("g1", "B", "2"))
    assert evaluate(matches, truth).across_parties.correct == 1


def test_large_groups_are_counted_not_enumerated() -> None:
    """A group of 200,000 records gives C(n, 2) pairs at once."""
    n = 200_000
    ids = [f"r{i}" for i in range(n)]
    truth = pd.DataFrame(
        {"party": ["A", "B"] * (n // 2), "id": ids, "entity": ["p"] * n}
    )
    matches = pd.DataFrame(
        {"match_id": "g", "party": truth["party"], "pseudonym": ids, "score": 0.9}
    )
    result = evaluate(matches, truth)
    assert result.all_pairs.predicted == n * (n - 1) // 2
    assert result.within_party.predicted == 2 * (n // 2) * (n // 2 - 1) // 2
    assert result.all_pairs.precision == 1.0
    assert result.exact_groups == 1


def test_no_matches_at_all() -> None:
    """An empty matches table: nothing predicted, recall 0, precision n/a."""
    matches = _matches()
    result = evaluate(matches, THREE_PEOPLE)
    assert result.across_parties == PairScores(predicted=0, true=3, correct=0)
    assert result.across_parties.precision is None
    assert result.across_parties.recall == 0.0
    assert result.groups == 0
    assert result.cluster_precision is None
    assert "n/a" in result.to_text()


def test_records_missing_from_the_truth_are_listed() -> None:
    """Matched records absent from the truth: InputError listing the first few."""
    rows = [("g1", "B", f"x{i}") for i in range(8)]
    matches = _matches(("g1", "A", "a1"), *rows)
    with pytest.raises(InputError) as caught:
        evaluate(matches, THREE_PEOPLE, matches_source="m.csv", truth_source="t.csv")
    text = str(caught.value)
    assert text.startswith("8 record(s) in m.csv are not in t.csv; the first 5")
    assert "m.csv, row 2: party 'B', pseudonym 'x0' is not in t.csv" in text
    assert "x4" in text
    assert "x5" not in text
    assert "must cover every party's records" in text


@pytest.mark.parametrize(
    ("matches", "truth", "message"),
    [
        (
            pd.DataFrame({"match_id": ["g"], "pseudonym": ["a1"]}),
            THREE_PEOPLE,
            "matches: missing column(s) party; expected the columns match_id, "
            "party, pseudonym",
        ),
        (
            _matches(("g1", "A", "a1")),
            THREE_PEOPLE.rename(columns={"entity": "person"}),
            "truth: missing column(s) entity; expected the columns party, id, entity",
        ),
    ],
)
def test_missing_columns_are_named(
    matches: pd.DataFrame, truth: pd.DataFrame, message: str
) -> None:
    """A missing column is named, with the columns expected."""
    with pytest.raises(InputError) as caught:
        evaluate(matches, truth)
    assert str(caught.value).startswith(message)


def test_a_record_in_two_groups_is_refused() -> None:
    """The same (party, pseudonym) twice in the matches is an error."""
    matches = _matches(("g1", "A", "a1"), ("g2", "A", "a1"))
    with pytest.raises(
        InputError, match=r"1 record\(s\) listed more than once"
    ) as caught:
        evaluate(matches, THREE_PEOPLE)
    assert "matches, row 2: party 'A', pseudonym 'a1' appears again" in str(
        caught.value
    )


def test_a_record_twice_in_the_truth_is_refused() -> None:
    """The same (party, id) twice in the truth is an error."""
    truth = pd.concat([THREE_PEOPLE, _truth(("A", "a1", "p9"))], ignore_index=True)
    with pytest.raises(InputError, match=r"truth: 1 record\(s\) listed more than once"):
        evaluate(_matches(("g1", "A", "a1")), truth)


def test_empty_cells_are_refused() -> None:
    """An empty match_id or a missing entity names the row and field."""
    matches = _matches(("", "A", "a1"))
    with pytest.raises(InputError, match="matches, row 1, field 'match_id': is empty"):
        evaluate(matches, THREE_PEOPLE)
    truth = THREE_PEOPLE.astype(object)
    truth.loc[2, "entity"] = None
    with pytest.raises(InputError, match="truth, row 3, field 'entity': is empty"):
        evaluate(_matches(("g1", "A", "a1")), truth)


def test_to_text_and_to_dict() -> None:
    """The text shows each figure; the dict is JSON with the same numbers."""
    matches = _matches(("g1", "A", "a1"), ("g1", "B", "b1"))
    result = evaluate(matches, THREE_PEOPLE)
    text = result.to_text()
    assert "across parties" in text
    assert "1.000   0.333   0.500" in text
    assert "Cluster precision 1.000, cluster recall 0.333." in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["pairs"]["across_parties"]["recall"] == pytest.approx(1 / 3)
    assert data["clusters"]["exact_groups"] == 1
    assert data["records"] == {"matched": 2, "truth": 6}
    assert isinstance(result, Evaluation)
