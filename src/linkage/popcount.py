"""The bits set in a 64-bit word, for numba kernels.

LLVM's ``ctpop`` as a numba intrinsic: one instruction (``popcnt``, or
``vpopcntq`` where a loop is vectorised on AVX-512), which numba has no
builtin for. Shared by the matching kernels and the privacy attackers.
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic

import linkage.jit  # noqa: F401  (numba without its BLAS probe)

__all__ = ["popcount64"]


def _ctpop(typingctx: Any, word: Any) -> Any:
    """The bits set in one uint64 word: LLVM's ctpop, vpopcntq when vectorised."""
    if word != types.uint64:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


# Typed as Any: numba's stubs see the typing function's signature, not the call's.
popcount64: Any = intrinsic(_ctpop)
