"""The ``linkage`` block of a schema: encoder options clkhash does not have.

A plain clkhash v3 schema has no such block and keeps meaning plain clkhash
behaviour. The block sits at the top level of the schema document, so it is
covered by the schema fingerprint: encodings made with different options can
never be linked by mistake. Example::

    "linkage": {
      "hardening": {
        "salt": {"features": ["given_name", "surname"],
                 "with": "date_of_birth", "characters": [0, 4]},
        "balance": true,
        "diffusion": {"taps": 4, "length": 1024},
        "blip": {"flip_probability": 0.02}
      }
    }

The steps always run in the order salt, (clkhash's XOR folding), balance,
diffusion, BLIP; what each protects against and costs is in the README.

``views`` adds, after the CLK of every field, one more CLK per named subset
of the fields (hardened alike), so two agencies that do not both hold a
field can be compared on the fields they do hold::

    "views": {"without_address": ["given_name", "surname", "date_of_birth", "sex"]},
    "view_taps": 5

``view_taps`` (optional) diffuses the views with other taps than the CLK of
every field: a view of fewer fields is easier to predict from plaintext.

``match_keys`` adds to each record one keyed hash per listed combination of
fields, made only when the record holds every field of it (see
:mod:`linkage.encoding.match_keys`)::

    "match_keys": [["given_name", "date_of_birth"], ["surname", "date_of_birth"]]

A member may also be a field's phonetic code, ``"soundex(surname)"``: records
whose names sound alike (Smith, Smyth) share that key, so one typo in a name
does not lose it::

    "match_keys": [["soundex(given_name)", "soundex(surname)", "date_of_birth"]]

``unique_keys`` are match keys an agency writes only for records whose
values no other record of its file holds, and random bytes for every other
record, so that within one file no two records share one and the operator
learns nothing from them about who resembles whom; across agencies, two
records holding the same values unique in both files share the key. The
operator uses them only between agencies that cannot share a match key (one
lacks a field of every key), and only where the linkage confirms such pairs
elsewhere (:mod:`linkage.matching.unique_keys`)::

    "unique_keys": [["given_name", "surname"]]

``either_order`` names two fields whose values may be swapped. A match key
holding both takes them in either order, so "ann smith" and "smith ann" share
the key of full name and birth date; and the CLK hashes the two fields'
tokens under one key (the first field's), so a name in the other field sets
the same bits. Swapped names then differ in the CLK only by their typos.
(CLKs of such a schema are no longer clkhash's)::

    "either_order": ["given_name", "surname"]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

#: Reports one problem: the JSON path of the key, and what is wrong.
Fail = Callable[[str, str], None]

_BLOCK = "linkage"
_HARDENING = f"{_BLOCK}.hardening"
_MAX_TAPS = 16
_MAX_LENGTH = 1 << 16


@dataclass(frozen=True)
class Salt:
    """Hash the tokens of ``features`` under a key that depends on a salt.

    The salt is ``characters[0]:characters[1]`` of the value of feature
    ``source`` (for example the year of a ``YYYY-MM-DD`` date of birth), so the
    same name of people born in different years sets unrelated bits.
    """

    features: tuple[str, ...]
    source: str
    start: int = 0
    stop: int | None = None

    def salt_of(self, value: str) -> str:
        """The salt a record with ``value`` in the source feature gets."""
        return value[self.start : self.stop]


def max_taps(drawn_from: int) -> int:
    """The most diffusion taps allowed when they are drawn from ``drawn_from`` bits.

    The square root keeps repeats among a row's random draws rare (under one
    half expected), so choosing distinct taps stays quick; more taps than bits
    could never be distinct at all.
    """
    return min(_MAX_TAPS, math.isqrt(drawn_from))


@dataclass(frozen=True)
class Diffusion:
    """Each output bit is the XOR of ``taps`` secret-chosen input bits."""

    taps: int
    length: int


@dataclass(frozen=True)
class Hardening:
    """Hardening steps applied by the encoder after clkhash's Bloom filter."""

    salt: Salt | None = None
    balance: bool = False
    diffusion: Diffusion | None = None
    blip: float = 0.0

    @property
    def is_plain(self) -> bool:
        """True when nothing is changed: plain clkhash CLKs."""
        return self == Hardening()

    @property
    def changes_bits(self) -> bool:
        """True when a step transforms the filters (salting works on tokens)."""
        return self.balance or self.diffusion is not None or self.blip > 0

    def balanced_length(self, folded_length: int) -> int:
        """Bits after balancing (which appends the complement), before diffusion."""
        return folded_length * (2 if self.balance else 1)

    def output_length(self, folded_length: int) -> int:
        """Bits per encoding after every step, from the folded filter length."""
        length = self.balanced_length(folded_length)
        if self.diffusion is not None:
            length = self.diffusion.length
        return length

    def describe(self) -> list[str]:
        """One line per step, for `linkage schema check`."""
        lines = []
        if self.salt is not None:
            stop = "" if self.salt.stop is None else self.salt.stop
            lines.append(
                f"salt {', '.join(self.salt.features)} with "
                f"{self.salt.source}[{self.salt.start}:{stop}]"
            )
        if self.balance:
            lines.append("balance (bits and their complement, permuted)")
        if self.diffusion is not None:
            lines.append(
                f"diffusion: {self.diffusion.length} bits, each the XOR of "
                f"{self.diffusion.taps}"
            )
        if self.blip:
            lines.append(f"BLIP: each bit flipped with probability {self.blip}")
        return lines


