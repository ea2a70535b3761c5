"""The demo's reveal picks the match it asks about as it always did: the
smallest group holding both the asking and the holding agency, the first
match ID of equally small ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.demo.reveal import ASKING, HOLDING, _a_shared_match
from linkage.errors import LinkageError


def _reference(matches: pd.DataFrame) -> str:
    """The choice as it was written before, with a set per group."""
    parties = matches.groupby("match_id")["party"].agg(set)
    shared = parties[parties.map(lambda held: {ASKING, HOLDING} <= held)]
    sizes = matches[matches["match_id"].isin(shared.index)].groupby("match_id").size()
    return str(sizes.sort_values(kind="stable").index[0])


@pytest.mark.parametrize("seed", range(20))
def test_the_same_match_is_chosen(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = int(rng.integers(5, 60))
    rows = []
    for group in range(groups):
        match_id = f"{int(rng.integers(16**6)):06x}{group:04d}"
        size = int(rng.integers(2, 6))
        names = rng.choice([ASKING, HOLDING, "tax", "social_services"], size=size)
        rows += [(match_id, str(name)) for name in names]
    matches = pd.DataFrame(rows, columns=["match_id", "party"])
    if not {ASKING, HOLDING} <= set(matches["party"]):
        return
    try:
        expected = _reference(matches)
    except IndexError:
        with pytest.raises(LinkageError):
            _a_shared_match(matches)
        return
    assert _a_shared_match(matches) == expected
