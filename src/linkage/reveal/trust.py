"""The keys and limits an agency or an investigator trusts, in a file they keep.

The operator runs the service, registers its members and holds its signing
key, so nothing the service says about who approved a reveal, or whose key
identities go to, can be taken on its word. Each agency keeps its own trust
file instead, with the public keys it received out of band (in person, by a
signed letter, read aloud by key ID) and the policy it accepts::

    # linkage trust file: public keys received out of band
    approvers:              # Ed25519 keys from `linkage keygen --signing`
      bob: "mZ3...43 characters"
    investigators:          # X25519 keys from `linkage keygen --investigator`
      alice: "Qk8...43 characters"
    agencies:               # the agencies' Ed25519 keys (for investigators)
      health: "7Yt...43 characters"
    reveal:
      approvals_required: 2   # distinct pinned approvers per grant
      grant_lifetime: 24h     # the longest an approval may stay valid
      max_records: 20         # the most records one grant may reveal

``linkage reveal trust`` writes and edits it; removing a name revokes that
key, and replacing it rotates the key. Every problem in the file is reported
at once, each naming its key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from linkage.atomic import private_output
from linkage.errors import InputError, Problem
from linkage.reveal.keys import (
    KeyFileError,
    ed25519_public_from_b64,
    key_id,
    raw_public_b64,
    x25519_public_from_b64,
)
from linkage.reveal.policy import (
    DEFAULT_POLICY,
    MAX_APPROVALS,
    MAX_GRANT_LIFETIME,
    PolicyError,
    format_duration,
    parse_duration,
)
from linkage.yaml_files import load_yaml_file

__all__ = [
    "DEFAULT_MAX_RECORDS",
    "MAX_RECORDS_LIMIT",
    "TrustError",
    "TrustFile",
    "load_trust",
    "write_trust",
]

#: How many records one grant may reveal unless the trust file says otherwise:
#: a match is one person, seldom more than a handful of records at one agency.
DEFAULT_MAX_RECORDS = 20
#: The highest cap a trust file may set.
MAX_RECORDS_LIMIT = 10_000

_SECTIONS = ("approvers", "investigators", "agencies", "reveal")
_REVEAL_KEYS = ("approvals_required", "grant_lifetime", "max_records")
_HINT = (
    "Correct the keys shown; `linkage reveal trust --help` explains the file, "
    "and it can write each entry for you."
)

_Key = TypeVar("_Key", Ed25519PublicKey, X25519PublicKey)


class TrustError(InputError):
    """A trust file is missing, not YAML, or holds a bad key or limit."""


@dataclass(frozen=True)
class TrustFile:
    """Pinned public keys by name, and the reveal limits accepted."""

    approvers: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    investigators: Mapping[str, X25519PublicKey] = field(default_factory=dict)
    agencies: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    approvals_required: int = DEFAULT_POLICY.approvals_required
    grant_lifetime: timedelta = DEFAULT_POLICY.grant_lifetime
    max_records: int = DEFAULT_MAX_RECORDS

    def approver_by_key_id(self, wanted: str) -> tuple[str, Ed25519PublicKey] | None:
        """The pinned approver whose key has ID ``wanted``, if any."""
        for name, key in self.approvers.items():
            if key_id(key) == wanted:
                return name, key
        return None

    def pinned_investigator(self, name: str, raw_key: str) -> bool:
        """Whether ``name`` is pinned with exactly this key (raw, base64url)."""
        key = self.investigators.get(name)
        return key is not None and raw_public_b64(key) == raw_key

    def with_entries(
        self,
        *,
        approvers: Mapping[str, Ed25519PublicKey] | None = None,
        investigators: Mapping[str, X25519PublicKey] | None = None,
        agencies: Mapping[str, Ed25519PublicKey] | None = None,
    ) -> TrustFile:
        """A copy with these names added, or their keys replaced (a rotation)."""
        return replace(
            self,
            approvers={**self.approvers, **(approvers or {})},
            investigators={**self.investigators, **(investigators or {})},
            agencies={**self.agencies, **(agencies or {})},
        )

    def without(self, name: str) -> TrustFile:
        """A copy with ``name`` removed from every section (a revocation)."""
        return replace(
            self,
            approvers=_drop(self.approvers, name),
            investigators=_drop(self.investigators, name),
            agencies=_drop(self.agencies, name),
        )

    def to_yaml(self) -> str:
        """The file's text, as :func:`load_trust` reads it."""
        document: dict[str, Any] = {
            section: {
                name: raw_public_b64(key)
                for name, key in sorted(getattr(self, section).items())
            }
            for section in ("approvers", "investigators", "agencies")
        }
        document["reveal"] = {
            "approvals_required": self.approvals_required,
            "grant_lifetime": format_duration(self.grant_lifetime),
            "max_records": self.max_records,
        }
        body = yaml.safe_dump(document, sort_keys=False, default_style=None)
        return (
            "# linkage trust file: public keys received out of band, by name.\n"
            "# Check each key ID with its owner before you add it.\n" + body
        )