@dataclass(frozen=True)
class Segment:
    """One part of every encoding: the Bloom filter of some features.

    A plain schema has one segment, the whole CLK. With ``segments`` in the
    ``linkage`` block each field (or group of fields) gets its own filter of
    ``hash_bits``, so the matcher can compare records field by field.
    """

    name: str
    features: tuple[str, ...]
    hash_bits: int  # Bits of the filter before XOR folding and hardening.
    clk_bits: int  # Bits this segment takes in the encoding.
    shared_keys: bool = False  # Its features hash with the first one's keys.
    hardening: Hardening | None = None  # Its own, if not the schema's.


@dataclass(frozen=True)
class SegmentLayout:
    """The ``segments`` setting: filter size and groups (default: one per field).

    With ``shared_keys`` the features of a group hash their tokens with the
    group's first feature's keys, so a token sets the same bits whichever of
    them holds it: a group of given name and surname then encodes "Smith
    John" and "John Smith" alike (tolerance of swapped names).
    """

    bits: int
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    shared_keys: bool = False


#: The name of the CLK of every field: the first filter of an encoding with
#: views, and the one filter of a plain encoding.
WHOLE_CLK = "clk"

#: A view: its name and the fields its CLK holds, in schema order.
View = tuple[str, tuple[str, ...]]

#: Fewer fields than this in one view would let its CLK stand for one field.
MIN_VIEW_FIELDS = 2

#: A match key's members, in schema order: field identifiers, or a field's
#: phonetic code written ``"soundex(field)"``.
MatchKey = tuple[str, ...]
#: The phonetic codes a match key member may take of a field.
PHONETIC_CODES = ("soundex",)
_MEMBER = re.compile(r"\s*(?P<code>[A-Za-z_]+)\s*\(\s*(?P<field>[^()]*?)\s*\)\s*")
#: Fewer fields than this in a match key would make it a hash of one field.
MIN_KEY_FIELDS = 2
#: Match keys (and unique keys) a schema may list.
MAX_KEYS = 8


@dataclass(frozen=True)
class Extension:
    """Everything the ``linkage`` block says."""

    hardening: Hardening = field(default_factory=Hardening)
    segments: SegmentLayout | None = None
    views: tuple[View, ...] = ()
    view_taps: int | None = None
    match_keys: tuple[MatchKey, ...] = ()
    #: Keys written only where their values are unique in the agency's file.
    unique_keys: tuple[MatchKey, ...] = ()
    #: Two fields a match key holding both takes in either order, and whose
    #: tokens the CLK hashes under one key.
    either_order: tuple[str, str] | None = None

    @property
    def all_keys(self) -> tuple[MatchKey, ...]:
        """Every key a record carries, in the order it carries them: the
        match keys, then the unique keys."""
        return self.match_keys + self.unique_keys

    def key_owner(self, identifier: str) -> str:
        """The feature whose hashing keys the tokens of ``identifier`` take:
        the first field of ``either_order`` for the second, itself otherwise."""
        if self.either_order is not None and identifier == self.either_order[1]:
            return self.either_order[0]
        return identifier

    @property
    def view_hardening(self) -> Hardening:
        """The hardening of the views: the schema's, with ``view_taps``."""
        diffusion = self.hardening.diffusion
        if self.view_taps is None or diffusion is None:
            return self.hardening
        views = replace(diffusion, taps=self.view_taps)
        return replace(self.hardening, diffusion=views)


