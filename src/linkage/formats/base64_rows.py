"""Many base64 texts of one length decoded at once, as rows of bytes.

clkhash JSON holds one standard base64 text per CLK, and decoding them one
by one in Python costs about 0.9 us each. Texts of one length and padding
are joined instead, their padding is replaced by zero bits (so that the
joined text is whole groups of four characters) and the whole is decoded in
one call to ``binascii.a2b_base64(strict_mode=True)``, which checks every
character; each row then drops the bytes the padding stood for. Anything
else returns None and the caller decodes text by text, which names the first
bad entry.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["decode_rows"]

_PAD = ord("=")
_ZERO = ord("A")  # The base64 digit of value 0.


def decode_rows(texts: Sequence[object]) -> npt.NDArray[np.uint8] | None:
    """The bytes of each text as one row, or None if any text is not
    standard, padded base64 of the same length and padding as the first."""
    if not texts or not isinstance(texts[0], str):
        return None
    length = len(texts[0])
    padding = length - len(texts[0].rstrip("="))
    if not length or length % 4 or padding > 2:
        return None
    try:
        if any(len(text) != length for text in texts):  # type: ignore[arg-type]
            return None
        joined = "".join(texts).encode("ascii")  # type: ignore[arg-type]
    except (TypeError, UnicodeEncodeError):
        return None
    chars = np.frombuffer(joined, dtype=np.uint8).reshape(len(texts), length)
    if padding:
        if not (chars[:, length - padding :] == _PAD).all():
            return None
        chars = chars.copy()
        chars[:, length - padding :] = _ZERO
    try:
        decoded = binascii.a2b_base64(chars.tobytes(), strict_mode=True)
    except binascii.Error:
        return None
    if len(decoded) != len(joined) // 4 * 3:
        return None  # The last text alone was padded, as the first was not.
    rows = np.frombuffer(decoded, dtype=np.uint8).reshape(len(texts), -1)
    return np.ascontiguousarray(rows[:, : rows.shape[1] - padding])