def _drop(entries: Mapping[str, _Key], name: str) -> dict[str, _Key]:
    return {key: value for key, value in entries.items() if key != name}


def load_trust(path: Path) -> TrustFile:
    """Read and check a trust file (the format is in the module doc).

    Raises:
        TrustError: the file cannot be read or is not YAML, or any entry is
            wrong; every problem is listed.
    """
    source = str(path)
    document = load_yaml_file(
        path,
        what="trust file",
        error=TrustError,
        missing_hint="Write one with `linkage reveal trust --file FILE ...`.",
    )
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise TrustError(
            f"Trust file {source} is not a mapping of sections",
            [Problem(f"expected the sections {', '.join(_SECTIONS)}", source=source)],
            hint=_HINT,
        )
    problems = [
        Problem(
            f"unknown section; the sections are {', '.join(_SECTIONS)}",
            source,
            None,
            str(key),
        )
        for key in document
        if key not in _SECTIONS
    ]
    approvers = _keys(document, "approvers", source, problems, _ed25519)
    investigators = _keys(document, "investigators", source, problems, _x25519)
    agencies = _keys(document, "agencies", source, problems, _ed25519)
    limits = _limits(document.get("reveal"), source, problems)
    if problems:
        raise TrustError(
            f"Trust file {source} has {len(problems)} problem(s)", problems, hint=_HINT
        )
    return TrustFile(approvers, investigators, agencies, **limits)


def write_trust(path: Path, trust: TrustFile) -> None:
    """Write ``trust`` to ``path`` atomically (mode 0600)."""
    with private_output(path) as out:
        out.write(trust.to_yaml().encode("utf-8"))


def _ed25519(text: str, where: str) -> Ed25519PublicKey:
    return ed25519_public_from_b64(text, source=where)


def _x25519(text: str, where: str) -> X25519PublicKey:
    return x25519_public_from_b64(text, source=where)


def _keys(
    document: Mapping[Any, Any],
    section: str,
    source: str,
    problems: list[Problem],
    read: Callable[[str, str], _Key],
) -> dict[str, _Key]:
    block = document.get(section) or {}
    if not isinstance(block, Mapping):
        problems.append(
            Problem("must be a mapping of name: key", source, None, section)
        )
        return {}
    keys: dict[str, _Key] = {}
    for name, text in block.items():
        where = f"{section}.{name}"
        try:
            keys[str(name)] = read(text, where)
        except KeyFileError as error:
            problems.append(Problem(str(error), source, None, where))
    return keys


def _limits(block: object, source: str, problems: list[Problem]) -> dict[str, Any]:
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        problems.append(
            Problem(
                f"must be a mapping of {', '.join(_REVEAL_KEYS)}",
                source,
                None,
                "reveal",
            )
        )
        return {}
    for key in block:
        if key not in _REVEAL_KEYS:
            problems.append(
                Problem(
                    f"unknown key; the keys are {', '.join(_REVEAL_KEYS)}",
                    source,
                    None,
                    f"reveal.{key}",
                )
            )
    limits: dict[str, Any] = {}
    _whole_in(block, "approvals_required", 1, MAX_APPROVALS, limits, source, problems)
    _whole_in(block, "max_records", 1, MAX_RECORDS_LIMIT, limits, source, problems)
    if "grant_lifetime" in block:
        try:
            lifetime = parse_duration(block["grant_lifetime"])
        except PolicyError as error:
            problems.append(
                Problem(error.summary, source, None, "reveal.grant_lifetime")
            )
        else:
            if not timedelta(0) < lifetime <= MAX_GRANT_LIFETIME:
                problems.append(
                    Problem(
                        "must be more than zero and at most "
                        f"{format_duration(MAX_GRANT_LIFETIME)}",
                        source,
                        None,
                        "reveal.grant_lifetime",
                    )
                )
            limits["grant_lifetime"] = lifetime
    return limits


def _whole_in(
    block: Mapping[Any, Any],
    key: str,
    low: int,
    high: int,
    limits: dict[str, Any],
    source: str,
    problems: list[Problem],
) -> None:
    if key not in block:
        return
    value = block[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        problems.append(
            Problem(
                f"must be a whole number from {low} to {high}, not {value!r}",
                source,
                None,
                f"reveal.{key}",
            )
        )
    else:
        limits[key] = value
