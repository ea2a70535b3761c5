"""The service's persistent state, in any SQL database SQLAlchemy reaches."""

from linkage.storage.records import (
    CreatedProject,
    Mode,
    Party,
    Project,
    RecordedUpload,
    Role,
    Run,
    RunResult,
    RunState,
    TokenRecord,
    Upload,
)
from linkage.storage.store import (
    AuthenticationError,
    ClaimedRun,
    ConflictError,
    NotFoundError,
    RunConflictError,
    Store,
    StoreError,
    UploadRejectedError,
    hash_token,
)

__all__ = [
    "AuthenticationError",
    "ClaimedRun",
    "ConflictError",
    "CreatedProject",
    "Mode",
    "NotFoundError",
    "Party",
    "Project",
    "RecordedUpload",
    "Role",
    "Run",
    "RunConflictError",
    "RunResult",
    "RunState",
    "Store",
    "StoreError",
    "TokenRecord",
    "Upload",
    "UploadRejectedError",
    "hash_token",
]
