"""The allocator setting of chunked commands, in a process of its own (it
lasts for the process)."""

from __future__ import annotations

import platform
import subprocess
import sys

SCRIPT = (
    "from linkage.cli.memory import keep_freed_memory; "
    "import numpy; "
    "print(keep_freed_memory()); "
    "print(sum(int(numpy.ones(5_000_000).sum()) for _ in range(3)))"
)


def test_glibc_takes_the_setting_and_memory_still_works() -> None:
    """On glibc both settings take; elsewhere nothing changes. Large blocks
    are still allocated and freed correctly either way."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    took, total = done.stdout.split()
    assert took == str(platform.libc_ver()[0] == "glibc")
    assert total == str(15_000_000)