def parse_extension(
    document: Mapping[str, Any],
    feature_ids: Sequence[str],
    fail: Fail,
    text_ids: Sequence[str] | None = None,
) -> Extension:
    """Validate the ``linkage`` block of a schema document (absent: plain).

    ``text_ids`` are the features of string format, the only ones a match
    key may take a phonetic code of (all of ``feature_ids`` if None)."""
    block = document.get(_BLOCK)
    if block is None:
        return Extension()
    if not isinstance(block, dict):
        fail(_BLOCK, "must be a JSON object")
        return Extension()
    _only_keys(
        block,
        _BLOCK,
        {
            "hardening",
            "segments",
            "views",
            "view_taps",
            "match_keys",
            "unique_keys",
            "either_order",
        },
        fail,
    )
    hardening = block.get("hardening", {})
    if not isinstance(hardening, dict):
        fail(_HARDENING, "must be a JSON object")
        hardening = {}
    segments = _parse_segments(block.get("segments"), feature_ids, fail)
    views = _parse_views(block.get("views", {}), feature_ids, fail)
    if views and "segments" in block:
        fail(
            f"{_BLOCK}.views",
            "cannot be combined with 'segments': views are whole CLKs of "
            "several fields, segments per-field filters; choose one",
        )
    parsed = _parse_hardening(hardening, feature_ids, fail)
    either_order = _parse_either_order(block.get("either_order"), feature_ids, fail)
    _check_pair_kept_together(either_order, views, "segments" in block, fail)
    texts = feature_ids if text_ids is None else text_ids
    match_keys = _parse_match_keys(
        block.get("match_keys", []), feature_ids, texts, fail
    )
    unique_keys = _parse_match_keys(
        block.get("unique_keys", []), feature_ids, texts, fail, "unique_keys"
    )
    if unique_keys and not match_keys:
        fail(
            f"{_BLOCK}.unique_keys",
            "needs a match key beside it: a linkage uses unique keys only "
            "where pairs a match key can compare show them to be reliable; "
            "add 'match_keys' (the shipped default's: both names' Soundex "
            "codes and the birth date)",
        )
    for number, key in enumerate(unique_keys):
        if key in match_keys:
            fail(
                f"{_BLOCK}.unique_keys[{number}]",
                f"holds the same fields as match key {match_keys.index(key)}; "
                "a key is either written for every record or only where unique",
            )
    _check_pair_alike(either_order, match_keys, fail)
    _check_pair_alike(either_order, unique_keys, fail, "unique_keys")
    return Extension(
        hardening=parsed,
        segments=segments,
        views=views,
        view_taps=_parse_view_taps(block, views, parsed, fail),
        match_keys=match_keys,
        unique_keys=unique_keys,
        either_order=either_order,
    )


def _check_pair_kept_together(
    pair: tuple[str, str] | None,
    views: tuple[View, ...],
    has_segments: bool,
    fail: Fail,
) -> None:
    """The two fields of ``either_order`` hash under one key, so every filter
    must hold both or neither: a view of one alone would hold the other's
    name-like tokens under its key."""
    if pair is None:
        return
    path = f"{_BLOCK}.either_order"
    if has_segments:
        fail(
            path,
            "cannot be combined with 'segments': a segment group with "
            "'shared_keys' already hashes its fields under one key",
        )
    for name, fields in views:
        if len(set(pair) & set(fields)) == 1:
            fail(
                path,
                f"view {name!r} holds one of {pair[0]!r} and {pair[1]!r}: "
                "a view must hold both fields of the pair or neither",
            )


@dataclass(frozen=True)
class KeyMember:
    """One member of a match key: a field, as it is or as a phonetic code."""

    field: str
    code: str | None = None

    @classmethod
    def parse(cls, member: str) -> KeyMember:
        """``"surname"`` or ``"soundex(surname)"`` (any case and spacing of
        the code); any other ``name(...)`` gives its name as the code (the
        parser refuses unknown codes)."""
        written = _MEMBER.fullmatch(member)
        if written is None:
            return cls(member)
        return cls(written["field"], written["code"].lower())

    def __str__(self) -> str:
        """As the schema's parsed keys, headers and key derivation write it."""
        return self.field if self.code is None else f"{self.code}({self.field})"


