"""Tests for linkage.matching.probabilistic on FEBRL4 and on properties.

The similarities are plaintext Dice coefficients of bigram sets (the same
bigrams a per-field Bloom filter encodes, without the bit collisions), for
candidate pairs blocked on equal postcode, date of birth, surname or given
name, and for random pairs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from linkage.formats.schema import load_schema
from linkage.matching.probabilistic import (
    FellegiSunterModel,
    FellegiSunterResult,
    FieldLevels,
    TrainingSettings,
    choose_probability_threshold,
    fellegi_sunter,
    field_levels,
    score_pairs,
    train_model,
    with_name_swaps,
)
from linkage.matching.probabilistic.levels import MISSING, level_codes
from linkage.matching.probabilistic.model import unique_rows
from tests.conftest import CONFIGS

# Every FEBRL column, as the FEBRL linkage schema encodes them.
_SCHEMA = load_schema(CONFIGS / "schemas" / "febrl-linkage.json")
FIELDS = tuple(feature.identifier for feature in _SCHEMA.encoded_features)
BLOCKING_KEYS = ("postcode", "date_of_birth", "surname", "given_name")
RANDOM_PAIRS = 20_000
TRUE_PAIRS = 5_000  # FEBRL4: rec-N-org in A matches rec-N-dup-0 in B.


def _bigrams(value: str) -> frozenset[str] | None:
    value = value.strip()
    if not value:
        return None
    padded = f" {value} "
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


def _dice(left: frozenset[str] | None, right: frozenset[str] | None) -> float:
    if left is None or right is None:
        return math.nan
    return 2 * len(left & right) / (len(left) + len(right))


def _similarities(
    first: pd.DataFrame,
    second: pd.DataFrame,
    rows: tuple[NDArray[np.intp], NDArray[np.intp]],
    fields: tuple[str, ...] = FIELDS,
) -> NDArray[np.float32]:
    out = np.empty((len(rows[0]), len(fields)), dtype=np.float32)
    for column, name in enumerate(fields):
        left = [_bigrams(value) for value in first[name]]
        right = [_bigrams(value) for value in second[name]]
        out[:, column] = [_dice(left[i], right[j]) for i, j in zip(*rows, strict=True)]
    return out


def _blocked(
    first: pd.DataFrame, second: pd.DataFrame
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    pairs: set[tuple[int, int]] = set()
    for key in BLOCKING_KEYS:
        joined = first[[key]].reset_index().merge(second[[key]].reset_index(), on=key)
        joined = joined[joined[key] != ""]
        pairs |= set(zip(joined["index_x"], joined["index_y"], strict=True))
    left, right = zip(*sorted(pairs), strict=True)
    return np.array(left, dtype=np.intp), np.array(right, dtype=np.intp)


def _blocked_on(
    first: pd.DataFrame,
    second: pd.DataFrame,
    rows: tuple[NDArray[np.intp], NDArray[np.intp]],
) -> NDArray[np.bool_]:
    """Which fields each pair's blocking keys forced to agree."""
    flags = np.zeros((len(rows[0]), len(FIELDS)), dtype=bool)
    for key in BLOCKING_KEYS:
        left = first[key].to_numpy()[rows[0]]
        flags[:, FIELDS.index(key)] = (left == second[key].to_numpy()[rows[1]]) & (
            left != ""
        )
    return flags


@dataclass(frozen=True)
class Febrl4Pairs:
    """Candidate and random pairs of FEBRL4 with their similarities and truth."""

    similarities: NDArray[np.float32]
    random_similarities: NDArray[np.float32]
    truth: NDArray[np.bool_]
    blocked: NDArray[np.bool_]


@pytest.fixture(scope="module")
def febrl4_pairs(febrl4_frames: tuple[pd.DataFrame, pd.DataFrame]) -> Febrl4Pairs:
    """Per-field Dice of FEBRL4's blocked candidate pairs and of random pairs."""
    first, second = febrl4_frames
    rows = _blocked(first, second)
    rng = np.random.default_rng(20261126)
    random_rows = (
        rng.integers(0, len(first), RANDOM_PAIRS),
        rng.integers(0, len(second), RANDOM_PAIRS),
    )
    entity_a = first["rec_id"].str.extract(r"rec-(\d+)-")[0].to_numpy()
    entity_b = second["rec_id"].str.extract(r"rec-(\d+)-")[0].to_numpy()
    return Febrl4Pairs(
        similarities=_similarities(first, second, rows),
        random_similarities=_similarities(first, second, random_rows),
        truth=entity_a[rows[0]] == entity_b[rows[1]],
        blocked=_blocked_on(first, second, rows),
    )


