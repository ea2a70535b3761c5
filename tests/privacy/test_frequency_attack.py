"""The frequency / pattern-mining attack on plain CLKs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from privacy_data import demo_schema, encode, febrl4_schema, people, truth_by_id

from linkage.privacy.assign import correct_share
from linkage.privacy.frequency import frequency_attack


@pytest.mark.slow
def test_names_sampled_from_the_population_are_re_identified() -> None:
    """Given name + surname CLKs of 1,000 of 2,000 people: most are re-identified.

    The ceiling is below 1: people with the same given name and surname cannot
    be told apart (about 21 % of this sample).
    """
    population = people(2000)
    encoded = population.sample(1000, random_state=4).reset_index(drop=True)
    schema = demo_schema("given_name", "surname")
    assignment = frequency_attack(encode(schema, encoded), population, schema)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    correct, scored = correct_share(assignment, truth)
    assert scored == 1000
    assert correct / scored >= 0.4


@pytest.mark.slow
def test_febrl_names_sampled_from_the_population_are_re_identified(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """FEBRL4 given name + surname, 1,000 of 2,000 records, doubleHash CLKs."""
    population = febrl4_frames[0].head(2000)
    encoded = population.sample(1000, random_state=4).reset_index(drop=True)
    schema = febrl4_schema("given_name", "surname")
    assignment = frequency_attack(encode(schema, encoded), population, schema)
    truth = truth_by_id(encoded["rec_id"], population["rec_id"])
    correct, scored = correct_share(assignment, truth)
    assert correct / scored >= 0.5


def test_no_frequent_pattern_means_no_assignment() -> None:
    """Encodings with no bit set give the attack nothing to align."""
    schema = demo_schema("given_name", "surname")
    population = people(200)
    clks = np.zeros((50, 128), dtype=np.uint8)
    assignment = frequency_attack(clks, population, schema)
    assert assignment.assigned == 0
    assert (assignment.record == -1).all()
