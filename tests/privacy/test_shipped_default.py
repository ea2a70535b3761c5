"""The shipped default encoding (configs/schemas/demo.json) against every
attacker that re-identifies records, beside the same schema without its
hardening."""

from __future__ import annotations

import numpy as np
import pytest
from privacy_data import CONFIGS, attacked, demo_schema, shares

from linkage.formats.schema import load_schema
from linkage.privacy.check import PrivacyReport


@pytest.fixture(scope="module")
def plain() -> PrivacyReport:
    return attacked(demo_schema())


@pytest.fixture(scope="module")
def default() -> PrivacyReport:
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    assert schema.extension.hardening.diffusion is not None
    return attacked(schema)


def test_plain_clks_of_the_same_fields_are_broken(plain: PrivacyReport) -> None:
    found = shares(plain)
    assert found["graph"] >= 0.9 and found["known-plaintext"] >= 0.9
    assert found["linear"] >= 0.9
    assert plain.exposed


def test_the_shipped_default_resists_all_but_the_linear_attack(
    default: PrivacyReport,
) -> None:
    """What the README states: 3 taps keep the frequency, graph and
    known-plaintext attackers at or under 1 %, but the linear attacker, which
    uses that diffusion is linear, re-identifies more (5.2 % of these people
    with 50 known pairs). Four taps would stop it here, but the automatic
    threshold fails on them (issue 18); when the default changes, this test
    must say so."""
    found = shares(default)
    assert set(found) == {"frequency", "graph", "known-plaintext", "linear"}
    assert max(found[a] for a in ("frequency", "graph", "known-plaintext")) <= 0.01
    assert found["linear"] > 0.01, found
    assert default.exposed
    assert np.isclose(default.threshold, 0.01)