def key_fields(key: MatchKey) -> tuple[str, ...]:
    """The fields a match key is made of, in the key's order."""
    return tuple(KeyMember.parse(member).field for member in key)


def beside_a_match_key(
    unique_key: Sequence[str], match_keys: Sequence[Sequence[str]]
) -> bool:
    """Whether ``unique_key`` holds only fields of some match key, every
    field that key holds as it is, and at least one it holds as a code.

    Two records sharing such a unique key but not the match key agree
    exactly on all it compares exactly (the birth date) and on one name,
    and differ only in how another name sounds: a typo that changes the
    name's code, a changed surname.
    """
    fields = set(key_fields(tuple(unique_key)))
    for key in match_keys:
        members = [KeyMember.parse(member) for member in key]
        exact = {m.field for m in members if m.code is None}
        coded = {m.field for m in members if m.code is not None}
        if exact and fields <= exact | coded and exact <= fields and fields & coded:
            return True
    return False


def _parse_match_keys(
    value: Any,
    feature_ids: Sequence[str],
    text_ids: Sequence[str],
    fail: Fail,
    name: str = "match_keys",
) -> tuple[MatchKey, ...]:
    path = f"{_BLOCK}.{name}"
    shape = 'must list the fields of each key: [["f1", "f2"], ["f3", "f2"]]'
    if not isinstance(value, list) or len(value) > MAX_KEYS:
        fail(path, f"{shape}, at most {MAX_KEYS} keys")
        return ()
    keys: list[MatchKey] = []
    for number, members in enumerate(value):
        where = f"{path}[{number}]"
        if not isinstance(members, list) or not all(
            isinstance(member, str) for member in members
        ):
            fail(where, shape)
            continue
        key = _parse_key(members, feature_ids, text_ids, where, fail)
        if key is None:
            continue
        if key in keys:
            fail(where, f"holds the same fields as key {keys.index(key)}")
        else:
            keys.append(key)
    return tuple(keys)


def _parse_key(
    members: list[str],
    feature_ids: Sequence[str],
    text_ids: Sequence[str],
    where: str,
    fail: Fail,
) -> MatchKey | None:
    """One key's members in the features' order, written alike, or None
    after a failure."""
    parsed = [KeyMember.parse(member) for member in members]
    unknown = [m.field for m in parsed if m.field not in feature_ids]
    if unknown:
        fail(where, f"no encoded feature is called {', '.join(map(repr, unknown))}")
        return None
    codes = sorted({m.code for m in parsed if m.code not in (None, *PHONETIC_CODES)})
    if codes:
        fail(
            where,
            f"no phonetic code is called {', '.join(map(repr, codes))}; "
            f'known: {", ".join(PHONETIC_CODES)}, as in "soundex(surname)"',
        )
        return None
    coded = [repr(m.field) for m in parsed if m.code and m.field not in text_ids]
    if coded:
        verb = (
            "is not a string feature" if len(coded) == 1 else "are not string features"
        )
        fail(
            where,
            f"{', '.join(coded)} {verb}: a phonetic code is taken of text such "
            "as names",
        )
        return None
    fields = [m.field for m in parsed]
    if len(set(fields)) < len(fields):
        fail(where, "names a field twice; take each field once, as it is or coded")
        return None
    if len(fields) < MIN_KEY_FIELDS:
        fail(
            where,
            f"must hold at least {MIN_KEY_FIELDS} distinct fields, so that "
            "no key is the hash of one field alone",
        )
        return None
    position = {field: number for number, field in enumerate(feature_ids)}
    in_order = sorted(parsed, key=lambda member: position[member.field])
    return tuple(str(member) for member in in_order)


