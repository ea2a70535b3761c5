"""Offline guessing of the linkage secret from an encodings file's header.

Every encodings file carries a key-check value of the secret, so that the
operator can see that all parties used the same one. Whoever holds a file and
the (public) schema can test candidate secrets against it offline: derive the
key a candidate gives, as ``linkage encode`` would, and compare its key-check
value. A found secret gives the attacker every hashing key, so every record
of every party can be re-identified by encoding a population list.

:func:`guess_secret` tries a dictionary (by default :func:`common_secrets`,
the guesses password crackers start with) in up to three ways:

as is
    the candidate's text is the key, as for a keygen key or a secret given to
    the library unstretched. One HKDF per guess: fast.
stretched
    the candidate is a passphrase ``linkage encode`` accepted and stretched
    with scrypt for the schema. One scrypt per guess: slow. Candidates the
    encoder refuses as weak are skipped, since no file it writes can hold
    their stretched key; so the built-in list is never tried this way.
legacy
    files from older versions carry an unsalted 16-digit value that was
    derived from the text as is; only that is tried for them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from linkage.encoding.keys import key_check_value, legacy_key_check_value
from linkage.encoding.passphrase import (
    MIN_PASSPHRASE_CHARS,
    common_secrets,
    is_generated_key,
    passphrase_weakness,
    stretch_passphrase,
)
from linkage.errors import InputError
from linkage.formats.clkfile import KEY_CHECK_HEX_DIGITS
from linkage.formats.schema import LinkageSchema

__all__ = ["GuessResult", "common_secrets", "dictionary_file", "guess_secret"]

#: How long :func:`guess_secret` guesses by default, in seconds.
DEFAULT_TIME_LIMIT = 60.0
_LEGACY_HEX_DIGITS = 16
_BATCH = 1024  # Fast guesses between looks at the clock.


@dataclass(frozen=True)
class GuessResult:
    """What the guessing attacker achieved.

    Attributes:
        found: whether a candidate gave the file's key-check value. The
            candidate itself is not kept: reports never show a secret.
        way: how the found candidate was used ("as is", "stretched",
            "legacy"), or None.
        fast_guesses: candidates tried as is (or in the legacy form).
        fast_seconds: the time they took.
        stretched_guesses: candidates tried stretched with scrypt.
        stretched_seconds: the time they took.
        complete: False when the time limit stopped the guessing.
    """

    found: bool
    way: str | None
    fast_guesses: int
    fast_seconds: float
    stretched_guesses: int
    stretched_seconds: float
    complete: bool

    @property
    def guesses(self) -> int:
        """Every guess tried, both ways."""
        return self.fast_guesses + self.stretched_guesses

    @property
    def seconds(self) -> float:
        """How long the guessing took."""
        return self.fast_seconds + self.stretched_seconds

    @property
    def fast_rate(self) -> float:
        """Fast guesses per second (0 if none were tried)."""
        return _rate(self.fast_guesses, self.fast_seconds)

    @property
    def stretched_rate(self) -> float:
        """Stretched guesses per second (0 if none were tried)."""
        return _rate(self.stretched_guesses, self.stretched_seconds)

    def describe(self) -> str:
        """One line for a report: found or not, how many guesses, how fast."""
        tried = f"{self.fast_guesses:,} guesses as is at {self.fast_rate:,.0f} a second"
        if self.stretched_guesses:
            tried += (
                f", {self.stretched_guesses:,} stretched with scrypt at "
                f"{self.stretched_rate:,.1f} a second"
            )
        if not self.complete:
            tried += "; stopped at the time limit"
        if self.found:
            return f"the secret was found ({self.way}) after {tried}"
        return f"not found in {tried}"


def guess_secret(
    key_check: str,
    schema: LinkageSchema,
    candidates: Iterable[str] | None = None,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> GuessResult:
    """Try candidate secrets against an encodings file's key-check value.

    Args:
        key_check: the ``key_check`` of the file's header.
        schema: the schema the file was encoded with (its fingerprint salts
            the key-check value and the stretching).
        candidates: secrets to try, most likely first; default
            :func:`common_secrets`.
        time_limit: stop after about this many seconds.

    Raises:
        InputError: ``key_check`` is not a value linkage writes.
    """
    digits = len(key_check)
    if digits not in (KEY_CHECK_HEX_DIGITS, _LEGACY_HEX_DIGITS):
        raise InputError(
            f"the key-check value has {digits} hex digits; linkage writes "
            f"{KEY_CHECK_HEX_DIGITS} (or {_LEGACY_HEX_DIGITS} before it was salted)",
            hint="Pass the key_check of a header written by `linkage encode`.",
        )
    legacy = digits == _LEGACY_HEX_DIGITS
    deadline = time.perf_counter() + time_limit

    def as_is(candidate: str) -> bool:
        key = candidate.encode("utf-8")
        if legacy:
            return legacy_key_check_value(key) == key_check
        return key_check_value(key, schema) == key_check

    def stretched(candidate: str) -> bool:
        return key_check_value(stretch_passphrase(candidate, schema), schema) == (
            key_check
        )

    long_enough: list[str] = []
    fast = _attempt(
        _keeping_long(
            common_secrets() if candidates is None else candidates,
            [] if legacy else long_enough,
        ),
        as_is,
        deadline,
        _BATCH,
    )
    if fast.found or not fast.complete:
        slow = _Attempt(False, 0, 0.0, fast.complete)
    else:
        passphrases = (c for c in long_enough if _stretched_by_encode(c))
        slow = _attempt(passphrases, stretched, deadline, 1)
    way = None
    if fast.found:
        way = "legacy" if legacy else "as is"
    elif slow.found:
        way = "stretched"
    return GuessResult(
        found=fast.found or slow.found,
        way=way,
        fast_guesses=fast.guesses,
        fast_seconds=fast.seconds,
        stretched_guesses=slow.guesses,
        stretched_seconds=slow.seconds,
        complete=fast.complete and slow.complete,
    )


def dictionary_file(path: Path) -> Iterator[str]:
    """Candidate secrets from a file, one a line, read lazily.

    Surrounding whitespace is removed, as when a secret is read; empty lines
    and lines that are not UTF-8 (never a secret linkage reads) are skipped.

    Raises:
        InputError: the file cannot be read.
    """
    try:
        with open(path, "rb") as lines:
            for line in lines:
                try:
                    text = line.decode("utf-8").strip()
                except UnicodeDecodeError:
                    continue
                if text:
                    yield text
    except OSError as error:
        raise InputError(
            f"cannot read the dictionary {path}: {error.strerror}",
            hint="Pass a text file of candidate secrets, one a line.",
        ) from None


@dataclass(frozen=True)
class _Attempt:
    found: bool
    guesses: int
    seconds: float
    complete: bool


def _attempt(
    candidates: Iterable[str],
    matches: Callable[[str], bool],
    deadline: float,
    batch: int,
) -> _Attempt:
    """Try candidates until one matches, they run out, or time is up.

    Only the time spent testing candidates counts, not reading or generating
    them, so the rate is the attacker's, whatever the source of the list.
    """
    guesses = 0
    seconds = 0.0
    remaining = iter(candidates)
    while chunk := list(itertools.islice(remaining, batch)):
        started = time.perf_counter()
        for candidate in chunk:
            guesses += 1
            if matches(candidate):
                return _Attempt(True, guesses, seconds + _since(started), True)
        seconds += _since(started)
        if time.perf_counter() > deadline:
            return _Attempt(False, guesses, seconds, False)
    return _Attempt(False, guesses, seconds, True)


def _since(started: float) -> float:
    return time.perf_counter() - started


def _keeping_long(candidates: Iterable[str], kept: list[str]) -> Iterator[str]:
    """Pass candidates through, keeping those long enough to be passphrases
    (a cheap test here; the full one runs only before stretching)."""
    for candidate in candidates:
        if len(candidate) >= MIN_PASSPHRASE_CHARS:
            kept.append(candidate)
        yield candidate


def _stretched_by_encode(candidate: str) -> bool:
    """Whether ``linkage encode`` would stretch this secret (not refuse it,
    nor use it as is)."""
    return not is_generated_key(candidate) and passphrase_weakness(candidate) is None


def _rate(guesses: int, seconds: float) -> float:
    return guesses / seconds if seconds > 0 else 0.0
