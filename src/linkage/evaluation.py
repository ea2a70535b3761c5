"""How good are the match groups? Precision and recall against a ground truth.

Used when a user has the truth, e.g. for synthetic data or a clerical review.
Two views:

* **Pairs.** Every two records in the same match group are a predicted pair;
  every two records of the same true entity are a true pair. Precision is
  the share of predicted pairs that are true, recall the share of true pairs
  that were predicted. They are given for pairs across parties (linkage),
  pairs within one party (deduplication) and all pairs.
* **Clusters.** A match group of two or more records is exactly right when
  it holds all of one true entity's records in the truth file and nothing
  else. Cluster precision is the share of groups that are exactly right,
  cluster recall the share of true entities with two or more records that
  were found exactly.

Pairs are counted, never listed: a group of ``n`` records has ``n(n-1)/2``
pairs, and the correct pairs are counted the same way within each
(group, entity) cell, so the cost grows with the records, not the pairs.

True pairs are counted over every record in the truth, matched or not: a
truth file that also covers a party left out of the linkage lowers recall.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from linkage.errors import InputError, Problem

__all__ = ["MATCH_COLUMNS", "TRUTH_COLUMNS", "Evaluation", "PairScores", "evaluate"]

MATCH_COLUMNS = ("match_id", "party", "pseudonym")
"""Columns :func:`evaluate` reads from the matches (a ``score`` may follow)."""

TRUTH_COLUMNS = ("party", "id", "entity")
"""Columns :func:`evaluate` reads from the truth."""

_SHOWN = 5  # Records listed by name in an error; the rest are counted.


@dataclass(frozen=True)
class PairScores:
    """Predicted, true and correct pairs of records, and the ratios of them."""

    predicted: int
    true: int
    correct: int

    @property
    def precision(self) -> float | None:
        """Correct over predicted pairs; ``None`` when none were predicted."""
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Correct over true pairs; ``None`` when there are no true pairs."""
        return self.correct / self.true if self.true else None

    @property
    def f1(self) -> float | None:
        """The harmonic mean of precision and recall, when both exist."""
        if self.precision is None or self.recall is None:
            return None
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def to_dict(self) -> dict[str, int | float | None]:
        """Counts and ratios, for JSON."""
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class Evaluation:
    """Pairwise and cluster-level figures of match groups against the truth.

    Attributes:
        across_parties: Pairs of records from two different parties.
        within_party: Pairs of records from the same party (duplicates).
        all_pairs: Both together.
        groups: Match groups of two or more records.
        single_record_groups: Match groups of one record (they link nothing).
        true_entities: True entities with two or more records in the truth.
        exact_groups: Groups that hold exactly one true entity's records.
        matched_records: Records in the matches.
        truth_records: Records in the truth.
    """

    across_parties: PairScores
    within_party: PairScores
    all_pairs: PairScores
    groups: int
    single_record_groups: int
    true_entities: int
    exact_groups: int
    matched_records: int
    truth_records: int

    @property
    def cluster_precision(self) -> float | None:
        """Exactly right groups over all groups; ``None`` without groups."""
        return self.exact_groups / self.groups if self.groups else None

    @property
    def cluster_recall(self) -> float | None:
        """Exactly found entities over true entities with two or more records."""
        return self.exact_groups / self.true_entities if self.true_entities else None

    def to_dict(self) -> dict[str, Any]:
        """Every figure, nested by view, for JSON."""
        return {
            "pairs": {
                "across_parties": self.across_parties.to_dict(),
                "within_party": self.within_party.to_dict(),
                "all": self.all_pairs.to_dict(),
            },
            "clusters": {
                "groups": self.groups,
                "single_record_groups": self.single_record_groups,
                "true_entities": self.true_entities,
                "exact_groups": self.exact_groups,
                "precision": self.cluster_precision,
                "recall": self.cluster_recall,
            },
            "records": {"matched": self.matched_records, "truth": self.truth_records},
        }

    def to_text(self) -> str:
        """A table and two sentences for the terminal."""
        header = (
            f"{'Pairs of records':<18}{'precision':>10}{'recall':>8}{'F1':>8}"
            f"{'predicted':>12}{'true':>12}{'correct':>12}"
        )
        rows = [
            _row("across parties", self.across_parties),
            _row("within a party", self.within_party),
            _row("all pairs", self.all_pairs),
        ]
        clusters = (
            f"Groups of two or more records: {self.groups:,} predicted, "
            f"{self.true_entities:,} true entities, {self.exact_groups:,} exactly "
            "right (all of one entity's records and nothing else).\n"
            f"Cluster precision {_ratio(self.cluster_precision)}, "
            f"cluster recall {_ratio(self.cluster_recall)}."
        )
        records = (
            f"Records: {self.matched_records:,} in match groups, "
            f"{self.truth_records:,} in the truth."
        )
        return "\n".join([header, *rows, "", clusters, records])


