"""Taking part of a value: a delimited part, a pattern's group, some words.

Exports pack several things into one column: ``"309 Haley Dell, Carlside WA"``
holds a street, a suburb and a state. These pure functions cut out the part a
schema field wants; the mapping steps ``split``, ``extract``, ``replace``,
``last_word``, ``drop_first_word`` and ``drop_last_word``
(:mod:`linkage.encoding.mapping_file`) apply them. Like the normalisation
primitives they take one ``str`` and return one; a part that is not there is
``""``, which the mapping treats as missing.

Patterns are checked when the mapping is read (:func:`compile_pattern`,
:func:`check_replacement`), so a bad one stops the run before any record is
read, not in the middle of an export.

Example:
    >>> split_part("309 Haley Dell, Carlside WA", ",", 0)
    '309 Haley Dell'
    >>> drop_last_word(split_part("309 Haley Dell, Carlside WA", ",", -1))
    'Carlside'
    >>> extract("Carlside WA 6000", re.compile(r"(\\d{4})$"), 1)
    '6000'
    >>> replace("12 Main St", re.compile(r"\\bSt\\b"), "Street")
    '12 Main Street'
"""

from __future__ import annotations

import re

__all__ = [
    "check_group",
    "check_replacement",
    "compile_pattern",
    "drop_first_word",
    "drop_last_word",
    "extract",
    "last_word",
    "replace",
    "split_part",
]

Group = int | str


def split_part(value: str, delimiter: str, part: int) -> str:
    """Part ``part`` (0-based; negative counts from the end) of ``value`` split
    on ``delimiter``, without its surrounding whitespace; ``""`` if the value
    has fewer parts.
    """
    parts = value.split(delimiter)
    if -len(parts) <= part < len(parts):
        return parts[part].strip()
    return ""


def last_word(value: str) -> str:
    """Keep the last whitespace-separated word (``"Carlside WA"`` -> ``"WA"``)."""
    words = value.rsplit(maxsplit=1)
    return words[-1] if words else ""


def drop_first_word(value: str) -> str:
    """Remove the first word; a one-word value becomes ``""``.

    The words kept are kept as they were spaced, without surrounding spaces.
    """
    words = value.split(maxsplit=1)
    return words[1].strip() if len(words) == 2 else ""


def drop_last_word(value: str) -> str:
    """Remove the last word (``"Carlside WA"`` -> ``"Carlside"``); a one-word
    value becomes ``""``.

    The words kept are kept as they were spaced, without surrounding spaces.
    """
    words = value.rsplit(maxsplit=1)
    return words[0].strip() if len(words) == 2 else ""


def extract(value: str, pattern: re.Pattern[str], group: Group) -> str:
    """The text of ``group`` in the first match of ``pattern`` in ``value``.

    ``""`` when nothing matches or the group took no part in the match.
    """
    found = pattern.search(value)
    if found is None:
        return ""
    return found.group(group) or ""


def replace(value: str, pattern: re.Pattern[str], replacement: str) -> str:
    """Replace every match of ``pattern`` with ``replacement``, in which
    ``\\1`` or ``\\g<name>`` stands for a group's text."""
    return pattern.sub(replacement, value)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a mapping's regular expression.

    Raises:
        ValueError: The pattern is not a valid Python regular expression; the
            message says what is wrong and where, as a sentence's end.
    """
    try:
        return re.compile(pattern)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise ValueError(
            f"is not a valid regular expression: {error.msg}{where}"
        ) from None


def check_group(pattern: re.Pattern[str], group: Group) -> None:
    """Check that ``pattern`` has ``group`` (a number or a name).

    Raises:
        ValueError: It has not; the message names the groups it has.
    """
    if isinstance(group, int) and 0 <= group <= pattern.groups:
        return
    if isinstance(group, str) and group in pattern.groupindex:
        return
    raise ValueError(f"names group {group!r}, but {_groups(pattern)}")


def check_replacement(pattern: re.Pattern[str], replacement: str) -> None:
    """Check that ``replacement`` refers only to groups ``pattern`` has.

    Python checks a replacement only when a value matches; this checks it at
    once against an empty match with the same groups.

    Raises:
        ValueError: The replacement has a bad escape or an unknown group.
    """
    names = {number: name for name, number in pattern.groupindex.items()}
    same_groups = "".join(
        f"(?P<{names[number]}>)" if number in names else "()"
        for number in range(1, pattern.groups + 1)
    )
    empty = re.compile(same_groups).match("")
    assert empty is not None  # Empty groups match the empty string.
    try:
        empty.expand(replacement)
    except (re.error, IndexError) as error:
        raise ValueError(
            f"refers to a group the pattern lacks or has a bad escape ({error}); "
            f"{_groups(pattern)}. Write a group as \\1 or \\g<name>, and a "
            "backslash as \\\\"
        ) from None


def _groups(pattern: re.Pattern[str]) -> str:
    if not pattern.groups:
        return "the pattern has no groups (only 0, the whole match)"
    names = ", ".join(repr(name) for name in pattern.groupindex)
    named = f", named {names}" if names else ""
    return f"the pattern has groups 0 to {pattern.groups}{named}"
