"""The shipped default encoding (configs/schemas/demo.json) against all three
attackers, beside the same schema without its hardening."""

from __future__ import annotations

import numpy as np
import pytest
from privacy_data import CONFIGS, demo_schema, encode, people, truth_by_id

from linkage.formats.schema import LinkageSchema, load_schema
from linkage.privacy.check import PrivacyReport, privacy_check


def attacked(schema: LinkageSchema) -> PrivacyReport:
    """1,000 people encoded; the attacker's list holds exactly them, shuffled."""
    encoded = people(1000, seed=11)
    population = encoded.sample(frac=1, random_state=4).reset_index(drop=True)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    features = [f.identifier for f in schema.encoded_features]
    return privacy_check(
        encode(schema, encoded), population[features], schema, truth=truth
    )


@pytest.fixture(scope="module")
def plain() -> PrivacyReport:
    return attacked(demo_schema())


@pytest.fixture(scope="module")
def default() -> PrivacyReport:
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    assert schema.extension.hardening.diffusion is not None
    return attacked(schema)


def shares(report: PrivacyReport) -> dict[str, float]:
    return {r.attack: r.share for r in report.results if r.share is not None}


def test_plain_clks_of_the_same_fields_are_broken(plain: PrivacyReport) -> None:
    found = shares(plain)
    assert found["graph"] >= 0.9 and found["known-plaintext"] >= 0.9
    assert plain.exposed


def test_the_shipped_default_resists_every_attack(default: PrivacyReport) -> None:
    found = shares(default)
    assert set(found) == {"frequency", "graph", "known-plaintext"}
    assert max(found.values()) <= 0.01, found
    assert not default.exposed
    assert np.isclose(default.threshold, 0.01)
