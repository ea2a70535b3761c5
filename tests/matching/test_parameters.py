"""The linkage parameters a run keeps: written and read back, and refused
by name when they do not fit."""

from __future__ import annotations

import pytest

from linkage.errors import InputError
from linkage.matching.parameters import LinkageParameters

KEPT = LinkageParameters(0.62, 0.55, {"no address": 0.03}, True, "greedy", 0.5)


def test_parameters_read_back_what_they_wrote() -> None:
    assert LinkageParameters.from_document(KEPT.document()) == KEPT


def test_parameters_written_before_the_missing_score_count_missing_pairs_zero() -> None:
    """A standing linkage saved before the missing-pair score was kept was
    grouped counting missing pairs 0; its updates must keep doing so."""
    document = KEPT.document()
    del document["missing"]
    assert LinkageParameters.from_document(document).missing == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"missing": 0.62}, "missing-pair score 0.62"),
        ({"missing": -0.1}, "missing-pair score -0.1"),
        ({"missing": "half"}, "incomplete or malformed"),
        ({"floor": 0.7}, "floor 0.7 and threshold 0.62"),
        ({"solver": "best"}, "Unknown solver 'best'"),
    ],
)
def test_parameters_that_do_not_fit_are_refused_by_name(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        LinkageParameters.from_document({**KEPT.document(), **change})
