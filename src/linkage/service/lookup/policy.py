"""The lookup policy: what a lookup's answer may say beyond the agency's own.

An operator sets it in the policy file, next to the reveal policy
(``configs/policy.yaml``)::

    lookup:
      show_agencies: false   # name the other agencies holding the person?

The block may be left out: the defaults then hold. Unknown keys are refused,
so a typo never silently leaves a default in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from linkage.errors import InputError, Problem
from linkage.yaml_files import load_yaml_file

__all__ = [
    "DEFAULT_LOOKUP_POLICY",
    "LookupPolicy",
    "LookupPolicyError",
    "load_lookup_policy",
]

_KEYS = ("show_agencies",)
_HINT = "Correct the keys shown; configs/policy.yaml explains each of them."


class LookupPolicyError(InputError):
    """The policy file's ``lookup`` block breaks a rule."""


@dataclass(frozen=True)
class LookupPolicy:
    """What a lookup's answer holds beyond the asking agency's own pseudonyms,
    the match ID and whether another agency holds the person.

    Attributes:
        show_agencies: also name the other agencies holding a record of the
            person (default False: the yes/no is what a lookup is for).
    """

    show_agencies: bool = False


DEFAULT_LOOKUP_POLICY = LookupPolicy()


def load_lookup_policy(path: Path) -> LookupPolicy:
    """Read the ``lookup`` block of a policy file (the defaults if it has none).

    Raises:
        LookupPolicyError: the file cannot be read, or the block is not a
            mapping of known keys with valid values; every problem is listed.
    """
    source = str(path)
    document = load_yaml_file(path, what="policy file", error=LookupPolicyError)
    block = document.get("lookup") if isinstance(document, Mapping) else None
    if block is None:
        return DEFAULT_LOOKUP_POLICY
    if not isinstance(block, Mapping):
        problem = Problem("must be a mapping (show_agencies: false)", source=source)
        raise LookupPolicyError(
            f"Policy file {source}: 'lookup' is not a mapping", [problem], hint=_HINT
        )
    problems = [
        Problem(
            f"unknown key; the keys allowed are {', '.join(_KEYS)}",
            source=source,
            field=f"lookup.{key}",
        )
        for key in block
        if key not in _KEYS
    ]
    show = block.get("show_agencies", False)
    if not isinstance(show, bool):
        problems.append(
            Problem(
                f"must be true or false, not {show!r}",
                source=source,
                field="lookup.show_agencies",
            )
        )
    if problems:
        raise LookupPolicyError(
            f"Policy file {source} has {len(problems)} problem(s)", problems, hint=_HINT
        )
    return LookupPolicy(show_agencies=show)
