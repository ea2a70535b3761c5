"""The service's persistent state, in any SQL database SQLAlchemy reaches."""

from linkage.storage.records import (
    CreatedProject,
    Mode,
    Party,
    Project,
    RecordedUpload,
    Role,
    TokenRecord,
    Upload,
)
from linkage.storage.store import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    Store,
    StoreError,
    UploadRejectedError,
    hash_token,
)

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "CreatedProject",
    "Mode",
    "NotFoundError",
    "Party",
    "Project",
    "RecordedUpload",
    "Role",
    "Store",
    "StoreError",
    "TokenRecord",
    "Upload",
    "UploadRejectedError",
    "hash_token",
]
