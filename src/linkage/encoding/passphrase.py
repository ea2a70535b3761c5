"""How the text of a linkage secret becomes the key the encoder hashes with.

A secret made by ``linkage keygen`` (43 base64url characters of 32 random
bytes, drawn until they carry 12 check bits: :func:`is_generated_key`) is used
exactly as written, as clkhash uses its secret, so its CLKs are byte-identical
to clkhash's. Any other text is a *passphrase*: it is refused if it is
obviously weak, and otherwise stretched with scrypt (RFC 7914) under a salt of
the schema's fingerprint into a key of the keygen form. Every guess of a
passphrase then costs an attacker one scrypt, and the same passphrase gives
unrelated keys in projects with different schemas. Keys from versions of
keygen before the check bits are passphrases now: random, so accepted, and
stretched.

:func:`common_secrets` lists the secrets that guessing tools try first; it is
both the weak-passphrase check's list and the default dictionary of the
offline-guessing attacker in ``linkage privacy-check``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import itertools
import re
import string
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from linkage.formats.schema import LinkageSchema

__all__ = [
    "MIN_PASSPHRASE_CHARS",
    "common_secrets",
    "encoding_key",
    "is_generated_key",
    "passphrase_weakness",
    "stretch_passphrase",
]

#: The shortest passphrase accepted (a keygen key has 43 characters).
MIN_PASSPHRASE_CHARS = 20
#: Fewer different characters than this is too little variety.
_MIN_DISTINCT = 8
#: Fewer letters than this, once common words are taken out, is too few.
_MIN_OWN_LETTERS = 8

# OWASP's recommended scrypt cost (N=2**17, r=8, p=1: 128 MiB, under a second).
_SCRYPT_N = 1 << 17
_SCRYPT_R = 8
_SCRYPT_P = 1
_KEY_BYTES = 32
# Not an HKDF info but a scrypt salt prefix; versioned like the HKDF labels.
_STRETCH_LABEL = b"linkage/passphrase/v1/"

# Keygen draws keys until SHA-256 of this label and the key's bytes starts
# with 12 zero bits, so typed text passes for a key once in 4,096 at most.
_CHECK_LABEL = b"linkage keygen key check bits v1\n"
_KEY_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{43}")
# Random 43-character text has fewer than 16 different characters with
# probability 6e-14, and 21 of its 42 neighbouring pairs equal or adjacent in
# the alphabet with probability 3e-17: text failing either was typed.
_KEY_MIN_DISTINCT = 16
_KEY_MAX_STEPS = 20


def is_generated_key(text: str) -> bool:
    """Whether ``text`` is a key as ``linkage keygen`` writes them.

    It must be the unpadded base64url text of 32 bytes that carry keygen's 12
    check bits, and look random: both letter cases and many different
    characters, without runs or alphabet walks. Keygen draws until its key
    passes, so a real key always does; typed text rarely.
    """
    if not _KEY_TEXT.fullmatch(text):
        return False
    raw = _key_bytes(text)
    if raw is None or not _has_check_bits(raw):
        return False
    if text.lower() == text or text.upper() == text:
        return False
    if len(set(text)) < _KEY_MIN_DISTINCT:
        return False
    positions = [_KEY_ALPHABET.index(char) for char in text]
    steps = sum(abs(a - b) <= 1 for a, b in itertools.pairwise(positions))
    return steps <= _KEY_MAX_STEPS


def _key_bytes(text: str) -> bytes | None:
    """The 32 bytes ``text`` is exactly the base64url encoding of, or None."""
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") == text
    return raw if canonical and len(raw) == _KEY_BYTES else None


def _has_check_bits(raw: bytes) -> bool:
    digest = hashlib.sha256(_CHECK_LABEL + raw).digest()
    return digest[0] == 0 and digest[1] < 16


def passphrase_weakness(text: str) -> str | None:
    """Why ``text`` is too weak to be a passphrase, or None if it is not.

    The reason never quotes the passphrase.
    """
    if len(text) < MIN_PASSPHRASE_CHARS:
        return f"it has fewer than {MIN_PASSPHRASE_CHARS} characters"
    if len(set(text)) < _MIN_DISTINCT:
        return f"it uses fewer than {_MIN_DISTINCT} different characters"
    if _repeats_a_piece(text):
        return "it is one short piece repeated"
    if text in _common_set() or text.casefold() in _common_set():
        return "it is a common password or pattern, among the first guesses tried"
    if _own_letters(text) < _MIN_OWN_LETTERS:
        return "apart from common passwords it is mostly digits and symbols"
    return None


def _own_letters(text: str) -> int:
    """Letters of ``text`` that are not part of a common password."""
    rest = text.casefold()
    for word in _COMMON_WORDS:
        rest = rest.replace(word, "")
    return sum(char.isalpha() for char in rest)


def _repeats_a_piece(text: str) -> bool:
    return any(
        len(text) % size == 0 and text == text[:size] * (len(text) // size)
        for size in range(1, len(text) // 2 + 1)
    )


def stretch_passphrase(passphrase: str, schema: LinkageSchema) -> bytes:
    """The key a passphrase gives under ``schema``: scrypt, in keygen form.

    The salt is the schema's fingerprint (which covers its HKDF salt), so the
    parties of one project get the same key and other projects other keys.
    The result is 43 base64url characters, like a keygen key, so clkhash
    given that text makes the same CLKs.
    """
    salt = _STRETCH_LABEL + bytes.fromhex(schema.fingerprint)
    key = Scrypt(
        salt=salt, length=_KEY_BYTES, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P
    ).derive(passphrase.encode("utf-8"))
    return base64.urlsafe_b64encode(key).rstrip(b"=")


def encoding_key(text: str, schema: LinkageSchema) -> bytes:
    """The key to encode with: a keygen key as is, a passphrase stretched.

    Weak passphrases are not refused here (see :func:`passphrase_weakness`);
    :func:`linkage.encoding.keyfiles.read_secret` refuses them.
    """
    if is_generated_key(text):
        return text.encode("ascii")
    return stretch_passphrase(text, schema)


def common_secrets() -> Iterator[str]:
    """Secrets guessing tools try first, most common first, each once.

    Common passwords with case and digit variants, characters and short
    pieces repeated, keyboard and alphabet walks, and famous passphrases:
    about 59,000 guesses, generated here rather than shipped as a list.
    """
    seen: set[str] = set()
    for candidate in itertools.chain(
        _COMMON_WORDS,
        _repeated_characters(),
        _word_variants(),
        _walks(),
        _FAMOUS_PHRASES,
    ):
        if candidate not in seen:
            seen.add(candidate)
            yield candidate


@functools.cache
def _common_set() -> frozenset[str]:
    return frozenset(common_secrets())


_COMMON_WORDS = (
    "password 123456 12345678 qwerty abc123 letmein welcome admin iloveyou "
    "monkey dragon football baseball master sunshine princess trustno1 secret "
    "shadow superman batman michael jessica charlie freedom whatever starwars "
    "computer hello login passw0rd p@ssw0rd p@ssword pa55word changeme "
    "default test testing guest root qwertyuiop asdfgh zxcvbn 1q2w3e4r "
    "1qaz2wsx qazwsx access mustang summer winter spring autumn flower "
    "hunter ranger soccer hockey killer pepper ginger cookie chocolate "
    "linkage clkhash anonlink record privacy health police hospital agency "
    "government council australia london sydney melbourne canberra"
).split()
_SUFFIXES = (
    "", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678",
    "123456789", "!", "1!", "123!", "01", "007", "69", "99", "00",
)  # fmt: skip
_YEARS = tuple(str(year) for year in range(1950, 2031))


def _word_variants() -> Iterator[str]:
    for word in _COMMON_WORDS:
        for cased in (word, word.capitalize(), word.upper()):
            for suffix in _SUFFIXES + _YEARS + tuple(string.digits):
                yield cased + suffix
                yield cased * 2 + suffix
            yield cased + "_" + cased


def _repeated_characters() -> Iterator[str]:
    for length in (8, 10, 12, 16, 20, 24, 32, 43, 64, *range(1, 65)):
        for char in string.printable.strip():
            yield char * length


_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "!@#$%^&*()")
_RUNS = (
    string.ascii_lowercase,
    string.ascii_uppercase,
    string.digits,
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    _KEY_ALPHABET,
)


def _walks() -> Iterator[str]:
    """Keyboard and alphabet walks, whole, cut short, reversed and repeated."""
    pieces = _ROWS + _RUNS + tuple("".join(rows) for rows in _row_pairs())
    for piece in pieces:
        for length in range(4, len(piece) + 1):
            for cut in (piece[:length], piece[::-1][:length]):
                yield from _extended(cut)


def _row_pairs() -> Iterable[tuple[str, str]]:
    return itertools.permutations(_ROWS, 2)


def _extended(piece: str) -> Iterator[str]:
    """``piece``, itself twice, and repeated to 16, 20, 32 and 43 characters."""
    yield piece
    yield piece * 2
    for length in (16, 20, 32, 43):
        yield (piece * (length // len(piece) + 1))[:length]


_FAMOUS_PHRASES = (
    "correct horse battery staple",
    "correcthorsebatterystaple",
    "the quick brown fox jumps over the lazy dog",
    "thequickbrownfoxjumpsoverthelazydog",
    "lorem ipsum dolor sit amet",
    "to be or not to be that is the question",
    "may the force be with you",
    "open sesame",
    "this is a secret",
    "this is my secret",
    "our shared secret",
    "a secret shared by the agencies",
)