def _check_pair_alike(
    pair: tuple[str, str] | None,
    keys: tuple[MatchKey, ...],
    fail: Fail,
    name: str = "match_keys",
) -> None:
    """A key takes the pair's two values sorted, which compares them only if
    both are coded alike."""
    if pair is None:
        return
    for number, key in enumerate(keys):
        codes = {
            member.field: member.code
            for member in map(KeyMember.parse, key)
            if member.field in pair
        }
        if len(codes) == 2 and codes[pair[0]] != codes[pair[1]]:
            fail(
                f"{_BLOCK}.{name}[{number}]",
                f"holds {pair[0]!r} and {pair[1]!r} (the 'either_order' pair) "
                "coded differently; code both alike or neither",
            )


def _parse_either_order(
    value: Any, feature_ids: Sequence[str], fail: Fail
) -> tuple[str, str] | None:
    if value is None:
        return None
    path = f"{_BLOCK}.either_order"
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(member, str) for member in value)
        or value[0] == value[1]
    ):
        fail(path, 'must name two different fields: ["given_name", "surname"]')
        return None
    unknown = [member for member in value if member not in feature_ids]
    if unknown:
        fail(path, f"no encoded feature is called {', '.join(map(repr, unknown))}")
        return None
    first, second = (f for f in feature_ids if f in value)
    return first, second


def _parse_view_taps(
    block: Mapping[str, Any], views: tuple[View, ...], hardening: Hardening, fail: Fail
) -> int | None:
    if "view_taps" not in block:
        return None
    path = f"{_BLOCK}.view_taps"
    if not views or hardening.diffusion is None:
        fail(path, "applies only with 'views' and 'hardening.diffusion'")
        return None
    return _whole(block["view_taps"], path, 1, _MAX_TAPS, fail)


def _parse_views(
    value: Any, feature_ids: Sequence[str], fail: Fail
) -> tuple[View, ...]:
    path = f"{_BLOCK}.views"
    if not isinstance(value, dict):
        fail(path, 'must map a view name to its fields: {"name": ["f1", "f2"]}')
        return ()
    views: list[View] = []
    seen: dict[frozenset[str], str] = {}
    for name, members in value.items():
        where = f"{path}.{name}"
        if name == WHOLE_CLK:
            message = f"{WHOLE_CLK!r} is the name of the CLK of every field"
            fail(where, f"{message}; rename it")
            continue
        if not isinstance(members, list) or not all(
            isinstance(member, str) for member in members
        ):
            fail(where, "must be a list of feature identifiers")
            continue
        unknown = [member for member in members if member not in feature_ids]
        if unknown:
            fail(where, f"no encoded feature is called {', '.join(map(repr, unknown))}")
            continue
        chosen = frozenset(members)
        if len(chosen) < MIN_VIEW_FIELDS:
            fail(
                where,
                f"must hold at least {MIN_VIEW_FIELDS} distinct fields, so that "
                "no CLK stands for one field alone",
            )
        elif chosen == frozenset(feature_ids):
            fail(where, "holds every field: it would repeat the CLK itself")
        elif chosen in seen:
            fail(where, f"holds the same fields as {seen[chosen]!r}")
        else:
            seen[chosen] = name
            ordered = tuple(f for f in feature_ids if f in chosen)
            views.append((name, ordered))
    return tuple(views)


def _parse_segments(
    value: Any, feature_ids: Sequence[str], fail: Fail
) -> SegmentLayout | None:
    path = f"{_BLOCK}.segments"
    if value is None:
        return None
    if not isinstance(value, dict):
        fail(path, 'must be a JSON object such as {"bits": 512}')
        return None
    _only_keys(value, path, {"bits", "groups", "shared_keys"}, fail)
    shared = value.get("shared_keys", False)
    if not isinstance(shared, bool):
        fail(f"{path}.shared_keys", f"must be true or false, got {shared!r}")
        shared = False
    bits = _whole(value.get("bits"), f"{path}.bits", 64, _MAX_LENGTH, fail)
    if bits is not None and bits % 8:
        fail(f"{path}.bits", f"must be a multiple of 8, got {bits}")
    groups = _parse_groups(value.get("groups", {}), feature_ids, f"{path}.groups", fail)
    if bits is None or bits % 8:
        return None
    return SegmentLayout(bits=bits, groups=groups, shared_keys=shared)


