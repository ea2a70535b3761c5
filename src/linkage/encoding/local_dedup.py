"""An agency's own duplicates, found on its own records before anything is sent.

An agency holds its records in the clear, so it can tell which of them are
one person better than the operator can from hardened encodings: a record
without an address and the same person's record with one, a move together
with a typo in the name. Encoding with a vault therefore deduplicates the
file locally. The records are encoded again, field by field and without
hardening, under a random key that lives in memory for this run only, and
the probabilistic method deduplicates them (:mod:`linkage.matching.
probabilistic`: field blocks, u from random pairs, a Fellegi-Sunter model,
average-linkage groups). Nothing of it is sent and the encodings file is
unchanged: the vault files each group's later records under its first one,
as it does for rows sharing every match key, and resolving the results puts
a person's records in one group (:mod:`linkage.encoding.repeats`).

Two things keep it from joining people who are not one person:

* **m is not learnt** (``TrainingSettings(learn_m=False)``): left free, EM
  took every pair of namesakes for one person on a register of names, birth
  date and sex (the demo's benefits register: 3,973 pairs kept, 14 % right)
  and every pair of housemates on a household population.
* **Housemates are told apart** (:data:`GIVEN_NAME`): a pair is joined only
  where both records hold a birth date, alike to within one character, and
  given names that are alike where both hold one. A file without a birth
  date is not deduplicated locally.

When the model doubts itself (EM did not converge, or it took more than
:data:`~linkage.matching.probabilistic.model.MAX_PLAUSIBLE_LAMBDA` of some
block's pairs for matches), no groups are kept; the summary says why.

Measured with ``benchmarks/quality.py`` (``benchmarks/README.md``): FEBRL3
F1 0.9922 -> 0.9962, the demo 0.9519 -> 0.9536 (pairs within one agency:
recall 0.861 -> 0.877, precision 0.997 both), households 0.8545 -> 0.8600.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from linkage.encoding.columns import ColumnValues
from linkage.encoding.encoder import ClkEncoder
from linkage.errors import InputError
from linkage.formats.clkfile import field_segments, segment_list
from linkage.formats.schema import LinkageSchema, schema_from_dict
from linkage.matching.candidates import CandidatePairs
from linkage.matching.grouping import group_records
from linkage.matching.probabilistic.levels import DEFAULT_EDGES
from linkage.matching.probabilistic.link import (
    LinkSettings,
    ProbabilisticLink,
    link_probabilistically,
)
from linkage.matching.probabilistic.model import (
    MAX_PLAUSIBLE_LAMBDA,
    FellegiSunterModel,
    TrainingSettings,
)

__all__ = [
    "BIRTH_DATE",
    "BIRTH_DATE_AT_LEAST",
    "GIVEN_NAME",
    "LocalDuplicates",
    "LocalGroups",
    "local_schema",
    "people",
]

SEGMENT_BITS = 512
"""Bits of each field's filter: as the shipped per-field schemas."""

BIRTH_DATE = "date_of_birth"
GIVEN_NAME = "given_name"
"""The fields that tell two people of one household apart. Surname and
address are shared by housemates, and a father and son may share the given
name too, so a pair is joined only if both records hold a birth date that
agrees to within one character (:data:`BIRTH_DATE_AT_LEAST`), and given
names (where both hold one) at least as alike as the model's "close" level.
A file without a birth date is not deduplicated locally: on a generated
housing register (names and address only, no one recorded twice) the model
joined 115 to 153 pairs of housemates whatever the rule on given names."""

BIRTH_DATE_AT_LEAST = 0.85
"""Dice of two birth dates' positional digits: one of eight differing
gives 0.875, two 0.75."""

_NO_BIRTH_DATE = (
    f"the file holds no {BIRTH_DATE}, which tells two people of one household apart"
)
_KEY_BYTES = 32
# Field-block candidates held at most, half of it by the blocks (about 50
# bytes each with their similarities): a file of millions gets fewer pairs
# per record rather than gigabytes.
_MAX_CANDIDATES = 20_000_000


def local_schema(schema: LinkageSchema) -> LinkageSchema:
    """``schema``'s fields, each in a filter of its own, unhardened."""
    document = dict(schema.raw)
    document["linkage"] = {"segments": {"bits": SEGMENT_BITS}}
    return schema_from_dict(document, source="<local deduplication schema>")


@dataclass(frozen=True)
class LocalGroups:
    """What local deduplication found.

    Attributes:
        group_of: each record's group (a record number; -1 for a record in
            no group of two or more).
        doubt: why no groups were kept, if none were; empty otherwise.
    """

    group_of: npt.NDArray[np.int64]
    doubt: str = ""

    @property
    def records(self) -> int:
        """Records in a group of two or more."""
        return int((self.group_of >= 0).sum())