def evaluate(
    matches: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    matches_source: str = "matches",
    truth_source: str = "truth",
) -> Evaluation:
    """Compare match groups with the true entities, pair by pair and group by group.

    Args:
        matches: One row per record in a match group, with the columns
            ``match_id``, ``party``, ``pseudonym`` (others are ignored).
            Records in no group are absent.
        truth: One row per record of every party, with the columns
            ``party``, ``id`` (the pseudonym, or whichever record ID the
            matches use) and ``entity`` (the true person).
        matches_source: How to name the matches in error messages.
        truth_source: How to name the truth in error messages.

    Raises:
        InputError: a column is missing or a key cell is empty; a record is
            listed twice; or a matched record is not in the truth.

    >>> matches = pd.DataFrame(
    ...     {"match_id": ["g1", "g1"], "party": ["a", "b"], "pseudonym": ["x", "y"]}
    ... )
    >>> truth = pd.DataFrame(
    ...     {"party": ["a", "b"], "id": ["x", "y"], "entity": ["p1", "p1"]}
    ... )
    >>> evaluate(matches, truth).across_parties.precision
    1.0
    """
    found = _clean(matches, MATCH_COLUMNS, ("party", "pseudonym"), matches_source)
    known = _clean(truth, TRUTH_COLUMNS, ("party", "id"), truth_source)
    joined = found.merge(
        known.rename(columns={"id": "pseudonym"}),
        on=["party", "pseudonym"],
        how="left",
        validate="one_to_one",
    )
    _check_covered(joined, matches_source, truth_source)
    return _figures(found, known, joined)


