"""A view in place of the CLK of every field, for agencies that hold few fields.

An agency that lacks whole fields (social services without an address) is
compared with every other agency on a view (see
:mod:`linkage.matching.views`); its CLK of every field serves only to compare
its records with each other. Yet that CLK, diffused with fewer taps than the
views, is one more measurement of each person for the linear attacker, and
the most telling one: with the demo's views, health records with postcode
and street left empty lost 5.5-6.7 % of 1,000 to it with 50 known pairs,
against 1.2-1.7 % with that CLK left out (``benchmarks/README.md``).

So when every field an agency holds lies in one view, its encodings carry
that view's bytes in the place of the CLK of every field, and the header says
so (``clk_same_as``). Its records are then compared with each other on the
view, with other agencies on the views as before, and the file keeps the
layout every party shares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from linkage.formats.extension import WHOLE_CLK, Segment


def stand_in_view(segments: Sequence[Segment], absent: Sequence[str]) -> str | None:
    """The view whose CLK stands in for the CLK of every field of an agency
    that does not hold ``absent``: the smallest view holding every field it
    holds (the first such in the schema on a tie); None if it holds every
    field, or no view holds all it holds."""
    if not absent or len(segments) < 2 or segments[0].name != WHOLE_CLK:
        return None
    held = set(segments[0].features) - set(absent)
    covering = [s for s in segments[1:] if held <= set(s.features)]
    if not covering:
        return None
    return min(covering, key=lambda segment: len(segment.features)).name


def put_in_place(
    clks: npt.NDArray[np.uint8], segments: Sequence[Segment], view: str
) -> None:
    """Copy each encoding's CLK of ``view`` over its CLK of every field (the
    first), in place. Every segment has whole bytes (views are CLKs of one
    length)."""
    sizes = [segment.clk_bits // 8 for segment in segments]
    starts = np.cumsum([0, *sizes]).tolist()
    number = [segment.name for segment in segments].index(view)
    clks[:, : sizes[0]] = clks[:, starts[number] : starts[number] + sizes[number]]