@pytest.fixture(scope="module")
def febrl4_result(febrl4_pairs: Febrl4Pairs) -> FellegiSunterResult:
    """The model fitted to FEBRL4 and its scores."""
    return fellegi_sunter(
        febrl4_pairs.similarities, FIELDS, febrl4_pairs.random_similarities
    )


@pytest.fixture(scope="module")
def febrl4_blocked_result(febrl4_pairs: Febrl4Pairs) -> FellegiSunterResult:
    """The model fitted to FEBRL4, told which fields blocking forced to agree."""
    return fellegi_sunter(
        febrl4_pairs.similarities,
        FIELDS,
        febrl4_pairs.random_similarities,
        blocked=febrl4_pairs.blocked,
    )


# FEBRL4 ---------------------------------------------------------------------


@pytest.mark.slow
def test_em_converges_on_febrl4(febrl4_result: FellegiSunterResult) -> None:
    """EM converges well within its iteration limit and raises no warning."""
    model = febrl4_result.model
    assert model.converged
    assert model.iterations < 50
    assert model.warnings == ()


def test_agreement_is_likelier_for_matches(
    febrl4_result: FellegiSunterResult,
) -> None:
    """m > u at the top level of every field and at 'close' on the names."""
    for row in febrl4_result.model.parameters:
        if row.label == "exact" or (
            row.label == "close" and row.field in ("given_name", "surname")
        ):
            assert row.m > row.u, row
        if row.label == "far":
            assert row.m < row.u, row


def test_em_recovers_the_share_of_matches(
    febrl4_pairs: Febrl4Pairs, febrl4_result: FellegiSunterResult
) -> None:
    """lambda times the candidates is within 2% of the true matches among them."""
    estimated = febrl4_result.model.prior * len(febrl4_pairs.truth)
    assert estimated == pytest.approx(int(febrl4_pairs.truth.sum()), rel=0.02)


def test_f1_against_the_truth_is_high(
    febrl4_pairs: Febrl4Pairs, febrl4_result: FellegiSunterResult
) -> None:
    """The threshold chosen without truth gives F1 >= 0.995 (measured 0.9989)."""
    predicted = febrl4_result.matches
    correct = int(np.count_nonzero(predicted & febrl4_pairs.truth))
    precision = correct / int(predicted.sum())
    recall = correct / TRUE_PAIRS
    assert precision >= 0.998
    assert 2 * precision * recall / (precision + recall) >= 0.995
    assert febrl4_result.threshold.method == "expected_f1"


def _f1(predicted: NDArray[np.bool_], truth: NDArray[np.bool_]) -> float:
    correct = int(np.count_nonzero(predicted & truth))
    precision, recall = correct / int(predicted.sum()), correct / TRUE_PAIRS
    return 2 * precision * recall / (precision + recall)


def test_blocked_fields_keep_f1_high(
    febrl4_pairs: Febrl4Pairs, febrl4_blocked_result: FellegiSunterResult
) -> None:
    """Told the blocking keys, the model still links well (measured F1 0.9991)."""
    result = febrl4_blocked_result
    assert _f1(result.matches, febrl4_pairs.truth) >= 0.997
    assert result.model.converged
    groups = result.summary()["blocked_groups"]
    assert len(groups) == len(np.unique(febrl4_pairs.blocked, axis=0))
    assert {"postcode"} in [set(group["blocked"]) for group in groups]


def test_waterfall_of_a_blocked_pair(
    febrl4_pairs: Febrl4Pairs, febrl4_blocked_result: FellegiSunterResult
) -> None:
    """A blocked field shows as 'blocked' with weight 0; the steps still add up."""
    result = febrl4_blocked_result
    pair = int(np.flatnonzero(febrl4_pairs.blocked[:, FIELDS.index("surname")])[0])
    fall = result.waterfall(pair)
    step = fall.steps[FIELDS.index("surname")]
    assert (step.level, step.weight, step.m) == ("blocked", 0.0, None)
    assert fall.weight == pytest.approx(result.weights[pair])
    assert fall.prior_weight + sum(s.weight for s in fall.steps) == pytest.approx(
        fall.weight
    )


