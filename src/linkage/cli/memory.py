"""The C allocator's settings for commands that work through a file in chunks.

Each chunk allocates and frees arrays of a few to some tens of megabytes. By
default glibc maps such a block fresh from the kernel and unmaps it when freed,
or trims the heap under it, so every chunk pays the kernel again to fault in
and zero its pages: about a tenth of a whole ``linkage encode`` (50,000 page
faults on 500,000 records; 35,000 when freed memory is kept). A command is a
short process, so keeping freed memory for reuse costs nothing a user sees;
the service, which runs for days, keeps glibc's defaults.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc refuses a mapping threshold over 32 MB on 64-bit systems.
_LARGEST_FROM_HEAP = 32 << 20
# The largest value mallopt takes (a C int): the heap is never trimmed.
_NEVER_TRIM = 2**31 - 1


def keep_freed_memory() -> bool:
    """Serve blocks of up to 32 MB from the heap and never trim it, so freed
    blocks are reused without new page faults. True if glibc took both
    settings; elsewhere (macOS, musl) nothing changes and this returns False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # The mapping threshold first: setting either one stops glibc from
    # adjusting the other, and a trim threshold alone would map every block.
    mapped = mallopt(_M_MMAP_THRESHOLD, _LARGEST_FROM_HEAP)
    trimmed = mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM) if mapped else 0
    return bool(mapped and trimmed)
