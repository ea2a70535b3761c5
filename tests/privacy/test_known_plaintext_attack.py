"""The known-plaintext attack on plain CLKs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from privacy_data import CONFIGS, FIXED_SECRET, encode, febrl4_schema, truth_by_id

from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import schema_from_dict
from linkage.privacy.assign import correct_share
from linkage.privacy.known_plaintext import _explained, known_plaintext_attack


def _febrl4_a_and_truth(
    frames: tuple[pd.DataFrame, pd.DataFrame], size: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """FEBRL4 A's first records, and each one's duplicate's row in B."""
    first, second = frames
    encoded = first.head(size)
    duplicates = encoded["rec_id"].str.replace("-org", "-dup-0")
    return encoded, truth_by_id(duplicates, second["rec_id"])


@pytest.mark.slow
def test_fifty_known_pairs_re_identify_febrl4(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """1,000 FEBRL4 A records, all fields; B (5,000 noisy copies) as population."""
    schema = febrl4_schema()
    encoded, truth = _febrl4_a_and_truth(febrl4_frames, 1000)
    rows = np.random.default_rng(1).choice(1000, 50, replace=False)
    known = np.column_stack([rows, truth[rows]])
    assignment = known_plaintext_attack(
        encode(schema, encoded), febrl4_frames[1], schema, known
    )
    others = truth.copy()
    others[rows] = -1  # Count only what the attacker did not know.
    correct, scored = correct_share(assignment, others)
    assert scored == 950
    assert correct / scored >= 0.9
    assert (assignment.record[rows] == truth[rows]).all()


@pytest.mark.slow
def test_twenty_known_pairs_re_identify_febrl4(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """As the reference decoder: 20 known pairs suffice on plain CLKs (99 %
    measured; the model of each token on its own found 0.6 %)."""
    schema = febrl4_schema()
    encoded, truth = _febrl4_a_and_truth(febrl4_frames, 1000)
    rows = np.random.default_rng(1).choice(1000, 20, replace=False)
    assignment = known_plaintext_attack(
        encode(schema, encoded),
        febrl4_frames[1],
        schema,
        np.column_stack([rows, truth[rows]]),
    )
    others = truth.copy()
    others[rows] = -1
    correct, scored = correct_share(assignment, others)
    assert correct / scored >= 0.9


def test_known_pairs_must_name_rows_that_exist(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """A known pair outside the encodings or the population is refused."""
    schema = febrl4_schema()
    encoded, _ = _febrl4_a_and_truth(febrl4_frames, 20)
    clks = encode(schema, encoded)
    with pytest.raises(ValueError, match="population rows"):
        known_plaintext_attack(clks, encoded, schema, np.array([[0, 20]]))
    with pytest.raises(ValueError, match="encodings"):
        known_plaintext_attack(clks, encoded, schema, np.array([[20, 0]]))
    with pytest.raises(ValueError, match="at least one"):
        known_plaintext_attack(clks, encoded, schema, np.zeros((0, 2)))


@pytest.mark.slow
def test_balanced_encodings_are_learnt_too(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Balancing adds each bit's complement: tokens then clear bits, and the
    attack learns that as well, since it does not assume bits are ORs."""
    document = json.loads((CONFIGS / "schemas" / "febrl4.json").read_text())
    document["linkage"] = {"hardening": {"balance": True}}
    schema = schema_from_dict(document)
    encoded, truth = _febrl4_a_and_truth(febrl4_frames, 1000)
    rows = np.random.default_rng(1).choice(1000, 50, replace=False)
    clks = ClkEncoder(schema, FIXED_SECRET).encode(encoded).clks
    assert clks.shape[1] * 8 == 2048
    assignment = known_plaintext_attack(
        clks, febrl4_frames[1], schema, np.column_stack([rows, truth[rows]])
    )
    others = truth.copy()
    others[rows] = -1
    correct, scored = correct_share(assignment, others)
    assert correct / scored >= 0.9


def _explained_by_hand(
    occurs: np.ndarray,
    known_bits: np.ndarray,
    sets: np.ndarray,
    rate: np.ndarray,
    noise: tuple[float, float],
) -> np.ndarray:
    """Explaining away as the module docstring states it, one (token, record,
    bit) at a time in float64: the bit is set by the record's *other* tokens
    with the chance their estimates give, trusted 0.8 and mixed with the rate."""
    missed, spurious = noise
    unset = np.log1p(-np.minimum(sets.astype(np.float64), 1 - missed))
    result = np.zeros(sets.shape)
    for token in range(occurs.shape[1]):
        for record in np.flatnonzero(occurs[:, token]):
            others = np.flatnonzero(occurs[record])
            others = others[others != token]
            none_other = np.exp(unset[others].sum(axis=0))
            chance = spurious + (1 - spurious) * (1 - none_other)
            chance = 0.8 * chance + 0.2 * rate
            chance = np.clip(chance, spurious, 1 - missed)
            observed = known_bits[record]
            result[token] += np.where(observed == 1, np.log(chance), np.log1p(-chance))
    return result


@settings(max_examples=40, deadline=None)
@given(
    records=st.integers(1, 12),
    tokens=st.integers(1, 6),
    bits=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
    noise=st.sampled_from([(0.05, 0.01), (0.1, 0.1)]),
)
def test_explaining_away_sums_each_tokens_records(
    records: int, tokens: int, bits: int, seed: int, noise: tuple[float, float]
) -> None:
    """The compiled pass (a logarithm every eight records) gives the sums a
    plain loop over every (token, record, bit) gives."""
    rng = np.random.default_rng(seed)
    occurs = rng.random((records, tokens)) < 0.5
    occurs[rng.integers(records), :] = True  # Every token seen at least once.
    known_bits = (rng.random((records, bits)) < 0.4).astype(np.float32)
    sets = (rng.random((tokens, bits)) * 0.9).astype(np.float32)
    rate = np.clip(rng.random(bits), 0.002, 0.998).astype(np.float32)
    found = _explained(
        sp.csr_matrix(occurs.astype(np.float32)), known_bits, sets, rate, noise
    )
    expected = _explained_by_hand(occurs, known_bits, sets, rate, noise)
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-4)
