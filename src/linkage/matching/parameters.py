"""What a linkage fixed: the numbers that decide which pairs link.

A full run chooses them (the threshold from the scores, the view shifts, the
candidate floor from the scores of unrelated records); an incremental update
(:mod:`linkage.matching.standing`) keeps them, so that a change set is judged
by the same rule as the records already linked, and a full run given them
back groups the same records the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from linkage.errors import InputError
from linkage.formats.extension import MAX_KEYS

__all__ = ["LinkageParameters"]

Solver = Literal["greedy", "optimal"]


@dataclass(frozen=True)
class LinkageParameters:
    """The rule a linkage applied.

    Attributes:
        threshold: the Dice threshold (after view shifts) a link must reach.
        floor: the lowest score a pair was gathered at as a candidate (below
            the threshold with dedup: average linkage weighs such pairs too).
        shifts: per view other than the whole CLK, what its scores were
            shifted by so that one threshold applies to every pair.
        dedup: whether records within a party were grouped too.
        solver: for two parties without dedup, greedy or optimal one-to-one.
        missing: with dedup, the score a pair not gathered as a candidate
            counts as in average linkage: the median score of random pairs
            (0 in parameters written before it was kept).
        unique_keys: the unique keys (by place among them) whose pairs
            between parties that share no match key were added
            (:mod:`linkage.matching.unique_keys`; none in parameters written
            before them, every one where one decision covered them all).
    """

    threshold: float
    floor: float
    shifts: Mapping[str, float] = field(default_factory=dict)
    dedup: bool = False
    solver: Solver = "greedy"
    missing: float = 0.0
    unique_keys: tuple[int, ...] = ()

    def document(self) -> dict[str, Any]:
        """As JSON-ready data (what :meth:`from_document` reads back)."""
        return {
            "threshold": self.threshold,
            "floor": self.floor,
            "shifts": dict(self.shifts),
            "dedup": self.dedup,
            "solver": self.solver,
            "missing": self.missing,
            "unique_keys": list(self.unique_keys),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> LinkageParameters:
        """Read :meth:`document`'s output; a missing or odd value is an
        :class:`~linkage.errors.InputError` naming it."""
        try:
            threshold = float(document["threshold"])
            floor = float(document["floor"])
            shifts = {str(k): float(v) for k, v in dict(document["shifts"]).items()}
            dedup = bool(document["dedup"])
            solver = str(document["solver"])
            # Parameters written before it was kept counted missing pairs 0.
            missing = float(document.get("missing", 0.0))
            unique_keys = _unique_keys(document.get("unique_keys", []))
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"The linkage parameters are incomplete or malformed ({error})",
                hint="They are written by a full run; run one again.",
            ) from None
        if solver not in ("greedy", "optimal"):
            raise InputError(f"Unknown solver {solver!r} in the linkage parameters")
        if not 0 < floor <= threshold <= 1:
            raise InputError(
                f"The linkage parameters' floor {floor} and threshold {threshold} "
                "do not fit together"
            )
        if not 0 <= missing < threshold:
            raise InputError(
                f"The linkage parameters' missing-pair score {missing} is not "
                f"between 0 and the threshold {threshold}"
            )
        return cls(threshold, floor, shifts, dedup, solver, missing, unique_keys)  # type: ignore[arg-type]


def _unique_keys(value: object) -> tuple[int, ...]:
    """The unique keys used, from a list of places or, as written when one
    decision covered them all, a bool."""
    if isinstance(value, bool):
        return tuple(range(MAX_KEYS)) if value else ()
    if not isinstance(value, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n < MAX_KEYS
        for n in value
    ):
        raise ValueError(f"unique_keys {value!r} is not a list of key places")
    return tuple(value)
