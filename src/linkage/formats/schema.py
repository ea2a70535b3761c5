"""The linkage schema: clkhash linkage schema v3 (v2 is upgraded on load).

This module is the one place that reads, upgrades, validates and fingerprints a
schema. Validation follows clkhash 0.18.3 so that a schema we accept encodes
exactly as clkhash would encode it, with one deliberate difference: a key that
clkhash would silently ignore (``xorFolds`` instead of ``xor_folds``, a typo in
a feature, ``format`` on an ignored feature) is an error here, because an
agency that believes it set an option it did not set will never link.

Every problem in the file is collected and reported at once, each with the JSON
path of the key (``features[2].hashing.strategy``) and what to do.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from linkage.errors import Problem, SchemaError
from linkage.formats.extension import (
    WHOLE_CLK,
    Extension,
    Segment,
    max_taps,
    parse_extension,
)
from linkage.formats.jsondoc import JSONTooDeepError, parse_json

CaseRule = Literal["upper", "lower", "mixed"]
HashName = Literal["doubleHash", "blakeHash"]
STRING_ENCODINGS = ("ascii", "utf-8", "utf-16", "utf-32")

#: The HKDF ``info`` labels of linkage's own keys derived from the secret.
#: They are defined here, beside the check that refuses a schema whose info
#: starts with one of them: HKDF under the same salt and info would make a
#: feature's hashing key equal the public key-check value or a hardening key.
KEY_CHECK_LABEL = b"linkage/key-check-value/"
HARDENING_LABEL = b"linkage/hardening/"
MATCH_KEY_LABEL = b"linkage/match-key/"
INTERNAL_INFO_LABELS = (KEY_CHECK_LABEL, HARDENING_LABEL, MATCH_KEY_LABEL)


@dataclass(frozen=True)
class StringFormat:
    """Free text, validated by a pattern or by case and length rules."""

    encoding: str = "utf-8"
    case: CaseRule = "mixed"
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class IntegerFormat:
    """A base-10 integer, written in any way Python's ``int()`` accepts."""

    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class DateFormat:
    """A date in a ``strptime`` format; encoded as ``YYYYMMDD``."""

    format: str


@dataclass(frozen=True)
class EnumFormat:
    """One of a fixed set of values."""

    values: frozenset[str]


ValueFormat = StringFormat | IntegerFormat | DateFormat | EnumFormat


@dataclass(frozen=True)
class NgramComparison:
    """Tokens are the n-grams of the value, optionally tagged with position."""

    n: int
    positional: bool = False


@dataclass(frozen=True)
class ExactComparison:
    """The whole value is one token."""


@dataclass(frozen=True)
class NumericComparison:
    """Tokens are a neighbourhood of the number, so close numbers share tokens."""

    threshold_distance: float
    resolution: int
    fractional_precision: int = 0

    @property
    def distance_interval(self) -> int:
        """The grid step in scaled integer units, as clkhash computes it."""
        scale: int = 10**self.fractional_precision
        return round(self.threshold_distance * scale)


Comparison = NgramComparison | ExactComparison | NumericComparison


@dataclass(frozen=True)
class BitsPerToken:
    """Every token sets ``k`` bits."""

    k: int


@dataclass(frozen=True)
class BitsPerFeature:
    """The feature sets ``bits`` bits in total, spread over its tokens."""

    bits: int


Strategy = BitsPerToken | BitsPerFeature


@dataclass(frozen=True)
class MissingValue:
    """A sentinel that marks a missing value, and what to encode instead."""

    sentinel: str
    replace_with: str


@dataclass(frozen=True)
class Feature:
    """One column of the records, in schema order.

    An ignored feature has no format or hashing, but still takes a key slot.
    """

    identifier: str
    ignored: bool = False
    format: ValueFormat | None = None
    comparison: Comparison | None = None
    strategy: Strategy | None = None
    hash: HashName = "blakeHash"
    prevent_singularity: bool = False
    missing_value: MissingValue | None = None

    @property
    def encoding(self) -> str:
        """The text encoding used to turn tokens into bytes before hashing."""
        if isinstance(self.format, StringFormat):
            return self.format.encoding
        return "utf-8"


