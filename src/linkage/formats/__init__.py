"""File formats `linkage` reads and writes, each defined and versioned in one module."""