def _parse_groups(
    value: Any, feature_ids: Sequence[str], path: str, fail: Fail
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        fail(path, 'must map a group name to its features: {"name": [...]}')
        return ()
    grouped: dict[str, str] = {}
    groups = []
    for name, members in value.items():
        if not isinstance(members, list) or not members:
            fail(f"{path}.{name}", "must be a non-empty list of feature identifiers")
            continue
        for member in members:
            if member not in feature_ids:
                fail(f"{path}.{name}", f"no encoded feature is called {member!r}")
            elif member in grouped:
                fail(f"{path}.{name}", f"{member!r} is already in {grouped[member]!r}")
            grouped[str(member)] = name
        groups.append((name, tuple(str(member) for member in members)))
    return tuple(groups)


def _parse_hardening(
    block: Mapping[str, Any], feature_ids: Sequence[str], fail: Fail
) -> Hardening:
    _only_keys(block, _HARDENING, {"salt", "balance", "diffusion", "blip"}, fail)
    balance = block.get("balance", False)
    if not isinstance(balance, bool):
        fail(f"{_HARDENING}.balance", f"must be true or false, got {balance!r}")
        balance = False
    return Hardening(
        salt=_parse_salt(block.get("salt"), feature_ids, fail),
        balance=balance,
        diffusion=_parse_diffusion(block.get("diffusion"), fail),
        blip=_parse_blip(block.get("blip"), fail),
    )


def _parse_salt(value: Any, feature_ids: Sequence[str], fail: Fail) -> Salt | None:
    path = f"{_HARDENING}.salt"
    if value is None:
        return None
    if not isinstance(value, dict):
        fail(path, "must be a JSON object with 'features' and 'with'")
        return None
    _only_keys(value, path, {"features", "with", "characters"}, fail)
    features = value.get("features")
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(name, str) for name in features)
    ):
        fail(f"{path}.features", "must be a non-empty list of feature identifiers")
        return None
    source = value.get("with")
    if not isinstance(source, str):
        fail(f"{path}.with", "must name the feature whose value is the salt")
        return None
    for name in [*features, source]:
        if name not in feature_ids:
            fail(path, f"no feature is called {name!r}")
    if source in features:
        fail(f"{path}.with", "a feature cannot be salted with itself")
    start, stop = _parse_characters(value.get("characters"), f"{path}.characters", fail)
    return Salt(features=tuple(features), source=source, start=start, stop=stop)


def _parse_characters(value: Any, path: str, fail: Fail) -> tuple[int, int | None]:
    if value is None:
        return 0, None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in value)
        and 0 <= value[0] < value[1]
    ):
        return value[0], value[1]
    fail(path, f"must be [first, stop] with 0 <= first < stop, got {value!r}")
    return 0, None


def _parse_diffusion(value: Any, fail: Fail) -> Diffusion | None:
    path = f"{_HARDENING}.diffusion"
    if value is None:
        return None
    if not isinstance(value, dict):
        fail(path, "must be a JSON object with 'taps' and 'length'")
        return None
    _only_keys(value, path, {"taps", "length"}, fail)
    taps = _whole(value.get("taps"), f"{path}.taps", 2, _MAX_TAPS, fail)
    length = _whole(value.get("length"), f"{path}.length", 8, _MAX_LENGTH, fail)
    if taps is None or length is None:
        return None
    if length % 8:
        fail(f"{path}.length", f"must be a multiple of 8, got {length}")
        return None
    return Diffusion(taps=taps, length=length)


def _parse_blip(value: Any, fail: Fail) -> float:
    path = f"{_HARDENING}.blip"
    if value is None:
        return 0.0
    if not isinstance(value, dict) or set(value) != {"flip_probability"}:
        fail(path, 'must be {"flip_probability": p} with 0 < p < 0.5')
        return 0.0
    probability = value["flip_probability"]
    if (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or not 0 < probability < 0.5
    ):
        fail(f"{path}.flip_probability", f"must be between 0 and 0.5, got {value!r}")
        return 0.0
    return float(probability)


def _whole(value: Any, path: str, low: int, high: int, fail: Fail) -> int | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        fail(path, f"must be a whole number from {low} to {high}, got {value!r}")
        return None
    return value


def _only_keys(
    block: Mapping[str, Any], path: str, allowed: set[str], fail: Fail
) -> None:
    for key in block:
        if key not in allowed:
            fail(
                f"{path}.{key}",
                f"unknown key; allowed here: {', '.join(sorted(allowed))}",
            )