@dataclass(frozen=True)
class LinkageSchema:
    """A validated linkage schema, ready to encode with.

    Attributes:
        l: the CLK length in bits, after XOR folding.
        xor_folds: how many times the filter is folded in half.
        raw: the schema as a v3 dictionary (v2 input is upgraded).
        fingerprint: SHA-256 of the canonical JSON of ``raw`` (and, with a
            ``linkage`` block, of what this version makes of it); every
            encodings file carries it so files from different schemas, or
            from encoders that read the block differently, are never mixed.
        extension: the ``linkage`` block (hardening); empty for plain clkhash.
    """

    l: int  # noqa: E741 - the name clkhash and the literature use.
    xor_folds: int
    kdf_hash: Literal["SHA256", "SHA512"]
    kdf_salt: bytes | None
    kdf_info: bytes | None
    key_size: int
    features: tuple[Feature, ...]
    raw: Mapping[str, Any] = field(repr=False)
    extension: Extension = field(default_factory=Extension)
    fingerprint: str = ""

    @property
    def clk_length(self) -> int:
        """Bits per encoding as written, after segments and hardening."""
        return sum(segment.clk_bits for segment in self.segments)

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The filters every encoding is made of: the CLK, then one CLK per
        view, unless the ``linkage`` block asks for one filter per field or
        group of fields."""
        hardening = self.extension.hardening
        layout = self.extension.segments
        if layout is None:
            names = tuple(f.identifier for f in self.encoded_features)
            clk_bits = hardening.output_length(self.l)
            own = self.extension.view_hardening
            views = [
                Segment(name, members, self.hash_length, clk_bits, hardening=own)
                for name, members in self.extension.views
            ]
            whole = Segment(WHOLE_CLK, names, self.hash_length, clk_bits)
            return (whole, *views)
        grouped = {name for _, members in layout.groups for name in members}
        groups = list(layout.groups) + [
            (f.identifier, (f.identifier,))
            for f in self.encoded_features
            if f.identifier not in grouped
        ]
        hash_bits = layout.bits * (1 << self.xor_folds)
        clk_bits = hardening.output_length(layout.bits)
        return tuple(
            Segment(name, members, hash_bits, clk_bits, layout.shared_keys)
            for name, members in groups
        )

    @property
    def hash_length(self) -> int:
        """Bits in the filter before folding: ``l * 2**xor_folds``."""
        return self.l * (1 << self.xor_folds)

    @property
    def encoded_features(self) -> tuple[Feature, ...]:
        """The features that contribute to the CLK (not ignored)."""
        return tuple(f for f in self.features if not f.ignored)

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every feature identifier in schema order, ignored ones included."""
        return tuple(f.identifier for f in self.features)


def load_schema(path: Path) -> LinkageSchema:
    """Read and validate a linkage schema file.

    Raises:
        SchemaError: the file is missing, not JSON, or not a valid schema; the
            message lists every problem with its location.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(
            f"Schema file {source} does not exist.",
            hint="Pass the path of the linkage schema agreed by the agencies.",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SchemaError(f"Cannot read schema file {source}: {error}") from None
    try:
        document = parse_json(text)
    except json.JSONDecodeError as error:
        raise SchemaError(
            f"Schema file {source} is not valid JSON: {error.msg} "
            f"at line {error.lineno}, column {error.colno}."
        ) from None
    except JSONTooDeepError as error:
        raise SchemaError(f"Schema file {source} cannot be read: {error}.") from None
    return schema_from_dict(document, source=source)


def schema_from_dict(document: Any, *, source: str = "<schema>") -> LinkageSchema:
    """Validate a schema given as a parsed JSON document (v2 or v3).

    Raises:
        SchemaError: with every problem found, each naming its JSON path.
    """
    checker = _Checker(source)
    if not isinstance(document, dict):
        checker.fail("", "the top level must be a JSON object")
        checker.raise_if_any()
    version = document.get("version")
    if version == 2:
        document = _upgrade_v2(document, checker)
    elif version != 3 or isinstance(version, bool):
        checker.fail(
            "version",
            f"must be 3 (or 2, which is upgraded), got {version!r}; "
            "schema version 1 files can be upgraded with clkhash first",
        )
        checker.raise_if_any()
    schema = _parse_v3(document, checker)
    checker.raise_if_any()
    assert schema is not None
    return schema


#: What this version makes of a ``linkage`` block, bumped whenever an option
#: comes to change the encodings without its text changing, so that files
#: from before and after never share a fingerprint. 2: ``either_order`` also
#: hashes the two fields under one key in the CLK (2026-12-07).
LINKAGE_BLOCK_MEANING = 2


def schema_fingerprint(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a schema document; with a ``linkage``
    block, of that and the block's :data:`LINKAGE_BLOCK_MEANING` too. A plain
    clkhash schema's fingerprint never changes."""
    digest = hashlib.sha256(canonical_json(document))
    if "linkage" in document:
        digest.update(f"\nlinkage block meaning {LINKAGE_BLOCK_MEANING}".encode())
    return digest.hexdigest()


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Serialise a schema the one way its fingerprint is computed over."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


