"""linkage: privacy-preserving record linkage for interagency information sharing.

Agencies encode identifying fields into Bloom-filter encodings (CLKs, compatible
with clkhash linkage schema v3) on their own machines; a neutral operator links
the encodings; identities are only disclosed through governed reveals.
"""

from linkage.errors import (
    EncodingFileError,
    InputError,
    LinkageError,
    MappingError,
    SchemaError,
    SecretError,
    VaultError,
)

__version__ = "0.1.0"

__all__ = [
    "EncodingFileError",
    "InputError",
    "LinkageError",
    "MappingError",
    "SchemaError",
    "SecretError",
    "VaultError",
    "__version__",
]