def test_forced_agreement_is_flagged_and_fixed_by_blocked() -> None:
    """Agreement forced by blocking fools EM (warned); `blocked` corrects it."""
    rng = np.random.default_rng(11)
    size, matches = 2000, 200
    forced = np.ones(size)  # Every candidate was blocked on this field.
    tell = np.concatenate([np.ones(matches), rng.uniform(0.0, 0.45, size - matches)])
    other = np.concatenate(
        [rng.uniform(0.8, 1.0, matches), rng.uniform(0.0, 0.45, size - matches)]
    )
    candidates = np.stack([forced, tell, other], axis=1).astype(np.float32)
    randoms = rng.uniform(0.0, 0.45, (5000, 3)).astype(np.float32)
    fields = ["forced", "tell", "other"]
    naive = fellegi_sunter(candidates, fields, randoms)
    assert naive.model.prior > 0.9
    assert any("implausible" in warning for warning in naive.model.warnings)
    blocked = np.zeros(candidates.shape, dtype=bool)
    blocked[:, 0] = True
    fixed = fellegi_sunter(candidates, fields, randoms, blocked=blocked)
    assert fixed.model.prior == pytest.approx(matches / size, rel=0.05)
    assert int(fixed.matches.sum()) == matches
    assert fixed.model.warnings == ()


def test_blocked_of_the_wrong_shape_is_refused() -> None:
    """Flags must be boolean, one per pair and field."""
    with pytest.raises(
        ValueError, match=r"blocked must be a boolean array of shape \(3, 1\)"
    ):
        fellegi_sunter(
            np.zeros((3, 1)), ["dob"], np.zeros((5, 1)), blocked=np.zeros((3, 2), bool)
        )


def test_summary_is_json(febrl4_result: FellegiSunterResult) -> None:
    """The summary survives a JSON round trip and holds the main figures."""
    summary = json.loads(json.dumps(febrl4_result.summary(), allow_nan=False))
    assert summary["em"]["converged"] is True
    assert len(summary["levels"]) == 4 * len(FIELDS)
    assert summary["matches"] == int(febrl4_result.matches.sum())
    assert sum(summary["histogram"]["counts"]) == len(febrl4_result.weights)


def test_text_explains_parameters_and_threshold(
    febrl4_result: FellegiSunterResult,
) -> None:
    """The text report names every field, the prior and the threshold."""
    text = febrl4_result.to_text()
    assert all(name in text for name in FIELDS)
    assert "converged in" in text
    assert "expects" in text


def test_waterfall_sums_to_the_weight(
    febrl4_pairs: Febrl4Pairs, febrl4_result: FellegiSunterResult
) -> None:
    """Prior plus each field's step is the pair's weight, for matches and not."""
    for pair in [*np.flatnonzero(febrl4_pairs.truth)[:5], 0, 1, 2]:
        fall = febrl4_result.waterfall(int(pair))
        total = fall.prior_weight + sum(step.weight for step in fall.steps)
        assert total == pytest.approx(fall.weight)
        assert fall.weight == pytest.approx(febrl4_result.weights[pair])
        assert fall.steps[-1].cumulative == pytest.approx(fall.weight)
        assert fall.probability == pytest.approx(febrl4_result.probabilities[pair])
        assert f"Match weight {fall.weight:+.2f}" in fall.to_text()


def test_missing_field_adds_nothing(
    febrl4_pairs: Febrl4Pairs, febrl4_result: FellegiSunterResult
) -> None:
    """A NaN similarity gives weight 0 and a 'missing' waterfall step."""
    model = febrl4_result.model
    pairs = febrl4_pairs.similarities[:200].copy()
    pairs[:, 3] = np.nan
    per_field = model.field_weights(pairs)
    assert np.all(per_field[:, 3] == 0.0)
    full = model.field_weights(febrl4_pairs.similarities[:200])
    np.testing.assert_allclose(
        model.weights(pairs),
        model.weights(febrl4_pairs.similarities[:200]) - full[:, 3],
    )
    step = score_pairs(model, pairs).waterfall(0).steps[3]
    assert (step.level, step.weight, step.similarity) == ("missing", 0.0, None)