def _clean(
    frame: pd.DataFrame, columns: tuple[str, ...], key: tuple[str, str], source: str
) -> pd.DataFrame:
    """The needed columns as text, after checking columns, cells and keys."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise InputError(
            f"{source}: missing column(s) {', '.join(missing)}; expected the "
            f"columns {', '.join(columns)} (found: {found})",
            hint=f"Give {source} a header row naming {', '.join(columns)}.",
        )
    selected = frame.loc[:, list(columns)].reset_index(drop=True)
    _check_no_empty_cells(selected, source)
    table = selected.astype(str)
    _check_no_repeats(table, key, source)
    return table


def _check_no_empty_cells(table: pd.DataFrame, source: str) -> None:
    """Every needed cell has a value; rows are numbered from 1 after the header."""
    empty = table.isna() | (table.astype(str).apply(lambda c: c.str.strip()) == "")
    rows, cols = np.nonzero(empty.to_numpy())
    if rows.size == 0:
        return
    problems = [
        Problem("is empty", source=source, row=int(row) + 1, field=table.columns[col])
        for row, col in zip(rows[:_SHOWN], cols[:_SHOWN], strict=True)
    ]
    raise InputError(
        f"{source}: {rows.size:,} empty cell(s) where a value is needed"
        + _not_listed(rows.size),
        problems,
        hint="Fill them in, or remove those rows.",
    )


def _check_no_repeats(table: pd.DataFrame, key: tuple[str, str], source: str) -> None:
    """Each record appears once: a record in two groups is ambiguous."""
    party, record = key
    repeated = np.flatnonzero(table.duplicated(list(key), keep="first").to_numpy())
    if repeated.size == 0:
        return
    problems = [
        Problem(
            f"{party} {table[party].iat[row]!r}, {record} "
            f"{table[record].iat[row]!r} appears again",
            source=source,
            row=int(row) + 1,
        )
        for row in repeated[:_SHOWN]
    ]
    raise InputError(
        f"{source}: {repeated.size:,} record(s) listed more than once"
        + _not_listed(repeated.size),
        problems,
        hint=f"Each ({party}, {record}) may appear once.",
    )


def _check_covered(
    joined: pd.DataFrame, matches_source: str, truth_source: str
) -> None:
    """Every matched record has a true entity."""
    absent = np.flatnonzero(joined["entity"].isna().to_numpy())
    if absent.size == 0:
        return
    problems = [
        Problem(
            f"party {joined['party'].iat[row]!r}, pseudonym "
            f"{joined['pseudonym'].iat[row]!r} is not in {truth_source}",
            source=matches_source,
            row=int(row) + 1,
        )
        for row in absent[:_SHOWN]
    ]
    raise InputError(
        f"{absent.size:,} record(s) in {matches_source} are not in {truth_source}"
        + _not_listed(absent.size),
        problems,
        hint=(
            "The truth file must cover every party's records: one row per record "
            "with its party, the ID the matches use (the pseudonym) and its "
            "entity."
        ),
    )


def _not_listed(count: int) -> str:
    return f"; the first {_SHOWN} are listed" if count > _SHOWN else ""


def _figures(
    found: pd.DataFrame, known: pd.DataFrame, joined: pd.DataFrame
) -> Evaluation:
    pairs = {
        scope: PairScores(
            predicted=_pairs(found, ["match_id", *extra]),
            true=_pairs(known, ["entity", *extra]),
            correct=_pairs(joined, ["match_id", "entity", *extra]),
        )
        for scope, extra in (("all", []), ("within", ["party"]))
    }
    everything, within = pairs["all"], pairs["within"]
    across = PairScores(
        predicted=everything.predicted - within.predicted,
        true=everything.true - within.true,
        correct=everything.correct - within.correct,
    )
    group_sizes = found.groupby("match_id").size()
    entity_sizes = known.groupby("entity").size()
    return Evaluation(
        across_parties=across,
        within_party=within,
        all_pairs=everything,
        groups=int((group_sizes >= 2).sum()),
        single_record_groups=int((group_sizes == 1).sum()),
        true_entities=int((entity_sizes >= 2).sum()),
        exact_groups=_exact_groups(joined, entity_sizes),
        matched_records=len(found),
        truth_records=len(known),
    )


def _pairs(frame: pd.DataFrame, by: list[str]) -> int:
    """Pairs of rows that agree on ``by``: the sum of n(n-1)/2 over the cells."""
    sizes = frame.groupby(by, sort=False).size().to_numpy(dtype="int64")
    return int((sizes * (sizes - 1) // 2).sum())


def _exact_groups(joined: pd.DataFrame, entity_sizes: pd.Series[int]) -> int:
    """Groups of two or more whose records are all, and only, one entity's."""
    cells = joined.groupby(["match_id", "entity"], sort=False).size().reset_index()
    records = cells[0].to_numpy(dtype="int64")
    entities_in_group = cells.groupby("match_id")["entity"].transform("size")
    whole_entity = entity_sizes.reindex(cells["entity"]).to_numpy(dtype="int64")
    exact = (entities_in_group.to_numpy() == 1) & (records >= 2)
    return int((exact & (records == whole_entity)).sum())


def _row(label: str, scores: PairScores) -> str:
    return (
        f"  {label:<16}{_ratio(scores.precision):>10}{_ratio(scores.recall):>8}"
        f"{_ratio(scores.f1):>8}{scores.predicted:>12,}{scores.true:>12,}"
        f"{scores.correct:>12,}"
    )


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
