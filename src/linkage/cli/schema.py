"""``linkage schema``: check a linkage schema before agencies encode with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from linkage.atomic import private_text_output
from linkage.cli.options import existing_file
from linkage.encoding.default_hardening import (
    SHIPPED_BLOCK,
    default_block,
    few_field_warnings,
)
from linkage.errors import SchemaError
from linkage.formats.extension import beside_a_match_key, key_fields
from linkage.formats.schema import (
    BitsPerFeature,
    BitsPerToken,
    Comparison,
    Feature,
    LinkageSchema,
    NgramComparison,
    NumericComparison,
    Strategy,
    load_schema,
    schema_from_dict,
)


@click.group()
def schema() -> None:
    """Work with linkage schemas (clkhash linkage schema v3)."""


@schema.command()
@click.argument("schema_path", metavar="SCHEMA", type=existing_file)
def check(schema_path: Path) -> None:
    """Validate SCHEMA and describe how it encodes each feature.

    Every problem is reported at once, with its JSON path. Keys that clkhash
    would silently ignore (such as ``xorFolds``) are errors here. The
    fingerprint printed last is what every encodings file made with this schema
    carries; agencies compare it to be sure they use the same schema.
    """
    loaded = load_schema(schema_path)
    click.echo(describe(loaded))
    for warning in few_field_warnings(loaded):
        click.echo(f"Warning: {warning}.", err=True)


@schema.command()
@click.argument("schema_path", metavar="SCHEMA", type=existing_file)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the hardened schema.",
)
@click.option(
    "--identifier",
    "identifiers",
    multiple=True,
    metavar="FIELD",
    help="A field that identifies a person on its own wherever it is held "
    "(a social security number): it gets match keys with the birth date, the "
    "surname and the postcode, those the schema has. Repeat for several.",
)
def harden(schema_path: Path, out: Path, identifiers: tuple[str, ...]) -> None:
    """Write SCHEMA with the shipped default's hardening added.

    SCHEMA is a plain clkhash v3 schema (no ``linkage`` block). Its CLK is
    diffused as long as itself with 4 taps when it holds five fields or more
    that tell people apart (an enum such as sex does not count), and with 8
    when it holds fewer: a CLK of few fields is easier to predict from
    plaintext. The shipped default's views (for agencies without the
    address or the birth date; beside them the CLK gets at least 5 taps) and
    its match key (both names' Soundex codes and the birth date) are added
    where SCHEMA has their fields, under the demo's field names; with both
    names, they are taken in either order (one hashing key in the CLKs,
    sorted in the key).
    Each ``--identifier`` adds a match key of that field with each of the
    birth date, the surname and the postcode the schema has: records
    agreeing exactly on one of those pairs are linked whatever else differs.
    Every agency must encode with the same hardened file.
    """
    loaded = load_schema(schema_path)
    if "linkage" in loaded.raw:
        raise SchemaError(
            f"{schema_path} already has a 'linkage' block",
            hint="Edit that block, or start from the plain clkhash schema.",
        )
    try:
        block = default_block(loaded, identifiers=identifiers)
    except ValueError as error:
        raise SchemaError(
            f"--identifier: {error}", hint="Name a field of the schema, once."
        ) from None
    document = {**loaded.raw, "linkage": block}
    hardened = schema_from_dict(document)
    with private_text_output(out) as file:
        file.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    click.echo(
        f"Wrote {out}: {_describe_block(document['linkage'], loaded)}. "
        f"Fingerprint: {hardened.fingerprint}"
    )


def _describe_block(block: dict[str, Any], loaded: LinkageSchema) -> str:
    """What a default block adds, in a line: taps, views and match keys."""
    taps = block["hardening"]["diffusion"]["taps"]
    parts = [
        f"the CLK of {len(loaded.encoded_features)} fields diffused with {taps} taps"
    ]
    views = block.get("views", {})
    parts.append(
        f"views {', '.join(views)} ({block['view_taps']} taps)"
        if views
        else "no view (its fields hold none of the shipped views)"
    )
    keys = [" + ".join(key) for key in block.get("match_keys", [])]
    parts.append(
        f"match key{'s' if len(keys) > 1 else ''} {'; '.join(keys)}"
        if keys
        else f"no match key (it lacks one of {', '.join(_shipped_key_fields())})"
    )
    unique = [" + ".join(key) for key in block.get("unique_keys", [])]
    if unique:
        parts.append(f"unique key{'s' if len(unique) > 1 else ''} {', '.join(unique)}")
    either = block.get("either_order")
    if either:
        parts.append(
            f"{' and '.join(either)} in either order (one hashing key for both "
            "in the CLKs, sorted in the match key)"
        )
    return "; ".join(parts)


def _shipped_key_fields() -> list[str]:
    """The fields a schema needs for the shipped match key(s), in order."""
    keys = SHIPPED_BLOCK["match_keys"]
    return list(dict.fromkeys(field for key in keys for field in key_fields(key)))


def describe(loaded: LinkageSchema) -> str:
    """A human-readable summary of a valid schema."""
    folds = f", {loaded.xor_folds} XOR fold(s)" if loaded.xor_folds else ""
    lines = [
        f"Valid linkage schema: {loaded.l}-bit CLKs{folds}, HKDF-{loaded.kdf_hash}, "
        f"{len(loaded.features)} features ({len(loaded.encoded_features)} encoded).",
    ]
    lines.extend(f"  {_describe_feature(f)}" for f in loaded.features)
    if loaded.extension.segments is not None:
        # The operator sees each of these filters on its own: say which exist.
        shared = (
            "; a group's fields share hash keys, so a value sets the same bits "
            "in any of them"
            if loaded.extension.segments.shared_keys
            else ""
        )
        lines.append(
            f"Per-field encodings ({loaded.clk_length} bits), one filter per "
            f"group{shared}:"
        )
        lines.extend(
            f"  {segment.name}: {', '.join(segment.features)} ({segment.clk_bits} bits)"
            for segment in loaded.segments
        )
    hardening = loaded.extension.hardening.describe()
    if hardening:
        scope = "each filter" if loaded.extension.segments else "the CLK"
        lines.append(f"Hardening ({scope}; {loaded.clk_length}-bit encodings):")
        lines.extend(f"  {step}" for step in hardening)
    lines.extend(_describe_views_and_keys(loaded))
    lines.append(f"Fingerprint: {loaded.fingerprint}")
    return "\n".join(lines)


def _describe_views_and_keys(loaded: LinkageSchema) -> list[str]:
    """What each record carries besides its CLK, and which names may swap:
    the operator sees all of it, so the check says it."""
    extension = loaded.extension
    lines = []
    if extension.views:
        taps = extension.view_hardening.diffusion
        diffused = f", diffused with {taps.taps} taps" if taps else ""
        lines.append(f"Views (each one more CLK per record{diffused}):")
        lines.extend(f"  {name}: {', '.join(held)}" for name, held in extension.views)
    if extension.match_keys:
        lines.append("Match keys (a keyed hash each; equal keys join two records):")
        lines.extend(f"  {' + '.join(key)}" for key in extension.match_keys)
    if extension.unique_keys:
        lines.append(
            "Unique keys (written once per person where no other person in the "
            "file holds the values, random elsewhere; used between agencies "
            "sharing no match key, or, beside a match key, for records of "
            "agencies that can share it but do not):"
        )
        lines.extend(
            f"  {' + '.join(key)}"
            + (
                " (beside a match key)"
                if beside_a_match_key(key, extension.match_keys)
                else ""
            )
            for key in extension.unique_keys
        )
    if extension.either_order is not None:
        first, second = extension.either_order
        lines.append(
            f"{first} and {second} in either order (one hashing key in the CLKs, "
            "sorted in the match keys)"
        )
    return lines


def _describe_feature(feature: Feature) -> str:
    if feature.ignored:
        return f"{feature.identifier}: ignored"
    parts = [
        type(feature.format).__name__.removesuffix("Format").lower(),
        _describe_comparison(feature.comparison),
        _describe_strategy(feature.strategy),
        feature.hash,
    ]
    if feature.missing_value is not None:
        parts.append(f"missing value {feature.missing_value.sentinel!r}")
    return f"{feature.identifier}: {', '.join(parts)}"


def _describe_comparison(comparison: Comparison | None) -> str:
    if isinstance(comparison, NgramComparison):
        positional = "positional " if comparison.positional else ""
        return f"{positional}{comparison.n}-grams"
    if isinstance(comparison, NumericComparison):
        return f"numeric within {comparison.threshold_distance}"
    return "exact"


def _describe_strategy(strategy: Strategy | None) -> str:
    if isinstance(strategy, BitsPerToken):
        return f"{strategy.k} bits per token"
    if isinstance(strategy, BitsPerFeature):
        return f"{strategy.bits} bits per feature"
    return "no strategy"