def test_name_swaps_raise_the_name_levels(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """A record with given name and surname swapped scores high once swaps count."""
    first, _ = febrl4_frames
    record = first.iloc[[0]]
    swapped = record.assign(
        given_name=record["surname"].to_numpy(), surname=record["given_name"].to_numpy()
    )
    rows = (np.array([0]), np.array([0]))
    straight = _similarities(record, swapped, rows)
    cross = _similarities(
        record,
        swapped.rename(columns={"given_name": "surname", "surname": "given_name"}),
        rows,
    )
    fixed = with_name_swaps(
        straight, FIELDS, {"given_name": cross[:, 0], "surname": cross[:, 1]}
    )
    assert fixed[0, 0] == fixed[0, 1] == 1.0
    assert straight[0, 0] < 1.0
    np.testing.assert_array_equal(fixed[:, 2:], straight[:, 2:])


def test_name_swaps_keep_missing_missing() -> None:
    """A cross score does not fill in a field the record lacks."""
    similarities = np.array([[np.nan, 0.2]], dtype=np.float32)
    fixed = with_name_swaps(
        similarities, ["given_name", "surname"], {"given_name": np.array([1.0])}
    )
    assert np.isnan(fixed[0, 0])


# Settings, errors and EM guards ---------------------------------------------


def test_non_convergence_is_reported(febrl4_pairs: Febrl4Pairs) -> None:
    """EM stopped at max_iterations says so in the model and in the text."""
    levels = field_levels(FIELDS)
    model = train_model(
        levels,
        febrl4_pairs.similarities,
        febrl4_pairs.random_similarities,
        TrainingSettings(max_iterations=1),
    )
    assert not model.converged
    assert any("did not converge" in warning for warning in model.warnings)
    assert "did NOT converge" in model.to_text()


def test_level_never_seen_gets_finite_weight() -> None:
    """Smoothing keeps m and u off 0 and 1 when random pairs never agree."""
    rng = np.random.default_rng(3)
    candidates = np.concatenate(
        [np.ones((30, 1)), rng.uniform(0.0, 0.4, (300, 1))]
    ).astype(np.float32)
    randoms = rng.uniform(0.0, 0.4, (500, 1)).astype(np.float32)
    result = fellegi_sunter(candidates, ["dob"], randoms)
    weights = result.model.weight_table()
    assert np.all(np.isfinite(weights))
    assert all(0.0 < value < 1.0 for row in result.model.u for value in row)
    assert int(result.matches.sum()) == 30


def test_useless_field_is_warned_about() -> None:
    """A field on which matches agree no more than random pairs gets a warning."""
    rng = np.random.default_rng(5)
    good = np.concatenate([np.ones(40), rng.uniform(0.0, 0.4, 400)])
    noise = rng.uniform(0.0, 1.0, 440)
    candidates = np.stack([good, noise], axis=1).astype(np.float32)
    randoms = np.stack(
        [rng.uniform(0.0, 0.4, 2000), rng.uniform(0.0, 1.0, 2000)], axis=1
    ).astype(np.float32)
    model = fellegi_sunter(candidates, ["dob", "noise"], randoms).model
    assert any("'noise'" in warning for warning in model.warnings)


@pytest.mark.parametrize(
    ("similarities", "message"),
    [
        (np.zeros((3, 2)), r"shape \(pairs, 1\)"),
        (np.array([[1.5]]), r"\[0, 1\] or NaN .* 'dob' in pair 0"),
        (np.zeros((0, 1)), "no candidate pairs"),
    ],
)
def test_bad_similarities_are_refused(
    similarities: NDArray[np.float64], message: str
) -> None:
    """Wrong shapes, scores above 1 and empty input each get a clear error."""
    with pytest.raises(ValueError, match=message):
        fellegi_sunter(similarities, ["dob"], np.zeros((5, 1)))


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ((0.5, 0.9), "strictly decreasing"),
        ((1.2,), r"in \(0, 1\]"),
        ((), "one or more"),
    ],
)
def test_bad_edges_are_refused(edges: tuple[float, ...], message: str) -> None:
    """Edges out of order or out of range name the field."""
    with pytest.raises(ValueError, match=f"field 'dob': edges must.*{message}"):
        field_levels(["dob"], {"dob": edges})


