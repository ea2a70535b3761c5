"""Secrets and keys, read from files or environment variables and written safely.

An agency holds two keys, both made by ``linkage keygen`` and stored the same
way (43 base64url characters and a newline, in a file of mode 0600):

- the *linkage secret*, shared among the agencies (and never with the linkage
  operator), from which the Bloom filter hashing keys are derived. A
  passphrase is accepted in its place if it is not obviously weak, and is
  stretched with scrypt (:mod:`linkage.encoding.passphrase`);
- the *vault key*, kept by the agency alone, which seals its pseudonym vault.

Keys never travel on the command line, and no message or log line here
contains one: errors name the file or the environment variable, never what is
in it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import stat
from pathlib import Path

from linkage.atomic import private_output
from linkage.encoding.passphrase import (
    is_generated_key,
    passphrase_weakness,
    stretch_passphrase,
)
from linkage.errors import SecretError
from linkage.formats.schema import LinkageSchema

__all__ = [
    "KEY_BYTES",
    "generate_key_text",
    "read_secret",
    "read_vault_key",
    "write_key_file",
]

logger = logging.getLogger(__name__)

#: Random bytes in a key made by :func:`generate_key_text` (256 bits).
KEY_BYTES = 32

_KEYGEN_HINT = "Create one with `linkage keygen --out FILE`."
_VAULT_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{43}=?")


def generate_key_text() -> str:
    """Return a new random key: 32 bytes from :mod:`secrets`, base64url, unpadded.

    Draws are repeated (about 4,000 times, a few milliseconds) until the key
    carries the check bits that tell a keygen key from typed text
    (:func:`~linkage.encoding.passphrase.is_generated_key`): 244 random bits.

    Example:
        >>> len(generate_key_text())
        43
    """
    while True:
        raw = secrets.token_bytes(KEY_BYTES)
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        if is_generated_key(text):
            return text


def write_key_file(path: Path, *, force: bool = False) -> None:
    """Write a new random key and a newline to ``path``, with mode 0600.

    The file is written to a temporary file beside ``path`` and renamed onto
    it, so a reader never sees half a key.

    Raises:
        SecretError: ``path`` exists and ``force`` is false, or it cannot be
            written.
    """
    exists_message = (
        f"key file {path} already exists; refusing to replace it "
        "(use --force to replace it; whatever it protects becomes unreadable)"
    )
    if path.exists() and not force:
        raise SecretError(exists_message)
    text = generate_key_text() + "\n"
    try:
        with private_output(path, overwrite=force) as out:
            out.write(text.encode("ascii"))
    except FileExistsError:
        raise SecretError(exists_message) from None
    except OSError as error:
        raise SecretError(f"cannot write key file {path}: {error.strerror}") from None


def read_secret(
    path: Path | None,
    schema: LinkageSchema,
    env_var: str = "LINKAGE_SECRET",
    *,
    as_is: bool = False,
) -> bytes:
    """Read the linkage secret shared by the agencies: the key to encode with.

    The secret comes from ``path`` when given, else from the environment
    variable ``env_var``; surrounding whitespace (the trailing newline) is
    removed. A key made by ``linkage keygen`` is returned as is (its UTF-8
    text, as clkhash uses a secret). Any other text is a passphrase: refused
    if weak, else stretched with scrypt for ``schema``, with a warning; with
    ``as_is`` it is used as written instead (not stretched), as clkhash itself
    would, so that files made by clkhash with that secret link with ours.

    Raises:
        SecretError: there is no secret, or it cannot be read, is not UTF-8
            text, or is a weak passphrase.
    """
    text, source = _read_key_text(path, env_var, "linkage secret")
    if is_generated_key(text):
        return text.encode("ascii")
    weakness = passphrase_weakness(text)
    if weakness is not None:
        raise SecretError(
            f"the linkage secret in {source} is not a key made by `linkage "
            f"keygen` and is too weak to use as a passphrase: {weakness}. "
            f"{_KEYGEN_HINT} Share that file among the agencies instead."
        )
    if as_is:
        logger.warning(
            "the linkage secret in %s is used as written, as clkhash uses it, "
            "not stretched: anyone holding an encodings file can test guesses "
            "of it at full speed against its key-check value.",
            source,
        )
        return text.encode("utf-8")
    logger.warning(
        "the linkage secret in %s is a passphrase, not a key made by `linkage "
        "keygen`: it is stretched with scrypt for this schema, so clkhash given "
        "the same text would make other CLKs. A keygen key is stronger.",
        source,
    )
    return stretch_passphrase(text, schema)


def read_vault_key(path: Path | None, env_var: str = "LINKAGE_VAULT_KEY") -> bytes:
    """Read the agency's 32-byte vault key (AES-256), as written by keygen.

    The key comes from ``path`` when given, else from the environment variable
    ``env_var``, as base64url text that decodes to exactly 32 bytes.

    Raises:
        SecretError: there is no key, or it cannot be read, or it is not a
            base64url encoding of 32 bytes.
    """
    text, source = _read_key_text(path, env_var, "vault key")
    invalid = SecretError(
        f"{source} does not hold a vault key: expected 43 base64url characters "
        f"that encode {KEY_BYTES} bytes. {_KEYGEN_HINT}"
    )
    if not _VAULT_KEY_TEXT.fullmatch(text):
        raise invalid
    try:
        key = base64.urlsafe_b64decode(text.rstrip("=") + "=")
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(key) != KEY_BYTES:
        raise invalid
    return key


def _read_key_text(path: Path | None, env_var: str, what: str) -> tuple[str, str]:
    """Return the stripped key text and a description of where it came from."""
    if path is None:
        return _key_text_from_env(env_var, what), f"environment variable {env_var}"
    source = f"{what} file {path}"
    raw = _read_key_bytes(path, source)
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        # The error's own text quotes the offending byte: never show it.
        raise SecretError(f"{source} is not UTF-8 text. {_KEYGEN_HINT}") from None
    if not text:
        raise SecretError(f"{source} is empty. {_KEYGEN_HINT}")
    return text, source


def _key_text_from_env(env_var: str, what: str) -> str:
    value = os.environ.get(env_var)
    if value is None:
        raise SecretError(
            f"no {what} given: pass a {what} file made by `linkage keygen` "
            f"or set the environment variable {env_var}"
        )
    text = value.strip()
    if not text:
        raise SecretError(f"environment variable {env_var} is empty. {_KEYGEN_HINT}")
    return text


def _read_key_bytes(path: Path, source: str) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SecretError(f"{source} does not exist. {_KEYGEN_HINT}") from None
    except OSError as error:
        raise SecretError(f"cannot read {source}: {error.strerror}") from None
    _warn_if_shared(path, source)
    return raw


def _warn_if_shared(path: Path, source: str) -> None:
    """Log a warning when other users may read or change the key file."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        logger.warning(
            "%s can be read or changed by other users (mode %04o); "
            "restrict it with `chmod 600 %s`",
            source,
            mode,
            path,
        )
