"""The exceptions `linkage` raises, in one tree.

Every error a user can cause is a :class:`LinkageError`; the CLI turns it into a
message and a non-zero exit, the service into a 4xx answer. Each subclass also
subclasses the builtin that fits, so callers may catch ``ValueError`` as usual::

    LinkageError
    ├── SchemaError        (ValueError)   the linkage schema is invalid
    ├── MappingError       (ValueError)   an agency mapping file is invalid
    ├── InputError         (ValueError)   a records file has bad rows or columns
    ├── SecretError        (ValueError)   a secret or key file is missing or weak
    ├── EncodingFileError  (ValueError)   an encodings file is unreadable
    └── VaultError                        the vault cannot be opened or is tampered

Messages name the file, the row and the field where one is known, say what was
expected and what was found, and say what to do. They never contain a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LinkageError(Exception):
    """Base class of every error a user of `linkage` can cause."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can.

    ``row`` is the 1-based data row (the header is not counted), so a
    spreadsheet user finds it on line ``row + 1``.
    """

    message: str
    source: str | None = None
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class _ProblemsError(LinkageError):
    """An error that carries every problem found, so the user fixes them at once."""

    def __init__(
        self,
        summary: str,
        problems: Sequence[Problem] = (),
        hint: str | None = None,
        *,
        total: int | None = None,
    ) -> None:
        """``total`` is the number of problems found, when only the first of
        them are kept in ``problems`` (a file with a bad value on every row
        must not fill memory), so the message counts every one."""
        self.summary = summary
        self.problems = list(problems)
        self.hint = hint
        self.total = max(total or 0, len(self.problems))
        super().__init__(self._render())

    _MAX_SHOWN = 20

    def _render(self) -> str:
        lines = [self.summary]
        for problem in self.problems[: self._MAX_SHOWN]:
            lines.append(f"  - {problem}")
        hidden = self.total - min(len(self.problems), self._MAX_SHOWN)
        if hidden > 0:
            lines.append(f"  ... and {hidden:,} more")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class SchemaError(_ProblemsError, ValueError):
    """The linkage schema is not valid (or uses a key clkhash would ignore)."""


class MappingError(_ProblemsError, ValueError):
    """An agency mapping file is not valid."""


class InputError(_ProblemsError, ValueError):
    """A records file cannot be encoded as it is: columns, rows or values."""


class SecretError(LinkageError, ValueError):
    """A secret or key file is missing, empty, unreadable or too short."""


class EncodingFileError(LinkageError, ValueError):
    """An encodings file is not in a format we can read, or is damaged."""


class VaultError(LinkageError):
    """The vault cannot be decrypted (wrong key) or has been altered."""