class LocalDuplicates:
    """Collects a file's records chunk by chunk, then groups its duplicates.

    Example:
        >>> duplicates = LocalDuplicates(schema)  # doctest: +SKIP
        >>> duplicates.add(columns, keep)  # for each chunk  # doctest: +SKIP
        >>> duplicates.groups().group_of  # doctest: +SKIP
    """

    def __init__(self, schema: LinkageSchema, absent: Sequence[str] = ()) -> None:
        held = {f.identifier for f in schema.encoded_features} - set(absent)
        #: Why the file is not deduplicated at all, if it is not.
        self.skipped = "" if BIRTH_DATE in held else _NO_BIRTH_DATE
        self._schema = local_schema(schema)
        # Fresh for every run and never written anywhere: nothing outside
        # this process can make or compare these unhardened filters.
        self._encoder = ClkEncoder(self._schema, secrets.token_bytes(_KEY_BYTES))
        self._segments = field_segments(segment_list(self._schema.segments))
        self._clks: list[npt.NDArray[np.uint8]] = []
        self._count = 0

    def add(
        self, columns: Mapping[str, ColumnValues], keep: npt.NDArray[np.bool_]
    ) -> None:
        """Encode one chunk's records (``columns`` as the CLK encoder takes
        them); only those ``keep`` marks are kept, as the file keeps them."""
        self._count += int(keep.sum())
        if self.skipped:
            return
        encoded = self._encoder.encode(columns, whole_file=False)
        self._clks.append(encoded.clks if keep.all() else encoded.clks[keep])

    def groups(self) -> LocalGroups:
        """The records' groups, in the order they were added."""
        count = self._count
        if self.skipped or count < 2:
            return LocalGroups(np.full(count, -1, dtype=np.int64), self.skipped)
        clks = np.concatenate(self._clks)
        self._clks = [clks]  # The chunks go: one copy of the filters is held.
        party_of = np.zeros(count, dtype=np.int64)
        settings = LinkSettings(
            floor=1.0,
            max_candidates=_MAX_CANDIDATES,
            across=False,
            within=True,
            training=TrainingSettings(learn_m=False),
        )
        try:
            linked = link_probabilistically(
                clks, party_of, self._segments, _no_whole_encoding_pairs, settings
            )
        except InputError as error:  # A step of its own: the file still encodes.
            return LocalGroups(np.full(count, -1, dtype=np.int64), str(error))
        doubt = _doubt(linked.model.model)
        if doubt:
            return LocalGroups(np.full(count, -1, dtype=np.int64), doubt)
        candidates = _told_apart(linked, [segment.name for segment in self._segments])
        labels = group_records(
            party_of, 1, candidates, linked.choice.threshold, dedup=True
        )
        return LocalGroups(_first_of_group(labels))


def _no_whole_encoding_pairs(floor: float) -> CandidatePairs:
    """Candidates come from field blocks alone: comparing every pair's whole
    encoding would take quadratic time on a file of millions."""
    empty = np.zeros(0, dtype=np.int64)
    return CandidatePairs(empty, empty.copy(), np.zeros(0), blocking="none")


def _told_apart(linked: ProbabilisticLink, fields: list[str]) -> CandidatePairs:
    """The candidates, scored 0 where the records may be two people of one
    household (see :data:`GIVEN_NAME`): a birth date missing on either side
    or unlike, or unlike given names."""
    similarity = linked.model.similarities
    birth_date = similarity[:, fields.index(BIRTH_DATE)]
    apart = ~(birth_date >= BIRTH_DATE_AT_LEAST)  # A missing one (NaN) too.
    if GIVEN_NAME in fields:
        apart |= similarity[:, fields.index(GIVEN_NAME)] < DEFAULT_EDGES[1]
    candidates = linked.candidates
    return replace(candidates, score=np.where(apart, 0.0, candidates.score))


def _doubt(model: FellegiSunterModel) -> str:
    """Why the model's groups cannot be trusted, or "" if they can."""
    if not model.converged:
        return f"EM did not converge in {model.iterations} iterations"
    doubtful = [
        prior for _, prior in model.blocked_priors if prior > MAX_PLAUSIBLE_LAMBDA
    ]
    if doubtful:
        return (
            f"the model took {max(doubtful):.0%} of the pairs of some block for "
            f"one person (more than {MAX_PLAUSIBLE_LAMBDA:.0%} is not plausible; "
            "the fields left to tell them apart were too few)"
        )
    return ""


def _first_of_group(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each record's group named by its lowest record number (-1: none)."""
    grouped = labels >= 0
    if not grouped.any():
        return np.full(len(labels), -1, dtype=np.int64)
    first = np.full(int(labels.max()) + 1, len(labels))
    records = np.arange(len(labels))
    np.minimum.at(first, labels[grouped], records[grouped])
    return np.where(grouped, first[np.maximum(labels, 0)], -1).astype(np.int64)


def people(
    first: npt.NDArray[np.intp], group_of: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Each record's person, named by its lowest record number, where two
    records are one person if ``first`` or ``group_of`` (-1: none) says so,
    directly or through others.

    Example:
        >>> people(np.array([0, 1, 1, 3]), np.array([-1, -1, 3, 3]))
        array([0, 1, 1, 1])
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    count = len(first)
    rows = np.arange(count)
    grouped = group_of >= 0
    left = np.concatenate([rows, rows[grouped]])
    right = np.concatenate([first, group_of[grouped]])
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    lowest = np.full(int(component.max()) + 1 if count else 0, count, dtype=np.intp)
    np.minimum.at(lowest, component, rows)
    return np.asarray(lowest[component], dtype=np.intp)
