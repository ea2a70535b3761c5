"""The reveal policy: how many approvers must agree, and for how long a grant holds.

An operator sets it in a YAML file (``configs/policy.yaml`` is the shipped one,
with every key explained)::

    reveal:
      approvals_required: 2      # k distinct approvers
      approver_role: approver    # whose approvals count
      self_approval: false       # cannot be true
      deny_ends_request: true    # one deny ends the request
      grant_lifetime: 24h        # how long an approved request may be fulfilled

Every problem in the file is reported at once, each naming its key; unknown
keys are refused, so a typo never silently leaves a weaker default in place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from linkage.errors import InputError, Problem
from linkage.yaml_files import load_yaml_file

__all__ = [
    "DEFAULT_POLICY",
    "MAX_APPROVALS",
    "MAX_GRANT_LIFETIME",
    "PolicyError",
    "RevealPolicy",
    "format_duration",
    "load_policy",
    "parse_duration",
]

#: The most approvals a policy may require (more is a typo, not a policy).
MAX_APPROVALS = 50
#: The longest a grant may stay valid: a grant is for a case, not for good.
MAX_GRANT_LIFETIME = timedelta(days=30)

_ROLES = ("approver",)
_REQUIRED_KEYS = (
    "approvals_required",
    "approver_role",
    "deny_ends_request",
    "grant_lifetime",
)
# self_approval may be written (as false) for the reader's sake, or left out.
_ALLOWED_KEYS = (*_REQUIRED_KEYS, "self_approval")
_HINT = "Correct the keys shown; configs/policy.yaml explains each of them."

_DURATION = re.compile(r"([0-9]{1,9})\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_HELP = (
    "expected whole seconds (3600) or a number with a unit s, m, h or d "
    "(90s, 15m, 24h, 7d)"
)


class PolicyError(InputError):
    """The reveal policy file is missing, not YAML, or breaks a rule."""


@dataclass(frozen=True)
class RevealPolicy:
    """When a reveal request is granted, and for how long the grant holds.

    Attributes:
        approvals_required: k, the distinct approvers who must approve (1..50).
        approver_role: the role whose approvals count; only ``"approver"``.
        deny_ends_request: whether one deny ends the request.
        grant_lifetime: how long an agency may fulfil an approved request
            (more than zero, at most 30 days).

    Self-approval is not a field: it is never allowed.

    Raises:
        PolicyError: on construction, when a value breaks these rules.
    """

    approvals_required: int
    approver_role: Literal["approver"]
    deny_ends_request: bool
    grant_lifetime: timedelta

    def __post_init__(self) -> None:
        problems = _check_fields(self._fields(), "<policy>")
        if problems:
            raise PolicyError("The reveal policy is not valid", problems, hint=_HINT)

    def _fields(self) -> dict[str, Any]:
        """Return the raw field values, for the checks in ``__post_init__``."""
        return {
            "approvals_required": self.approvals_required,
            "approver_role": self.approver_role,
            "deny_ends_request": self.deny_ends_request,
            "grant_lifetime": self.grant_lifetime,
        }

    def to_json(self) -> dict[str, Any]:
        """Return the policy as JSON types; ``grant_lifetime`` in whole seconds."""
        return {
            "approvals_required": self.approvals_required,
            "approver_role": self.approver_role,
            "deny_ends_request": self.deny_ends_request,
            "grant_lifetime": int(self.grant_lifetime.total_seconds()),
        }

    @classmethod
    def from_json(cls, obj: object, *, source: str = "<policy JSON>") -> RevealPolicy:
        """Read a policy written by :meth:`to_json`; every key is required.

        Raises:
            PolicyError: a key is missing or unknown, or a value is not valid.
        """
        if not isinstance(obj, Mapping):
            raise PolicyError(
                f"{source}: the reveal policy must be a JSON object",
                hint=_HINT,
            )
        return _build(obj, source, prefix="", from_file=False)


def parse_duration(text: str | int) -> timedelta:
    """Read a duration: whole seconds, or text ``<n>s``, ``<n>m``, ``<n>h``, ``<n>d``.

    Example:
        >>> parse_duration("15m")
        datetime.timedelta(seconds=900)
        >>> parse_duration(90)
        datetime.timedelta(seconds=90)

    Raises:
        PolicyError: ``text`` is none of these (negative numbers included).
    """
    # bool is an int in Python; `grant_lifetime: true` is a mistake, not 1s.
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise PolicyError(f"{text!r} is not a duration: {_DURATION_HELP}")
    if isinstance(text, int):
        if text < 0:
            raise PolicyError(f"{text} is not a duration: it is negative")
        seconds = text
    else:
        match = _DURATION.fullmatch(text.strip())
        if match is None:
            raise PolicyError(f"{text!r} is not a duration: {_DURATION_HELP}")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise PolicyError(f"{text!r} is too long a duration") from None


def format_duration(delta: timedelta) -> str:
    """Write a whole-second duration in the largest unit that is exact.

    :func:`parse_duration` reads the result back to ``delta``.

    Example:
        >>> format_duration(timedelta(hours=24))
        '1d'

    Raises:
        ValueError: ``delta`` is negative or not a whole number of seconds.
    """
    if delta < timedelta(0) or delta.microseconds:
        raise ValueError(f"{delta} is not a whole, non-negative number of seconds")
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def load_policy(path: Path) -> RevealPolicy:
    """Read and check a reveal policy file (the format is in the module doc).

    Raises:
        PolicyError: the file cannot be read, is not YAML, or breaks any rule;
            every problem is listed, each naming its key.
    """
    source = str(path)
    document = load_yaml_file(
        path,
        what="policy file",
        error=PolicyError,
        missing_hint="Check the path; configs/policy.yaml is the shipped policy.",
    )
    if not isinstance(document, Mapping) or "reveal" not in document:
        raise PolicyError(
            f"Policy file {source} has no 'reveal' block",
            [Problem("expected a mapping with a 'reveal' key", source=source)],
            hint="Start the file with `reveal:`, as in configs/policy.yaml.",
        )
    # The same file may hold the lookup policy (linkage.service.lookup.policy),
    # which is read and checked there.
    problems = [
        Problem(
            "unknown key; the top-level keys allowed are 'reveal' and 'lookup'",
            source=source,
            field=str(key),
        )
        for key in document
        if key not in ("reveal", "lookup")
    ]
    block = document["reveal"]
    if not isinstance(block, Mapping):
        problems.append(
            Problem(
                f"must be a mapping of the policy keys ({', '.join(_ALLOWED_KEYS)})",
                source=source,
                field="reveal",
            )
        )
        raise PolicyError(
            f"Policy file {source} has {len(problems)} problem(s)", problems, hint=_HINT
        )
    try:
        policy = _build(block, source, prefix="reveal.", from_file=True)
    except PolicyError as error:
        problems.extend(error.problems)
        raise PolicyError(
            f"Policy file {source} has {len(problems)} problem(s)", problems, hint=_HINT
        ) from None
    if problems:
        raise PolicyError(
            f"Policy file {source} has {len(problems)} problem(s)", problems, hint=_HINT
        )
    return policy


def _build(
    block: Mapping[Any, Any],
    source: str,
    *,
    prefix: str,
    from_file: bool,
) -> RevealPolicy:
    """Check every key of ``block`` and build the policy, or raise all problems."""
    allowed = _ALLOWED_KEYS if from_file else _REQUIRED_KEYS
    problems: list[Problem] = []
    unknown = sorted(str(key) for key in block if key not in allowed)
    for key in unknown:
        problems.append(
            Problem(
                f"unknown key; the keys allowed are {', '.join(allowed)}",
                source=source,
                field=prefix + key,
            )
        )
    for key in _REQUIRED_KEYS:
        if key not in block:
            problems.append(
                Problem(
                    f"missing; add `{key}: {_EXAMPLES[key]}`",
                    source=source,
                    field=prefix + key,
                )
            )
    if "self_approval" in block and from_file:
        # Not a RevealPolicy field: a reveal is never approved by its requester.
        value = block["self_approval"]
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        if value is not False:
            problems.append(
                Problem(
                    f"is {shown}, "
                    "but it must be false: self-approval cannot "
                    "be enabled, since a request approved by its own author is "
                    "not checked by anyone else (remove the key or set it to "
                    "false)",
                    source=source,
                    field=prefix + "self_approval",
                )
            )
    values = {key: block[key] for key in _REQUIRED_KEYS if key in block}
    if "grant_lifetime" in values:
        raw = values.pop("grant_lifetime")
        if not from_file and (isinstance(raw, bool) or not isinstance(raw, int)):
            # JSON written by to_json holds whole seconds, nothing else.
            problems.append(
                Problem(
                    f"must be whole seconds, not {raw!r}",
                    source=source,
                    field=prefix + "grant_lifetime",
                )
            )
        else:
            try:
                values["grant_lifetime"] = parse_duration(raw)
            except PolicyError as error:
                problems.append(
                    Problem(
                        error.summary, source=source, field=prefix + "grant_lifetime"
                    )
                )
    problems.extend(_check_fields(values, source, prefix=prefix))
    if problems:
        raise PolicyError(
            f"The reveal policy in {source} has {len(problems)} problem(s)",
            problems,
            hint=_HINT,
        )
    return RevealPolicy(
        approvals_required=values["approvals_required"],
        approver_role=values["approver_role"],
        deny_ends_request=values["deny_ends_request"],
        grant_lifetime=values["grant_lifetime"],
    )


_EXAMPLES = {
    "approvals_required": "2",
    "approver_role": "approver",
    "deny_ends_request": "true",
    "grant_lifetime": "24h",
}


def _check_fields(
    values: Mapping[str, Any], source: str, *, prefix: str = ""
) -> list[Problem]:
    """Return a problem for each present field whose type or range is wrong."""
    problems: list[Problem] = []

    def add(key: str, message: str) -> None:
        problems.append(Problem(message, source=source, field=prefix + key))

    if "approvals_required" in values:
        k = values["approvals_required"]
        # bool is an int subclass: `approvals_required: true` must not mean 1.
        if isinstance(k, bool) or not isinstance(k, int):
            add(
                "approvals_required",
                f"must be a whole number from 1 to {MAX_APPROVALS}, not {k!r}",
            )
        elif not 1 <= k <= MAX_APPROVALS:
            add(
                "approvals_required",
                f"is {k}, but it must be from 1 to {MAX_APPROVALS}",
            )
    if "approver_role" in values:
        role = values["approver_role"]
        if role not in _ROLES or not isinstance(role, str):
            add(
                "approver_role",
                f"is {role!r}, but the only role supported is 'approver'",
            )
    if "deny_ends_request" in values:
        deny = values["deny_ends_request"]
        if not isinstance(deny, bool):
            add("deny_ends_request", f"must be true or false, not {deny!r}")
    if "grant_lifetime" in values:
        lifetime = values["grant_lifetime"]
        if not isinstance(lifetime, timedelta):
            add("grant_lifetime", f"must be a duration, not {lifetime!r}")
        elif not timedelta(0) < lifetime <= MAX_GRANT_LIFETIME:
            add(
                "grant_lifetime",
                f"is {_show_duration(lifetime)}, but it must be more than zero "
                f"and at most {format_duration(MAX_GRANT_LIFETIME)}",
            )
    return problems


def _show_duration(delta: timedelta) -> str:
    """Write ``delta`` for a message, even when it is negative or fractional."""
    try:
        return format_duration(delta)
    except ValueError:
        return str(delta)


DEFAULT_POLICY = RevealPolicy(
    approvals_required=2,
    approver_role="approver",
    deny_ends_request=True,
    grant_lifetime=timedelta(hours=24),
)
