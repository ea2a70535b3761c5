"""An agency that lacks one of the shipped default's fields: what it sends
(linkage.encoding.stand_in) against the linear attacker, beside sending its
CLK of every field and both views as they are."""

from __future__ import annotations

import copy

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from privacy_data import CONFIGS, encode, people, truth_by_id

from linkage.encoding.stand_in import sent_views
from linkage.formats.schema import LinkageSchema, load_schema, schema_from_dict
from linkage.privacy.check import privacy_check
from linkage.privacy.equality import value_classes
from linkage.privacy.mirror import encode_as_sent

SHIPPED = load_schema(CONFIGS / "schemas" / "demo.json")


def _with_clk_taps(schema: LinkageSchema, taps: int) -> LinkageSchema:
    document = copy.deepcopy(schema.raw)
    document["linkage"]["hardening"]["diffusion"]["taps"] = taps
    return schema_from_dict(document)


# The shipped default until its CLK beside views got a fifth tap.
FOUR_TAPS = _with_clk_taps(SHIPPED, 4)


def linear_share(
    clks: npt.NDArray[np.uint8], absent: str, schema: LinkageSchema = SHIPPED
) -> float:
    """What the linear attacker re-identifies of the 1,000 people encoded in
    ``clks`` (without ``absent``) under ``schema`` with 50 known pairs, its
    list holding exactly them."""
    encoded = without(absent)
    population = encoded.sample(frac=1, random_state=4).reset_index(drop=True)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    features = [f.identifier for f in schema.encoded_features]
    report = privacy_check(
        clks, population[features], schema, truth=truth, attacks=("linear",)
    )
    (result,) = report.results
    assert result.share is not None
    return result.share


def without(absent: str) -> pd.DataFrame:
    records = people(1000, seed=11)
    records[absent] = ""
    return records


def as_sent(schema: LinkageSchema, absent: str) -> npt.NDArray[np.uint8]:
    clks = encode(schema, without(absent))
    plan = sent_views(schema, (absent,))
    assert plan.stand_in is not None
    plan.apply(clks, schema.segments)
    return clks


@pytest.mark.slow
@pytest.mark.parametrize("absent", ["date_of_birth", "street"])
def test_an_agency_without_one_field_sends_too_little_to_be_read(absent: str) -> None:
    """Without birth dates (or streets): four identifying fields, too few
    for a CLK of 4 taps. Sent as they are under the CLK's former 4 taps, the
    linear attacker takes 1.9 % and 2.0 % of these people (before the names
    shared one hashing key: 3.3 % and 2.7 %); with the view it holds whole
    standing in for its CLK, and a view it holds only the names and sex of
    left empty, it takes 0.1 % of both, and 0.2 % of both under the shipped
    CLK's 5 taps (as they are there: 1.9 % and 0.4 %)."""
    as_is = linear_share(encode(FOUR_TAPS, without(absent)), absent, FOUR_TAPS)
    as_sent_four = linear_share(as_sent(FOUR_TAPS, absent), absent, FOUR_TAPS)
    assert as_sent_four <= 0.01
    # What the stand-in saves: the attacker reads several times as many.
    assert as_is >= 5 * max(as_sent_four, 0.001)
    assert linear_share(as_sent(SHIPPED, absent), absent) <= 0.01


def _partition(codes: npt.NDArray[np.int64]) -> set[frozenset[int]]:
    """The records grouped by the class they hold in each column (-1: none)."""
    groups: dict[tuple[int, int], set[int]] = {}
    for row, column in zip(*np.nonzero(codes >= 0), strict=True):
        groups.setdefault((int(column), int(codes[row, column])), set()).add(int(row))
    return {frozenset(group) for group in groups.values()}


@pytest.mark.parametrize("absent", [("postcode", "street"), ("date_of_birth", "sex")])
def test_the_attackers_list_is_encoded_as_the_agency_sent_its_records(
    absent: tuple[str, ...],
) -> None:
    """An attacker mirroring what an agency without ``absent`` sends (a view
    in place of its CLK of every field, another view sent empty) sees, under
    her own secret, exactly the pattern of identical filters the victims
    show; encoding every view, she would see classes where the victims send
    nothing, and understate the risk (what `linkage privacy-check` did
    before it read the header's absent fields)."""
    records = people(1000, seed=11)
    records = pd.concat([records, records.head(100)], ignore_index=True)
    features = [f.identifier for f in SHIPPED.encoded_features]
    for name in absent:
        records[name] = ""
    sent = encode_as_sent(SHIPPED, bytes(32), records[features], absent)
    mirrored = encode_as_sent(SHIPPED, bytes(range(1, 33)), records[features], absent)
    unmirrored = encode_as_sent(SHIPPED, bytes(range(1, 33)), records[features])
    victims = _partition(value_classes(sent.clks, SHIPPED))
    assert _partition(value_classes(mirrored.clks, SHIPPED)) == victims
    assert _partition(value_classes(unmirrored.clks, SHIPPED)) != victims


def test_the_check_reads_what_the_agency_did_not_send() -> None:
    """`privacy_check` given the export's absent fields has the equality
    attacker find her pattern in every victim; without them her pattern
    (a class in the view the victims sent empty) matches none."""
    absent = ("postcode", "street")
    records = without(absent[0])
    records[absent[1]] = ""
    features = [f.identifier for f in SHIPPED.encoded_features]
    sent = encode_as_sent(SHIPPED, bytes(32), records[features], absent)

    def assigned(mirrored: tuple[str, ...]) -> int:
        report = privacy_check(
            sent.clks, records[features], SHIPPED, truth=np.arange(len(records)),
            attacks=("equality",), match_keys=sent.match_keys, absent=mirrored,
        )  # fmt: skip
        return report.results[0].assigned

    assert assigned(absent) == len(records)
    assert assigned(()) == 0