class _Checker:
    """Collects schema problems so they are all reported together."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        where = path or "(top level)"
        self.problems.append(Problem(f"{where}: {message}", source=self.source))

    def raise_if_any(self) -> None:
        if self.problems:
            count = len(self.problems)
            raise SchemaError(
                f"Schema {self.source} is not valid ({count} problem"
                f"{'s' if count != 1 else ''}):",
                self.problems,
                hint="Fix the schema and run `linkage schema check` again.",
            )

    def keys(
        self,
        obj: Mapping[str, Any],
        path: str,
        allowed: set[str],
        renames: Mapping[str, str] | None = None,
    ) -> None:
        """Reject keys clkhash would ignore, suggesting the key that works."""
        for key in obj:
            if key in allowed:
                continue
            fix = (renames or {}).get(key)
            if fix:
                self.fail(
                    _join(path, key),
                    f"clkhash ignores '{key}'; rename it to '{fix}'",
                )
            else:
                options = ", ".join(sorted(allowed))
                self.fail(
                    _join(path, key),
                    f"unknown key (clkhash would ignore it); allowed here: {options}",
                )

    def object(self, value: Any, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.fail(path, f"must be a JSON object, got {_kind(value)}")
        return None

    def integer(
        self, obj: Mapping[str, Any], key: str, path: str, minimum: int
    ) -> int | None:
        value = obj.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema, and so clkhash, counts 2.0 as 2.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(_join(path, key), f"must be an integer, got {value!r}")
            return None
        if value < minimum:
            self.fail(_join(path, key), f"must be at least {minimum}, got {value}")
            return None
        return value

    def string(self, obj: Mapping[str, Any], key: str, path: str) -> str | None:
        value = obj.get(key)
        if not isinstance(value, str):
            self.fail(_join(path, key), f"must be a string, got {_kind(value)}")
            return None
        return value

    def boolean(
        self, obj: Mapping[str, Any], key: str, path: str, default: bool
    ) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.fail(_join(path, key), f"must be true or false, got {value!r}")
            return default
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(value), repr(value))


def _upgrade_v2(document: dict[str, Any], checker: _Checker) -> dict[str, Any]:
    """Turn a v2 schema into v3 the way clkhash does (strategy and ngram keys)."""
    upgraded = copy.deepcopy(document)
    upgraded["version"] = 3
    features = upgraded.get("features")
    if not isinstance(features, list):
        return upgraded
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("ignored", False):
            continue
        hashing = feature.get("hashing")
        path = f"features[{index}].hashing"
        if not isinstance(hashing, dict) or "ngram" not in hashing:
            checker.fail(path, "a v2 feature needs 'hashing' with 'ngram'")
            continue
        strategy = hashing.get("strategy")
        if isinstance(strategy, dict):
            if "k" in strategy:
                strategy["bitsPerToken"] = strategy.pop("k")
            elif "numBits" in strategy:
                strategy["bitsPerFeature"] = strategy.pop("numBits")
        hashing["comparison"] = {
            "type": "ngram",
            "n": hashing.pop("ngram"),
            "positional": hashing.pop("positional", False),
        }
    return upgraded


def _parse_v3(document: dict[str, Any], checker: _Checker) -> LinkageSchema | None:
    checker.keys(document, "", {"version", "clkConfig", "features", "linkage"})
    config = checker.object(document.get("clkConfig"), "clkConfig")
    features_doc = document.get("features")
    if not isinstance(features_doc, list) or not features_doc:
        checker.fail("features", "must be a non-empty list of features")
        features_doc = []
    if config is None:
        return None
    checker.keys(
        config, "clkConfig", {"l", "kdf", "xor_folds"}, {"xorFolds": "xor_folds"}
    )
    length = checker.integer(config, "l", "clkConfig", 1)
    folds = 0
    if "xor_folds" in config:
        folds = checker.integer(config, "xor_folds", "clkConfig", 0) or 0
    kdf = _parse_kdf(config.get("kdf"), checker)
    features = [
        _parse_feature(item, f"features[{index}]", checker)
        for index, item in enumerate(features_doc)
    ]
    _check_identifiers(features, checker)
    encoded = [f for f in features if f is not None and not f.ignored]
    extension = parse_extension(
        document,
        [f.identifier for f in encoded],
        checker.fail,
        text_ids=[f.identifier for f in encoded if isinstance(f.format, StringFormat)],
    )
    if length is None or kdf is None or checker.problems:
        return None
    schema = LinkageSchema(
        l=length,
        xor_folds=folds,
        kdf_hash=kdf[0],
        kdf_salt=kdf[1],
        kdf_info=kdf[2],
        key_size=kdf[3],
        features=tuple(f for f in features if f is not None),
        raw=document,
        extension=extension,
        fingerprint=schema_fingerprint(document),
    )
    _check_blake_length(schema, checker)
    _check_key_material(schema, checker)
    _check_diffusion_taps(schema, checker)
    return schema


KdfParams = tuple[Literal["SHA256", "SHA512"], bytes | None, bytes | None, int]


def _parse_kdf(value: Any, checker: _Checker) -> KdfParams | None:
    path = "clkConfig.kdf"
    kdf = checker.object(value, path)
    if kdf is None:
        return None
    checker.keys(kdf, path, {"type", "hash", "salt", "info", "keySize"})
    if kdf.get("type") != "HKDF":
        checker.fail(_join(path, "type"), f'must be "HKDF", got {kdf.get("type")!r}')
    hash_name = kdf.get("hash", "SHA256")
    if hash_name not in ("SHA256", "SHA512"):
        checker.fail(
            _join(path, "hash"), f'must be "SHA256" or "SHA512", got {hash_name!r}'
        )
        hash_name = "SHA256"
    key_size = 64
    if "keySize" in kdf:
        key_size = checker.integer(kdf, "keySize", path, 1) or 64
    salt = _base64_bytes(kdf, "salt", path, checker)
    info = _base64_bytes(kdf, "info", path, checker)
    if info is not None and info.startswith(INTERNAL_INFO_LABELS):
        label = next(label for label in INTERNAL_INFO_LABELS if info.startswith(label))
        checker.fail(
            _join(path, "info"),
            f"starts with {label.decode()!r}, which linkage reserves for its own "
            "keys (the key-check value, hardening): a feature's key could equal "
            "one of them. Choose another info, e.g. the project's name in base64",
        )
    return hash_name, salt, info, key_size


def _base64_bytes(
    kdf: Mapping[str, Any], key: str, path: str, checker: _Checker
) -> bytes | None:
    if key not in kdf:
        return None
    text = checker.string(kdf, key, path)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        checker.fail(_join(path, key), "must be standard base64 text")
        return None


_FEATURE_KEYS = {"identifier", "description", "ignored", "format", "hashing"}
_IGNORED_KEYS = {"identifier", "description", "ignored"}


def _parse_feature(value: Any, path: str, checker: _Checker) -> Feature | None:
    feature = checker.object(value, path)
    if feature is None:
        return None
    identifier = checker.string(feature, "identifier", path)
    ignored = checker.boolean(feature, "ignored", path, False)
    if ignored:
        _reject_ignored_settings(feature, path, checker)
        return Feature(identifier=identifier or "", ignored=True)
    checker.keys(feature, path, _FEATURE_KEYS)
    if "description" in feature:
        checker.string(feature, "description", path)
    value_format = _parse_format(feature.get("format"), _join(path, "format"), checker)
    hashing = checker.object(feature.get("hashing"), _join(path, "hashing"))
    if hashing is None or identifier is None:
        return None
    return _parse_hashing(
        hashing, identifier, value_format, _join(path, "hashing"), checker
    )


def _reject_ignored_settings(
    feature: Mapping[str, Any], path: str, checker: _Checker
) -> None:
    settings = ("format", "hashing")
    for key in (key for key in settings if key in feature):
        checker.fail(
            _join(path, key),
            "the feature is ignored, so this has no effect; remove it or "
            'set "ignored": false',
        )
    others = {key: value for key, value in feature.items() if key not in settings}
    checker.keys(others, path, _IGNORED_KEYS)


def _parse_format(value: Any, path: str, checker: _Checker) -> ValueFormat | None:
    spec = checker.object(value, path)
    if spec is None:
        return None
    parsers: dict[
        str, Callable[[dict[str, Any], str, _Checker], ValueFormat | None]
    ] = {
        "string": _parse_string_format,
        "integer": _parse_integer_format,
        "date": _parse_date_format,
        "enum": _parse_enum_format,
    }
    parser = parsers.get(spec.get("type"))  # type: ignore[arg-type]
    if parser is None:
        checker.fail(
            _join(path, "type"),
            f"must be one of {', '.join(parsers)}, got {spec.get('type')!r}",
        )
        return None
    if "description" in spec:
        checker.string(spec, "description", path)
    return parser(spec, path, checker)


def _parse_string_format(
    spec: dict[str, Any], path: str, checker: _Checker
) -> StringFormat | None:
    encoding = spec.get("encoding", "utf-8")
    if encoding not in STRING_ENCODINGS:
        checker.fail(
            _join(path, "encoding"),
            f"must be one of {', '.join(STRING_ENCODINGS)}, got {encoding!r}",
        )
    if "pattern" in spec:
        checker.keys(spec, path, {"type", "encoding", "pattern", "description"})
        text = checker.string(spec, "pattern", path)
        if text is None:
            return None
        try:
            pattern = re.compile(text)
        except re.error as error:
            checker.fail(
                _join(path, "pattern"), f"is not a valid regular expression: {error}"
            )
            return None
        return StringFormat(encoding=encoding, pattern=pattern)
    checker.keys(
        spec,
        path,
        {"type", "encoding", "case", "minLength", "maxLength", "description"},
    )
    case = spec.get("case", "mixed")
    if case not in ("upper", "lower", "mixed"):
        checker.fail(
            _join(path, "case"), f'must be "upper", "lower" or "mixed", got {case!r}'
        )
    min_length = (
        checker.integer(spec, "minLength", path, 0) if "minLength" in spec else None
    )
    max_length = (
        checker.integer(spec, "maxLength", path, 1) if "maxLength" in spec else None
    )
    return StringFormat(
        encoding=encoding, case=case, min_length=min_length, max_length=max_length
    )


def _optional_int(
    spec: Mapping[str, Any], key: str, path: str, checker: _Checker
) -> int | None:
    if key not in spec:
        return None
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int):
        checker.fail(_join(path, key), f"must be an integer, got {value!r}")
        return None
    return value


def _parse_integer_format(
    spec: dict[str, Any], path: str, checker: _Checker
) -> IntegerFormat:
    checker.keys(spec, path, {"type", "minimum", "maximum", "description"})
    return IntegerFormat(
        minimum=_optional_int(spec, "minimum", path, checker),
        maximum=_optional_int(spec, "maximum", path, checker),
    )


def _parse_date_format(
    spec: dict[str, Any], path: str, checker: _Checker
) -> DateFormat | None:
    checker.keys(spec, path, {"type", "format", "description"})
    text = checker.string(spec, "format", path)
    return DateFormat(format=text) if text is not None else None


def _parse_enum_format(
    spec: dict[str, Any], path: str, checker: _Checker
) -> EnumFormat | None:
    checker.keys(spec, path, {"type", "values", "description"})
    values = spec.get("values")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        checker.fail(_join(path, "values"), "must be a list of strings")
        return None
    return EnumFormat(values=frozenset(values))


def _parse_hashing(
    hashing: dict[str, Any],
    identifier: str,
    value_format: ValueFormat | None,
    path: str,
    checker: _Checker,
) -> Feature | None:
    checker.keys(hashing, path, {"comparison", "strategy", "hash", "missingValue"})
    comparison = _parse_comparison(
        hashing.get("comparison"), _join(path, "comparison"), checker
    )
    strategy = _parse_strategy(
        hashing.get("strategy"), _join(path, "strategy"), checker
    )
    hash_name, prevent_singularity = _parse_hash(
        hashing.get("hash"), _join(path, "hash"), checker
    )
    missing = _parse_missing(
        hashing.get("missingValue"), _join(path, "missingValue"), checker
    )
    if value_format is None or comparison is None or strategy is None:
        return None
    return Feature(
        identifier=identifier,
        format=value_format,
        comparison=comparison,
        strategy=strategy,
        hash=hash_name,
        prevent_singularity=prevent_singularity,
        missing_value=missing,
    )


def _parse_comparison(value: Any, path: str, checker: _Checker) -> Comparison | None:
    spec = checker.object(value, path)
    if spec is None:
        return None
    kind = spec.get("type")
    if kind == "ngram":
        checker.keys(spec, path, {"type", "n", "positional"})
        n = checker.integer(spec, "n", path, 1)
        positional = checker.boolean(spec, "positional", path, False)
        return NgramComparison(n=n, positional=positional) if n is not None else None
    if kind == "exact":
        checker.keys(spec, path, {"type"})
        return ExactComparison()
    if kind == "numeric":
        return _parse_numeric(spec, path, checker)
    checker.fail(
        _join(path, "type"), f'must be "ngram", "exact" or "numeric", got {kind!r}'
    )
    return None


def _parse_numeric(
    spec: dict[str, Any], path: str, checker: _Checker
) -> NumericComparison | None:
    checker.keys(
        spec, path, {"type", "thresholdDistance", "resolution", "fractional_precision"}
    )
    distance = spec.get("thresholdDistance")
    if (
        isinstance(distance, bool)
        or not isinstance(distance, int | float)
        or distance <= 0
    ):
        checker.fail(
            _join(path, "thresholdDistance"),
            f"must be a number above 0, got {distance!r}",
        )
        return None
    resolution = checker.integer(spec, "resolution", path, 1)
    precision = 0
    if "fractional_precision" in spec:
        precision = checker.integer(spec, "fractional_precision", path, 0) or 0
    if resolution is None:
        return None
    comparison = NumericComparison(float(distance), resolution, precision)
    if comparison.distance_interval == 0:
        checker.fail(
            _join(path, "fractional_precision"),
            "is too small to represent thresholdDistance; increase it",
        )
        return None
    return comparison


def _parse_strategy(value: Any, path: str, checker: _Checker) -> Strategy | None:
    spec = checker.object(value, path)
    if spec is None:
        return None
    if "bitsPerToken" in spec and "bitsPerFeature" not in spec:
        checker.keys(spec, path, {"bitsPerToken"})
        k = checker.integer(spec, "bitsPerToken", path, 1)
        return BitsPerToken(k) if k is not None else None
    if "bitsPerFeature" in spec and "bitsPerToken" not in spec:
        checker.keys(spec, path, {"bitsPerFeature"})
        bits = checker.integer(spec, "bitsPerFeature", path, 1)
        return BitsPerFeature(bits) if bits is not None else None
    checker.fail(path, 'needs exactly one of "bitsPerToken" or "bitsPerFeature"')
    return None


def _parse_hash(value: Any, path: str, checker: _Checker) -> tuple[HashName, bool]:
    if value is None:
        return "blakeHash", False
    spec = checker.object(value, path)
    if spec is None:
        return "blakeHash", False
    kind = spec.get("type")
    if kind == "doubleHash":
        checker.keys(spec, path, {"type", "prevent_singularity"})
        return "doubleHash", checker.boolean(spec, "prevent_singularity", path, False)
    if kind == "blakeHash":
        if "prevent_singularity" in spec:
            checker.fail(
                _join(path, "prevent_singularity"),
                "applies to doubleHash only; remove it (clkhash refuses it)",
            )
        checker.keys(spec, path, {"type", "prevent_singularity"})
        return "blakeHash", False
    checker.fail(
        _join(path, "type"), f'must be "doubleHash" or "blakeHash", got {kind!r}'
    )
    return "blakeHash", False


def _parse_missing(value: Any, path: str, checker: _Checker) -> MissingValue | None:
    if value is None:
        return None
    spec = checker.object(value, path)
    if spec is None:
        return None
    checker.keys(spec, path, {"sentinel", "replaceWith"})
    sentinel = checker.string(spec, "sentinel", path)
    replace_with = sentinel
    if "replaceWith" in spec:
        replace_with = checker.string(spec, "replaceWith", path)
    if sentinel is None or replace_with is None:
        return None
    return MissingValue(sentinel=sentinel, replace_with=replace_with)


def _check_identifiers(features: list[Feature | None], checker: _Checker) -> None:
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        if feature is None or feature.ignored:
            continue
        if feature.identifier in seen:
            checker.fail(
                f"features[{index}].identifier",
                f"'{feature.identifier}' is also used by "
                f"features[{seen[feature.identifier]}]; "
                "identifiers must be unique so columns can be found by name",
            )
        seen.setdefault(feature.identifier, index)


_BLAKE_MAX_KEY_BYTES = 64


def _check_blake_length(schema: LinkageSchema, checker: _Checker) -> None:
    length = schema.hash_length
    for index, feature in enumerate(schema.features):
        if feature.ignored or feature.hash != "blakeHash":
            continue
        if schema.key_size > _BLAKE_MAX_KEY_BYTES:
            checker.fail(
                "clkConfig.kdf.keySize",
                f"blakeHash keys can be at most {_BLAKE_MAX_KEY_BYTES} bytes, got "
                f"{schema.key_size} (features[{index}] uses blakeHash)",
            )
            return
        if length & (length - 1):
            checker.fail(
                f"features[{index}].hashing.hash",
                f"blakeHash needs l * 2**xor_folds to be a power of two, got {length}; "
                "change clkConfig.l or use doubleHash",
            )


def _check_key_material(schema: LinkageSchema, checker: _Checker) -> None:
    # RFC 5869 caps HKDF output at 255 blocks of the hash.
    limit = 255 * (64 if schema.kdf_hash == "SHA512" else 32)
    needed = 2 * len(schema.features) * schema.key_size
    if needed > limit:
        checker.fail(
            "clkConfig.kdf.keySize",
            f"{len(schema.features)} features need {needed} bytes of keys, more than "
            f"HKDF-{schema.kdf_hash} can derive ({limit}); lower keySize or use SHA512",
        )


def _check_diffusion_taps(schema: LinkageSchema, checker: _Checker) -> None:
    """Taps must be distinct bits of the filter: far fewer than it has."""
    hardening = schema.extension.hardening
    if hardening.diffusion is None:
        return
    folded = schema.segments[0].hash_bits >> schema.xor_folds
    drawn_from = hardening.balanced_length(folded)
    most = max_taps(drawn_from)
    taps = max(hardening.diffusion.taps, schema.extension.view_taps or 0)
    if taps <= most:
        return
    checker.fail(
        "linkage.hardening.diffusion.taps",
        f"each output bit XORs {taps} distinct bits drawn from the {drawn_from} "
        "bits of the filter as diffusion receives it (after XOR folding and "
        "balancing); taps must stay well below that, at most its square root, "
        f"so the allowed taps here are: {_tap_range(most)}. "
        "Lower taps, or use a longer filter (clkConfig.l, linkage.segments.bits)",
    )


def _tap_range(most: int) -> str:
    if most < 2:
        return "none (the filter is too short for diffusion)"
    return "2" if most == 2 else f"2 to {most}"
