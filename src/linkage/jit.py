"""numba for the kernels, started without its BLAS probe.

The first kernel a process runs makes numba import ``numba.np.arraymath``,
which probes for BLAS by importing ``scipy.linalg.cython_blas``: about 0.1 s
of SciPy in every process that runs a kernel (``linkage match``, the demo, a
service worker), for an answer that only ``np.convolve`` and
``np.correlate`` on floats in compiled code use; without BLAS they use a
loop. No kernel here calls them, and ``np.dot`` or ``np.linalg`` in compiled
code import SciPy themselves when they are compiled. So every module with
kernels imports this one, which runs the probe once with that module marked
absent.
"""

from __future__ import annotations

import sys

_BLAS = "scipy.linalg.cython_blas"


def _start_without_blas_probe() -> None:
    if _BLAS in sys.modules or "numba.np.arraymath" in sys.modules:
        return  # SciPy is loaded anyway, or the probe has run.
    sys.modules[_BLAS] = None  # type: ignore[assignment]
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules[_BLAS]


_start_without_blas_probe()
