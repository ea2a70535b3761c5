"""Validate and format one raw value of a feature, exactly as clkhash 0.18.3 does.

``prepare_value`` returns the string that is tokenised, or raises
:class:`InvalidValue` with a message for the data officer. A value equal to
the feature's missing-value sentinel is replaced and never validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from linkage.encoding.normalise import read_date
from linkage.formats.schema import (
    DateFormat,
    EnumFormat,
    Feature,
    IntegerFormat,
    StringFormat,
)

_ENCODED_DATE_FORMAT = "%Y%m%d"


class InvalidValue(ValueError):
    """The value does not satisfy the feature's format."""


def prepare_value(feature: Feature, value: str) -> str:
    """Return the text to tokenise for ``value``, or raise :class:`InvalidValue`."""
    missing = feature.missing_value
    if missing is not None and value == missing.sentinel:
        # clkhash neither validates nor formats the replacement, but fails
        # to hash one its encoding cannot write.
        _check_encodable(feature, missing.replace_with)
        return missing.replace_with
    _check_encodable(feature, value)
    value_format = feature.format
    if isinstance(value_format, StringFormat):
        _check_string(value_format, value)
        return value
    if isinstance(value_format, IntegerFormat):
        return str(_parse_integer(value_format, value))
    if isinstance(value_format, DateFormat):
        return _parse_date(value_format, value).strftime(_ENCODED_DATE_FORMAT)
    if isinstance(value_format, EnumFormat):
        if value not in value_format.values:
            allowed = ", ".join(repr(v) for v in sorted(value_format.values))
            raise InvalidValue(f"must be one of {allowed} (got {value!r})")
        return value
    raise InvalidValue("the feature has no format")  # pragma: no cover


def prepare_values(
    feature: Feature, values: Sequence[str]
) -> tuple[list[str], dict[int, str]]:
    """Prepare many values; returns the prepared texts and the error by position.

    Invalid values get an empty text in the first list. Plain UTF text with no
    rules, the most common feature, is checked in one pass.
    """
    missing = feature.missing_value
    replacements = [missing.replace_with] if missing is not None else []
    if _is_unconstrained_unicode(feature) and _encodes(
        feature, [*values, *replacements]
    ):
        if missing is None:
            return list(values), {}
        sentinel, replacement = missing.sentinel, missing.replace_with
        return [replacement if v == sentinel else v for v in values], {}
    prepared: list[str] = []
    errors: dict[int, str] = {}
    for position, value in enumerate(values):
        try:
            prepared.append(prepare_value(feature, value))
        except InvalidValue as error:
            prepared.append("")
            errors[position] = str(error)
    return prepared, errors


def _is_unconstrained_unicode(feature: Feature) -> bool:
    spec = feature.format
    return (
        isinstance(spec, StringFormat)
        and spec.pattern is None
        and spec.case == "mixed"
        and spec.min_length is None
        and spec.max_length is None
        and spec.encoding != "ascii"
    )


def _encodes(feature: Feature, values: Sequence[str]) -> bool:
    # Only lone surrogates fail to encode in a UTF; one pass finds them.
    try:
        "".join(values).encode(feature.encoding)
    except UnicodeEncodeError:
        return False
    return True


def _check_encodable(feature: Feature, value: str) -> None:
    try:
        value.encode(feature.encoding)
    except UnicodeEncodeError:
        raise InvalidValue(
            f"cannot be written in {feature.encoding} (got {value!r}); "
            "clean the value or change the schema's encoding"
        ) from None


def _check_string(spec: StringFormat, value: str) -> None:
    if spec.pattern is not None:
        if spec.pattern.fullmatch(value) is None:
            raise InvalidValue(
                f"must match the pattern {spec.pattern.pattern!r} (got {value!r})"
            )
        return
    length = len(value)
    if spec.min_length is not None and length < spec.min_length:
        raise InvalidValue(
            f"must be at least {spec.min_length} characters (got {value!r}, {length})"
        )
    if spec.max_length is not None and length > spec.max_length:
        raise InvalidValue(
            f"must be at most {spec.max_length} characters (got {length})"
        )
    if spec.case == "upper" and value.upper() != value:
        raise InvalidValue(f"must be upper case (got {value!r})")
    if spec.case == "lower" and value.lower() != value:
        raise InvalidValue(f"must be lower case (got {value!r})")


def _parse_integer(spec: IntegerFormat, value: str) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise InvalidValue(f"must be a whole number (got {value!r})") from None
    if spec.minimum is not None and number < spec.minimum:
        raise InvalidValue(f"must be at least {spec.minimum} (got {number})")
    if spec.maximum is not None and number > spec.maximum:
        raise InvalidValue(f"must be at most {spec.maximum} (got {number})")
    return number


def _parse_date(spec: DateFormat, value: str) -> datetime:
    try:
        return read_date(value, spec.format)
    except ValueError:
        raise InvalidValue(
            f"must be a valid date in the format {spec.format!r} (got {value!r})"
        ) from None
