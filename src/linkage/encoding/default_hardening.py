"""The shipped default hardening, for any schema: how many diffusion taps a
CLK needs for the fields it holds.

A CLK of few identifying fields is easier to predict from plaintext: the
linear attacker of ``linkage privacy-check`` (50 known pairs, 1,000 distinct
people of the demo generator, full overlap; ``benchmarks/README.md``)
re-identified, with the CLK diffused as long as itself (every run, each under
a fresh secret):

=========================================  ==================  ==============
fields in the CLK                          4 taps              8 taps
=========================================  ==================  ==============
given name, surname, birth date            4.3, 5.4 %          0.3-0.8 %
... and sex                                3.7, 6.9 %          0.3-0.6 %
... and postcode                           1.2-1.8 %           0.0, 0.1 %
... and street (the demo's six)            0.4, 0.5 %
=========================================  ==================  ==============

and the demo's health records with one field left empty, 4-tap CLK and the
views: without sex 0.3, 0.5 %; without the street 0.9, 1.5 %; without the
birth date 1.8, 2.4 %. A field of a few categories (an ``enum``, such as
sex) tells people apart too little to count: the bar falls between four and
five identifying fields. So a CLK of five or more keeps the default's 4
taps (more cost FEBRL several points of F1), and one of fewer gets 8.

Beside views, the CLK of every field gets 5 taps and the views 10: each is
one more measurement of the person that the linear attacker adds up. On a
clean list of the demo's six fields (``privacy_vs_quality.py --data
"fakename-like, 6 fields" --attack linear``, a fresh secret each run) it
took with 50 known pairs, on average over the runs: the CLK alone (4 taps)
0.57 % (8 runs, 0.3-1.4 %); that CLK beside views of 10 taps 0.99 % (12
runs, 0.3-1.7 %: at the bar); beside views of 12 taps 0.74 %, of 14 taps
0.55 % (16 runs each); a CLK of 5 taps beside views of 10 taps 0.47 % (12
runs, 0.1-0.95 %), of 6 taps 0.26 %. A single run scatters by about 0.4
points around its mean. Measured on the 5,000-person benchmarks, the fifth
tap costs the demo 0.5 points of F1 (0.896 -> 0.891) and the households
nothing (0.812); two taps more on the views cost 1.4 and 1.3. A CLK without
views keeps its taps: FEBRL, whose files no view fits, is unchanged.

The rest of the default is named fields: the views without the address and
without the birth date, for agencies that do not hold those, and a match
key of both names' Soundex codes and the birth date (:data:`SHIPPED_BLOCK`, what
``configs/schemas/demo.json`` carries). A schema gets those of them whose
fields it has (:func:`fitted_block`), so ``linkage schema harden`` writes
for a schema of the demo's field names what the benchmarks measure as the
shipped default.

A field that identifies a person on its own wherever it is held (a national
insurance or social security number) is worth a match key too, but only
the agencies know which field that is: named as an identifier, it gets one
key with each of :data:`IDENTIFIER_PARTNERS` the schema has. The partner
keeps a typo in the number from linking a stranger who holds the mistyped
number. On FEBRL (``soc_sec_id``) its three keys took the shipped default's
pairwise F1 from 0.963 to 0.987 on FEBRL3 and 0.993 to 0.996 on FEBRL4
(benchmarks/README.md, identifier keys).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from linkage.formats.extension import WHOLE_CLK, key_fields
from linkage.formats.schema import EnumFormat, Feature, LinkageSchema

__all__ = [
    "CLK_TAPS_BESIDE_VIEWS",
    "DEFAULT_TAPS",
    "FEW_FIELDS_TAPS",
    "FIELDS_FOR_DEFAULT_TAPS",
    "IDENTIFIER_PARTNERS",
    "SHIPPED_BLOCK",
    "VIEW_TAPS",
    "default_block",
    "default_taps",
    "few_field_warnings",
    "fitted_block",
    "identifying",
    "identifying_in",
]

DEFAULT_TAPS: Final = 4
FEW_FIELDS_TAPS: Final = 8
FIELDS_FOR_DEFAULT_TAPS: Final = 5  # Identifying fields (not enums).
VIEW_TAPS: Final = 10
# Beside views the CLK of every field is one measurement of several, and
# needs a tap more (see the module's docstring).
CLK_TAPS_BESIDE_VIEWS: Final = 5

# The shipped default's linkage block for the demo's six fields; its
# diffusion length and taps are fitted to each schema.
SHIPPED_BLOCK: Final[Mapping[str, Any]] = {
    "hardening": {"diffusion": {"taps": CLK_TAPS_BESIDE_VIEWS, "length": 1024}},
    "views": {
        "without_address": ["given_name", "surname", "date_of_birth", "sex"],
        "without_birth": ["given_name", "surname", "postcode", "street"],
    },
    "view_taps": VIEW_TAPS,
    # Names sounding alike keep the key through a typo; the birth date keeps
    # namesakes apart. A key of one name and the birth date found more on
    # small populations but joins ever more strangers as they grow
    # (benchmarks/README.md, "Names sounding alike in the key").
    "match_keys": [["soundex(given_name)", "soundex(surname)", "date_of_birth"]],
    # Between agencies that cannot share that key (one holds no birth date),
    # the names, or one name and the address (a typo in the other), where
    # unique to one person in each agency's file, and each only where this
    # linkage finds it reliable; between agencies that can, one name and the
    # birth date, for records whose other name sounds different (a typo, a
    # changed surname) (linkage.matching.unique_keys; benchmarks/README.md,
    # "Unique keys: the names where nothing else is shared").
    "unique_keys": [
        ["given_name", "surname"],
        ["given_name", "postcode", "street"],
        ["surname", "postcode", "street"],
        ["given_name", "date_of_birth"],
        ["surname", "date_of_birth"],
    ],
    # Given name and surname swapped keep their key (FEBRL swaps them, as do
    # people writing names from other cultures).
    "either_order": ["given_name", "surname"],
}
# Each field named as a person's identifier gets a match key with each of these.
IDENTIFIER_PARTNERS: Final = ("date_of_birth", "surname", "postcode")


def identifying(features: Iterable[Feature]) -> int:
    """How many of ``features`` tell people apart: all but enums."""
    return sum(not isinstance(feature.format, EnumFormat) for feature in features)


def identifying_in(schema: LinkageSchema, names: Iterable[str]) -> int:
    """How many of the schema's fields ``names`` tell people apart."""
    by_name = {feature.identifier: feature for feature in schema.features}
    return identifying(by_name[name] for name in names)


