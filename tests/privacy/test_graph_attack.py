"""The graph-matching attack on plain CLKs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from privacy_data import (
    ATTACKER_SECRET,
    PLAIN_DEMO_SCHEMA,
    demo_schema,
    encode,
    people,
    truth_by_id,
)

from linkage.formats.schema import LinkageSchema, schema_from_dict
from linkage.privacy.assign import correct_share
from linkage.privacy.graph import graph_attack


@pytest.mark.parametrize(
    ("fields", "floor"),
    [
        ((), 0.9),  # Every field of the demo schema.
        (("given_name", "surname"), 0.7),  # Names only: identical names stay apart.
    ],
)
def test_the_very_records_encoded_are_re_identified(
    fields: tuple[str, ...], floor: float
) -> None:
    """The attacker's list holds exactly the 1,000 people encoded (shuffled)."""
    assert re_identified(demo_schema(*fields)) >= floor


def test_calibration_a_fakename_like_list_is_re_identified() -> None:
    """Calibration against the published attack: plain CLKs of given name,
    surname and date of birth of 1,000 people, the attacker's list exactly
    them (the published code re-identified 100 % of such a list)."""
    schema = demo_schema("given_name", "surname", "date_of_birth")
    assert re_identified(schema) >= 0.9


@pytest.mark.slow
def test_the_published_steps_alone_re_identify_plain_clks() -> None:
    """Embedding, alignment without known pairs and assignment, as published,
    with no refinement on anchors (the published code: 100 % at 1,000)."""
    schema = demo_schema("given_name", "surname", "date_of_birth")
    assert re_identified(schema, keys=1, published=True) >= 0.9


def test_records_the_encoder_rejects_are_never_assigned() -> None:
    """Population rows with invalid values are left out of the attacker's graph."""
    schema = demo_schema()
    encoded = people(300)
    population = encoded.copy()
    population.loc[:9, "sex"] = "unknown"  # Not in the enum: the encoder refuses.
    assignment = graph_attack(
        encode(schema, encoded), population, schema, secret=ATTACKER_SECRET
    )
    assert not set(assignment.record.tolist()) & set(range(10))


def test_diffusion_hardening_defeats_this_graph_attack() -> None:
    """With diffusion (each bit the XOR of 5), similarities no longer carry over.

    The attacker encodes through the same schema, hardening included, so the
    drop is the hardening's doing, not a mismatch of settings.
    """
    diffusion = {"taps": 5, "length": 1024}
    assert re_identified(demo_with({"hardening": {"diffusion": diffusion}})) <= 0.01


GROUPS = {
    "name": ["given_name", "surname"],
    "birth": ["date_of_birth", "sex"],
    "address": ["postcode", "street"],
}


@pytest.mark.slow
@pytest.mark.parametrize(("taps", "low", "high"), [(3, 0.5, 1.0), (5, 0.0, 0.05)])
def test_field_groups_are_compared_filter_by_filter(
    taps: int, low: float, high: float
) -> None:
    """With one filter per group of fields the attacker compares group by group.

    Diffusion with 3 taps hides the similarities of whole encodings (2.4 % of
    these people re-identified when they were compared whole) but not each
    group's (68 %); 5 taps hide those too (1.3 %).
    """
    schema = demo_with(
        {
            "segments": {"bits": 512, "groups": GROUPS},
            "hardening": {"diffusion": {"taps": taps, "length": 512}},
        }
    )
    assert low <= re_identified(schema) <= high


def demo_with(block: dict[str, Any]) -> LinkageSchema:
    """The plain demo schema with ``block`` as its ``linkage`` block."""
    document = copy.deepcopy(PLAIN_DEMO_SCHEMA)
    document["linkage"] = block
    return schema_from_dict(document)


def re_identified(schema: LinkageSchema, **options: Any) -> float:
    """The share of 1,000 people encoded that the attack re-identifies, when
    its list holds exactly them (shuffled)."""
    encoded = people(1000)
    population = encoded.sample(frac=1, random_state=3).reset_index(drop=True)
    assignment = graph_attack(
        encode(schema, encoded), population, schema, secret=ATTACKER_SECRET, **options
    )
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    correct, scored = correct_share(assignment, truth)
    return correct / scored
