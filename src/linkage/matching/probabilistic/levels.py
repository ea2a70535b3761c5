"""Comparison levels: per-field Dice similarities cut into a few bands.

A Fellegi-Sunter model counts agreement *levels*, not raw scores. Each field's
similarity is put in one band by its edges (highest band first); a NaN
similarity, meaning either record lacks the field, is the *missing* level,
which the model scores 0 (it says nothing either way).

Level codes are small integers ordered by similarity: 0 is missing, 1 the
lowest band ("far"), and the highest code the top band ("exact"). A higher
similarity never gets a lower code.

Default edges, for Dice of bigram Bloom filters (:data:`DEFAULT_EDGES`). A
name of ``L`` letters has ``L + 1`` padded bigrams; one substituted letter
changes two of them (Dice ``(L - 1) / (L + 1)``), a transposition three
(``(L - 2) / (L + 1)``). Bit collisions in a Bloom filter raise every Dice a
little, so the edges sit at or just below the plaintext figures:

* ``exact`` >= 0.95: the same value. Equal values give 1.0; 0.95 leaves room
  for encoders that add a little noise.
* ``close`` >= 0.65: one substituted, deleted or inserted letter in a name of
  five letters or more ("smith" / "smyth" = 0.67, "johnson" / "jonson" =
  0.86).
* ``partial`` >= 0.45: a transposition ("robert" / "robret" = 0.57), two
  errors in a long name, a nickname sharing its start ("katherine" /
  "kathy" = 0.5), one part of a double surname ("smith" / "smith jones" =
  0.67 lands in ``close``; shorter parts here).
* ``far``: anything lower. Unrelated names share few bigrams ("smith" /
  "brown" = 0, "bill" / "william" = 0.31); in a Bloom filter, collisions add
  up to about 0.1-0.2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_EDGES",
    "DEFAULT_LABELS",
    "MISSING",
    "FieldLevels",
    "field_levels",
    "level_codes",
    "with_name_swaps",
]

DEFAULT_EDGES: tuple[float, ...] = (0.95, 0.65, 0.45)
"""Lower edges of the ``exact``, ``close`` and ``partial`` bands, highest first."""

DEFAULT_LABELS: tuple[str, ...] = ("exact", "close", "partial", "far")
"""Names of the bands made by :data:`DEFAULT_EDGES`, highest first."""

MISSING = 0
"""The level code of a pair where either record lacks the field."""


@dataclass(frozen=True)
class FieldLevels:
    """How one field's similarity is cut into levels.

    Attributes:
        name: The field.
        edges: Lower edges of every band but the lowest, strictly decreasing,
            each in (0, 1].
        labels: One name per band, highest band first (``len(edges) + 1``).
    """

    name: str
    edges: tuple[float, ...] = DEFAULT_EDGES
    labels: tuple[str, ...] = DEFAULT_LABELS

    def __post_init__(self) -> None:
        """Refuse edges that are not strictly decreasing in (0, 1]."""
        edges = self.edges
        if not edges or any(not 0.0 < edge <= 1.0 for edge in edges):
            raise ValueError(
                f"field {self.name!r}: edges must be one or more numbers in (0, 1] "
                f"(got {edges!r})"
            )
        if any(high <= low for high, low in pairwise(edges)):
            raise ValueError(
                f"field {self.name!r}: edges must be strictly decreasing, highest "
                f"band first (got {edges!r})"
            )
        if len(self.labels) != len(edges) + 1:
            raise ValueError(
                f"field {self.name!r}: {len(edges)} edges make {len(edges) + 1} "
                f"bands, so give {len(edges) + 1} labels (got {self.labels!r})"
            )

    @property
    def count(self) -> int:
        """The levels of this field, not counting the missing level."""
        return len(self.edges) + 1

    def label(self, code: int) -> str:
        """The name of level ``code`` (0 is ``"missing"``)."""
        return "missing" if code == MISSING else self.labels[self.count - code]

    def band(self, code: int) -> tuple[float, float]:
        """The similarities ``[low, high)`` of level ``code`` (not missing)."""
        ascending = (0.0, *self.edges[::-1], np.inf)
        return float(ascending[code - 1]), float(ascending[code])

    def codes(self, similarity: NDArray[np.floating]) -> NDArray[np.int8]:
        """The level code of each similarity; NaN gives :data:`MISSING`."""
        values = np.asarray(similarity, dtype=np.float64)
        # searchsorted on the ascending edges counts the edges at or below each
        # value, which is the band index counted from the lowest band.
        band = np.searchsorted(np.asarray(self.edges[::-1]), values, side="right")
        return np.where(np.isnan(values), MISSING, band + 1).astype(np.int8)


def field_levels(
    fields: Sequence[str],
    edges: Mapping[str, Sequence[float]] | None = None,
    labels: Mapping[str, Sequence[str]] | None = None,
) -> tuple[FieldLevels, ...]:
    """Levels for each field, with default bands where none are given.

    Args:
        fields: The field names, in the column order of the similarities.
        edges: Band edges of some fields, highest first.
        labels: Band names of fields whose edges are not the defaults; bands
            are named by their lower edge (``">=0.9"``) where none are given.

    Raises:
        ValueError: A field is named twice, ``edges`` or ``labels`` names an
            unknown field, or edges are not strictly decreasing in (0, 1].
    """
    edges, labels = dict(edges or {}), dict(labels or {})
    if len(set(fields)) != len(fields):
        raise ValueError(f"field names must be unique (got {list(fields)!r})")
    unknown = sorted((set(edges) | set(labels)) - set(fields))
    if unknown:
        raise ValueError(
            f"edges or labels given for unknown field(s) {unknown!r}; the fields "
            f"are {list(fields)!r}"
        )
    return tuple(_one_field(name, edges.get(name), labels.get(name)) for name in fields)


def _one_field(
    name: str, edges: Sequence[float] | None, labels: Sequence[str] | None
) -> FieldLevels:
    if edges is None:
        return FieldLevels(name, labels=tuple(labels or DEFAULT_LABELS))
    cut = tuple(float(edge) for edge in edges)
    if labels is None:
        # With no edges at all, FieldLevels refuses them with the clearer error.
        lowest = f"<{cut[-1]:g}" if cut else "all"
        named = (*(f">={edge:g}" for edge in cut), lowest)
        return FieldLevels(name, cut, named)
    return FieldLevels(name, cut, tuple(labels))


def level_codes(
    levels: Sequence[FieldLevels], similarities: NDArray[np.floating]
) -> NDArray[np.int8]:
    """The level code of every pair and field (pairs x fields).

    Raises:
        ValueError: ``similarities`` is not two-dimensional with one column per
            field, or holds a value outside [0, 1] other than NaN.
    """
    values = np.asarray(similarities, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(levels):
        raise ValueError(
            f"similarities must have shape (pairs, {len(levels)}), one column per "
            f"field (got shape {values.shape})"
        )
    bad = ~np.isnan(values) & ~((values >= 0.0) & (values <= 1.0))
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"similarities must be Dice scores in [0, 1] or NaN for missing (got "
            f"{values[row, column]!r} for field {levels[column].name!r} in pair {row})"
        )
    if values.shape[0] == 0:
        return np.zeros(values.shape, dtype=np.int8)
    return np.stack([spec.codes(values[:, i]) for i, spec in enumerate(levels)], axis=1)


def with_name_swaps(
    similarities: NDArray[np.floating],
    fields: Sequence[str],
    swapped: Mapping[str, NDArray[np.floating]],
) -> NDArray[np.float32]:
    """Tolerate given name and surname written the wrong way round.

    Agencies sometimes record "Smith John" as given name "smith" and surname
    "john". Pass, for each name field, its *cross* similarity: for
    ``given_name`` the Dice of one record's given name with the other's
    surname, and for ``surname`` the reverse. Each named field then takes the
    higher of its straight and its cross similarity. A field missing in
    either record stays missing: a cross score must not invent a value the
    record lacks.

    Apply this to the candidate pairs *and* to the random pairs, so that u is
    estimated under the same rule (taking a maximum makes agreement by chance
    a little more likely).

    Args:
        similarities: Pairs x fields, NaN for missing.
        fields: The field names, in column order.
        swapped: Cross similarity per pair (NaN where unknown), by field name.

    Returns:
        A copy of ``similarities`` with the named fields raised.

    Raises:
        ValueError: An unknown field, or an array of the wrong length.
    """
    result = np.array(similarities, dtype=np.float32, copy=True)
    for name, cross in swapped.items():
        if name not in fields:
            raise ValueError(
                f"swapped similarities given for unknown field {name!r}; the "
                f"fields are {list(fields)!r}"
            )
        values = np.asarray(cross, dtype=np.float32)
        if values.shape != (result.shape[0],):
            raise ValueError(
                f"swapped similarities of {name!r} must have one value per pair, "
                f"shape ({result.shape[0]},) (got {values.shape})"
            )
        column = fields.index(name)
        straight = result[:, column]
        # fmax ignores a NaN cross score; the where keeps a missing field missing.
        result[:, column] = np.where(
            np.isnan(straight), straight, np.fmax(straight, values)
        )
    return result