def default_taps(fields: int) -> int:
    """The taps the shipped default diffuses a CLK of ``fields`` identifying
    fields (:func:`identifying`) with."""
    return DEFAULT_TAPS if fields >= FIELDS_FOR_DEFAULT_TAPS else FEW_FIELDS_TAPS


def default_block(
    schema: LinkageSchema, *, views: bool = True, identifiers: Sequence[str] = ()
) -> dict[str, Any]:
    """The shipped default's ``linkage`` block for a plain clkhash schema:
    :data:`SHIPPED_BLOCK` fitted to it (:func:`fitted_block`)."""
    return fitted_block(
        SHIPPED_BLOCK,
        schema.l,
        schema.encoded_features,
        views=views,
        identifiers=identifiers,
    )


def fitted_block(
    block: Mapping[str, Any],
    length: int,
    features: Sequence[Feature],
    *,
    views: bool = True,
    identifiers: Sequence[str] = (),
) -> dict[str, Any]:
    """``block`` (a schema's ``linkage`` block) for a CLK of ``length`` bits
    of ``features``: diffused as long as the CLK with :func:`default_taps`
    taps (at least :data:`CLK_TAPS_BESIDE_VIEWS` beside views), with those of
    its views that hold some but not all of the fields and no other (none
    without ``views``), and its match keys of those
    fields, then one key of each of ``identifiers`` with each of
    :data:`IDENTIFIER_PARTNERS` there is.

    Raises:
        ValueError: an identifier is not one of the fields, or is repeated.
    """
    fitted = copy.deepcopy(dict(block))
    fitted["hardening"]["diffusion"]["length"] = length
    fitted["hardening"]["diffusion"]["taps"] = default_taps(identifying(features))
    fields = {feature.identifier for feature in features}
    fitting_views = {
        name: members
        for name, members in fitted.pop("views", {}).items()
        if views and set(members) < fields
    }
    if fitting_views:
        fitted["views"] = fitting_views
        diffusion = fitted["hardening"]["diffusion"]
        diffusion["taps"] = max(diffusion["taps"], CLK_TAPS_BESIDE_VIEWS)
    else:
        fitted.pop("view_taps", None)  # It applies to views only.
    keys = [
        key for key in fitted.pop("match_keys", []) if set(key_fields(key)) <= fields
    ]
    keys += _identifier_keys(identifiers, fields)
    if keys:
        fitted["match_keys"] = keys
    unique = [
        key for key in fitted.pop("unique_keys", []) if set(key_fields(key)) <= fields
    ]
    if unique and keys:  # Only a match key can show them reliable.
        fitted["unique_keys"] = unique
    if not set(fitted.get("either_order", ())) <= fields:
        fitted.pop("either_order")
    return fitted