def test_edges_for_an_unknown_field_are_refused() -> None:
    """A typo in the edges' field name is an error, not silently ignored."""
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['dbo'\]"):
        field_levels(["dob"], {"dbo": (0.9,)})


def test_custom_edges_name_their_bands() -> None:
    """Bands of custom edges are named by their lower edge."""
    (levels,) = field_levels(["dob"], {"dob": (0.9, 0.6)})
    assert levels.labels == (">=0.9", ">=0.6", "<0.6")
    codes = levels.codes(np.array([np.nan, 0.1, 0.6, 0.95]))
    assert [levels.label(int(code)) for code in codes] == [
        "missing",
        "<0.6",
        ">=0.6",
        ">=0.9",
    ]


def test_threshold_methods() -> None:
    """Posterior is 0.5, a fixed value is kept, and a bad value is refused."""
    chances = np.array([0.99, 0.98, 0.7, 0.4, 0.01])
    assert choose_probability_threshold(chances, "posterior").threshold == 0.5
    fixed = choose_probability_threshold(chances, 0.9)
    assert (fixed.method, fixed.pairs_above) == ("fixed", 2)
    with pytest.raises(ValueError, match="'expected_f1', 'posterior'"):
        choose_probability_threshold(chances, "valley")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"probability in \(0, 1\)"):
        choose_probability_threshold(chances, 1.0)


def test_certain_probabilities_give_a_finite_weight() -> None:
    """Probabilities that round to 1.0 still give a finite threshold weight."""
    choice = choose_probability_threshold(np.array([1.0, 1.0, 0.0]))
    assert (choice.threshold, choice.pairs_above) == (1.0, 2)
    assert math.isfinite(choice.weight)


def test_expected_f1_falls_back_without_matches() -> None:
    """With under one expected match the threshold is the 0.5 posterior."""
    choice = choose_probability_threshold(np.full(10, 0.01))
    assert (choice.method, choice.threshold, choice.pairs_above) == (
        "posterior",
        0.5,
        0,
    )
    assert "fewer than one match" in choice.explanation


# Properties -----------------------------------------------------------------

_similarity = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def _edges(draw: st.DrawFn) -> tuple[float, ...]:
    values = draw(st.lists(st.floats(0.01, 1.0), min_size=1, max_size=5, unique=True))
    return tuple(sorted(values, reverse=True))


@given(edges=_edges(), low=_similarity, high=_similarity)
def test_higher_similarity_never_gives_a_lower_level(
    edges: tuple[float, ...], low: float, high: float
) -> None:
    """Level codes are monotone in the similarity, for any valid edges."""
    low, high = sorted((low, high))
    (levels,) = field_levels(["f"], {"f": edges})
    codes = levels.codes(np.array([low, high]))
    assert MISSING < codes[0] <= codes[1] <= levels.count


@st.composite
def _ordered_models(draw: st.DrawFn) -> FellegiSunterModel:
    """A model of 1-4 fields whose m/u ratio rises with the level."""
    fields = [f"f{i}" for i in range(draw(st.integers(1, 4)))]
    levels = field_levels(fields)
    m_rows, u_rows = [], []
    for spec in levels:
        ratios = sorted(
            draw(
                st.lists(
                    st.floats(0.01, 100.0), min_size=spec.count, max_size=spec.count
                )
            )
        )
        u = np.array(
            draw(
                st.lists(st.floats(0.01, 1.0), min_size=spec.count, max_size=spec.count)
            )
        )
        u /= u.sum()
        m = u * np.array(ratios)
        m /= m.sum()  # Scaling m keeps the order of m/u.
        m_rows.append(tuple(m.tolist()))
        u_rows.append(tuple(u.tolist()))
    return FellegiSunterModel(
        levels=levels,
        m=tuple(m_rows),
        u=tuple(u_rows),
        prior=draw(st.floats(0.001, 0.999)),
        iterations=1,
        converged=True,
        candidate_pairs=1,
        random_pairs=1,
        parameters=(),
        warnings=(),
    )


