"""The service's database: projects, parties, tokens, uploads and runs.

SQLAlchemy Core with portable SQL only, so the embedded SQLite default and a
PostgreSQL server differ by the database URL alone. Every public method of
:class:`Store` is keyword-only and runs in one transaction: it either happens
whole or not at all.

Tokens are stored as the SHA-256 of their text, never as the text itself; the
plaintext is returned once, when the token is made.

:class:`Store` is assembled from one part per resource, each in its own
module (``projects``, ``tokens``, ``members``, ``upload_records``,
``change_sets``, ``run_queue``, ``deletion``) on the shared
:mod:`~linkage.storage.base`;
reveals (:mod:`~linkage.storage.reveals`) and the audit log
(:mod:`~linkage.storage.audit_log`) are kept apart the same way.
"""

from __future__ import annotations

from linkage.storage.base import (
    AuthenticationError,
    ClaimedRun,
    ConflictError,
    EncodingsDeletedError,
    RunConflictError,
    UploadRejectedError,
    encodings_deleted_message,
    hash_token,
)
from linkage.storage.change_sets import ChangeSetsMixin, UpdatedRecords
from linkage.storage.deletion import DeletionMixin
from linkage.storage.members import MembersMixin
from linkage.storage.projects import ProjectsMixin
from linkage.storage.run_queue import RunsMixin
from linkage.storage.sql import NotFoundError, StoreError
from linkage.storage.tokens import TokensMixin
from linkage.storage.upload_records import UploadsMixin

__all__ = [
    "AuthenticationError",
    "ClaimedRun",
    "ConflictError",
    "EncodingsDeletedError",
    "NotFoundError",
    "RunConflictError",
    "Store",
    "StoreError",
    "UpdatedRecords",
    "UploadRejectedError",
    "encodings_deleted_message",
    "hash_token",
]


class Store(
    ProjectsMixin,
    TokensMixin,
    MembersMixin,
    ChangeSetsMixin,  # Builds on uploads and runs: an update writes both.
    UploadsMixin,
    DeletionMixin,  # Builds on the run queue: a download is of a run's results.
    RunsMixin,
):
    """Projects, parties, tokens, members, uploads and runs in one SQL database.

    Open with :meth:`open`; ``clock`` gives the time stamped on new rows and
    exists so tests can fix it.
    """