def _identifier_keys(identifiers: Sequence[str], fields: set[str]) -> list[list[str]]:
    """One key per identifier and partner field the schema has."""
    if len(set(identifiers)) < len(identifiers):
        raise ValueError(f"an identifier is named twice: {', '.join(identifiers)}")
    keys = []
    for identifier in identifiers:
        if identifier not in fields:
            raise ValueError(
                f"the identifier {identifier!r} is not one of the schema's "
                f"encoded fields ({', '.join(sorted(fields))})"
            )
        keys += [
            [identifier, partner]
            for partner in IDENTIFIER_PARTNERS
            if partner in fields and partner != identifier
        ]
    return keys


def few_field_warnings(schema: LinkageSchema) -> list[str]:
    """One line for each CLK (or view) of fewer identifying fields than
    :data:`FIELDS_FOR_DEFAULT_TAPS` diffused with fewer than
    :data:`FEW_FIELDS_TAPS` taps, and for a CLK of every field diffused with
    fewer than :data:`CLK_TAPS_BESIDE_VIEWS` beside views. None for plain
    CLKs, which every attacker breaks whatever their fields and which a
    schema asks for on purpose (to link with clkhash files), nor for
    per-field filters, which are judged on their own (README, threat
    model)."""
    if schema.extension.segments is not None:
        return []
    warnings = []
    for segment in schema.segments:
        fields = identifying_in(schema, segment.features)
        diffusion = (segment.hardening or schema.extension.hardening).diffusion
        if diffusion is None:
            continue
        taps = diffusion.taps
        if _too_few_beside_views(schema, segment.name, fields, taps):
            warnings.append(
                f"the CLK is diffused with {taps} taps beside views: each view is "
                "one more measurement of the person, and the linear attacker took "
                f"1 % of a clean list of six fields until the CLK had "
                f"{CLK_TAPS_BESIDE_VIEWS} taps"
            )
        if fields >= FIELDS_FOR_DEFAULT_TAPS or taps >= FEW_FIELDS_TAPS:
            continue
        what = "the CLK" if segment.name == WHOLE_CLK else f"the view {segment.name}"
        warnings.append(
            f"{what} holds {_count(fields)} that tell people apart and is diffused "
            f"with {taps} taps: CLKs of fewer than {FIELDS_FOR_DEFAULT_TAPS} such "
            f"fields need "
            f"{FEW_FIELDS_TAPS} taps to keep the linear attacker at about 1 % "
            "(`linkage schema harden` writes the default block for a plain schema)"
        )
    return warnings


def _too_few_beside_views(
    schema: LinkageSchema, segment: str, fields: int, taps: int
) -> bool:
    """A CLK of every field of many fields, beside views, under
    :data:`CLK_TAPS_BESIDE_VIEWS` taps (one of few fields has its own
    warning)."""
    return (
        segment == WHOLE_CLK
        and bool(schema.extension.views)
        and fields >= FIELDS_FOR_DEFAULT_TAPS
        and taps < CLK_TAPS_BESIDE_VIEWS
    )


def _count(fields: int) -> str:
    return "1 field" if fields == 1 else f"{fields} fields"