@given(model=_ordered_models(), data=st.data())
def test_weight_is_monotone_in_each_similarity(
    model: FellegiSunterModel, data: st.DataObject
) -> None:
    """Raising one field's similarity never lowers the weight, if m/u rises."""
    count = len(model.levels)
    pair = np.array(
        [data.draw(st.one_of(_similarity, st.just(math.nan))) for _ in range(count)]
    )
    field = data.draw(st.integers(0, count - 1))
    raised = pair.copy()
    start = 0.0 if math.isnan(pair[field]) else pair[field]
    raised[field] = data.draw(st.floats(start, 1.0))
    if math.isnan(pair[field]):
        pair[field] = start  # Compare present values; missing is tested apart.
    weights = model.weights(np.stack([pair, raised]))
    assert weights[1] >= weights[0] - 1e-9


@given(model=_ordered_models(), data=st.data())
def test_codes_match_weight_table(
    model: FellegiSunterModel, data: st.DataObject
) -> None:
    """Each field's weight is the table entry of its level; missing is 0."""
    pair = np.array(
        [[data.draw(st.one_of(_similarity, st.just(math.nan))) for _ in model.levels]]
    )
    codes = level_codes(model.levels, pair)[0]
    table = model.weight_table()
    expected = [table[f, code] for f, code in enumerate(codes)]
    np.testing.assert_allclose(model.field_weights(pair)[0], expected)
    assert all(
        w == 0.0
        for w, c in zip(model.field_weights(pair)[0], codes, strict=True)
        if c == MISSING
    )


def test_field_levels_defaults() -> None:
    """Fields without edges get the documented default bands."""
    (levels,) = field_levels(["x"])
    assert levels == FieldLevels("x")
    assert [levels.band(code) for code in (1, 4)] == [(0.0, 0.45), (0.95, math.inf)]


def test_a_blocking_key_is_not_called_useless() -> None:
    """Every exact agreement on a key field was forced by its block, so EM
    sees that field agree in no pair: its exact m is only a pseudo-count,
    which says nothing about whether the field helps."""
    rng = np.random.default_rng(12)
    blocked_matches, other_matches, others = 300, 300, 1400
    key = np.concatenate(
        [
            np.ones(blocked_matches),  # Found by the key's block.
            rng.uniform(0.0, 0.45, other_matches + others),  # Found otherwise.
        ]
    )
    tell = np.concatenate(
        [
            np.ones(blocked_matches + other_matches),
            rng.uniform(0.0, 0.45, others),
        ]
    )
    candidates = np.stack([key, tell], axis=1).astype(np.float32)
    randoms = rng.uniform(0.0, 0.45, (5000, 2)).astype(np.float32)
    randoms[:100, 0] = 1.0  # The key's value is shared by 2 % of random pairs.
    blocked = np.zeros(candidates.shape, dtype=bool)
    blocked[:blocked_matches, 0] = True
    result = fellegi_sunter(candidates, ["key", "tell"], randoms, blocked=blocked)
    assert int(result.matches.sum()) == blocked_matches + other_matches
    assert result.model.warnings == ()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 60).flatmap(
        lambda rows: st.integers(1, 8).flatmap(
            lambda columns: st.lists(
                st.lists(st.integers(0, 6), min_size=columns, max_size=columns),
                min_size=rows,
                max_size=rows,
            )
        )
    )
)
def test_unique_rows_are_numpys_unique_rows(table: list[list[int]]) -> None:
    """Packed into one integer per row, the rows come back as numpy's
    np.unique(axis=0) gives them: same rows, order, inverse and counts."""
    rows = np.array(table, dtype=np.int8)
    unique, inverse, counts = unique_rows(rows)
    expected, expected_inverse, expected_counts = np.unique(
        rows, axis=0, return_inverse=True, return_counts=True
    )
    assert np.array_equal(unique, expected)
    assert np.array_equal(inverse, expected_inverse.ravel())
    assert np.array_equal(counts, expected_counts)
    flags = rows > 3
    assert np.array_equal(unique_rows(flags)[0], np.unique(flags, axis=0))
