"""What an agency that lacks some fields sends of the views.

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
so (``clk_same_as``). The same holds when it holds too few identifying
fields for the CLK's taps (a demo agency without birth dates: four, where
the default's 4 taps need five) and some view holds only fields it holds.
Its records are then compared with each other on the view, with other
agencies on the views as before, and the file keeps the layout every party
shares.

A view it holds only in part is one more measurement too, of few fields: the
names alone for social services' view without birth dates. Such a view is
sent as zero bytes when it would hold fewer than
:data:`MIN_IDENTIFYING_IN_PART` identifying fields (``views_left_empty`` in
the header); the operator compares nobody on it. Measured with the linear
attacker (50 known pairs, 1,000 demo health records with fields emptied as
each agency lacks them, two or three runs under fresh secrets), before ->
after: without postcode and street 1.1-1.6 % -> 0.0-0.1 %; without birth
date and sex 0.8 % -> 0.1-0.3 %; without birth date 1.8-2.4 % -> 0.1-0.3 %;
without street 0.9-1.5 % -> 0.4-1.1 %, at the bar (its view of given name,
surname and postcode is kept: leaving partial views of three identifying
fields empty too took the households population's F1 from 0.782 to 0.756);
every other attacker at or under 0.6 %. The links lost:
5,000-person demo F1 0.896 -> 0.891, households 0.781 -> 0.782.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from linkage.encoding.default_hardening import default_taps, identifying_in
from linkage.formats.extension import WHOLE_CLK, Segment
from linkage.formats.schema import LinkageSchema

#: A view an agency holds only in part is sent only if what it holds of it
#: still counts this many identifying fields (enums such as sex do not
#: count): names alone, or names and sex, are one concept, and each CLK sent
#: is one more measurement of a person for the linear attacker.
MIN_IDENTIFYING_IN_PART: Final = 3


@dataclass(frozen=True)
class SentViews:
    """What an agency that lacks some fields sends of the schema's views.

    Attributes:
        stand_in: the view whose CLK replaces its CLK of every field, or None.
        left_empty: views it sends as zero bytes (it holds too little of them).
    """

    stand_in: str | None = None
    left_empty: tuple[str, ...] = ()

    def apply(self, clks: npt.NDArray[np.uint8], segments: Sequence[Segment]) -> None:
        """Make ``clks`` (every segment of the schema, in place) what is sent."""
        if self.stand_in is not None:
            put_in_place(clks, segments, self.stand_in)
        leave_empty(clks, segments, self.left_empty)


def sent_views(schema: LinkageSchema, absent: Sequence[str]) -> SentViews:
    """What an agency that does not hold ``absent`` sends of the views.

    Its CLK of every field is replaced by a view's CLK (a stand-in) when one
    view holds every field it holds (the smallest such, the first on a tie),
    or when what it holds is too little for the CLK's taps (fewer
    identifying fields than :func:`~linkage.encoding.default_hardening.default_taps`
    asks of them) and it holds every field of some view (the one with the
    most identifying fields, the first on a tie). Views it holds only in
    part, with fewer than :data:`MIN_IDENTIFYING_IN_PART` identifying fields
    of them, are left empty when the views are diffused. An agency holding
    every field, or a schema without views, sends everything as it is.
    """
    segments = schema.segments
    if not absent or len(segments) < 2 or segments[0].name != WHOLE_CLK:
        return SentViews()
    held = set(segments[0].features) - set(absent)
    views = segments[1:]

    def identifying_held(segment: Segment) -> int:
        return identifying_in(schema, (f for f in segment.features if f in held))

    stand_in = _covering_view(views, held)
    too_few = _too_few_for_the_taps(schema, identifying_held(segments[0]))
    if stand_in is None and too_few:
        whole = [s for s in views if set(s.features) <= held]
        if whole:
            stand_in = max(whole, key=identifying_held).name
    # Plain views stay comparable when one side lacks some of their fields;
    # diffused ones of one side's names alone compare as noise.
    diffused = schema.extension.view_hardening.diffusion is not None
    left_empty = tuple(
        segment.name
        for segment in views
        if diffused
        and segment.name != stand_in
        and not set(segment.features) <= held
        and identifying_held(segment) < MIN_IDENTIFYING_IN_PART
    )
    return SentViews(stand_in, left_empty)


def _covering_view(views: Sequence[Segment], held: set[str]) -> str | None:
    """The smallest view holding every field held (the first on a tie)."""
    covering = [s for s in views if held <= set(s.features)]
    if not covering:
        return None
    return min(covering, key=lambda segment: len(segment.features)).name


def _too_few_for_the_taps(schema: LinkageSchema, fields: int) -> bool:
    """Whether a CLK of ``fields`` identifying fields needs more taps than the
    schema's CLK of every field has (none: plain CLKs are asked for on
    purpose)."""
    diffusion = schema.extension.hardening.diffusion
    return diffusion is not None and diffusion.taps < default_taps(fields)


def put_in_place(
    clks: npt.NDArray[np.uint8], segments: Sequence[Segment], view: str
) -> None:
    """Copy each encoding's CLK of ``view`` over its CLK of every field (the
    first), in place. Every segment has whole bytes (views are CLKs of one
    length)."""
    places = _places(segments)
    clks[:, places[WHOLE_CLK]] = clks[:, places[view]]


def leave_empty(
    clks: npt.NDArray[np.uint8], segments: Sequence[Segment], views: Sequence[str]
) -> None:
    """Zero each encoding's CLK of every view in ``views``, in place."""
    places = _places(segments)
    for view in views:
        clks[:, places[view]] = 0


def _places(segments: Sequence[Segment]) -> dict[str, slice]:
    """Where each segment's bytes lie in an encoding."""
    sizes = [segment.clk_bits // 8 for segment in segments]
    starts = np.cumsum([0, *sizes]).tolist()
    return {
        segment.name: slice(start, start + size)
        for segment, start, size in zip(segments, starts, sizes, strict=False)
    }
