"""Compile the matching kernels (and the privacy check's) once, ahead of the
first real run.

numba compiles each kernel the first time it is called: tens of seconds for
the whole set, paid by a new user's first ``linkage match`` or ``linkage
demo``. Every kernel is declared with ``cache=True``, so what is compiled once
is stored on disk and loaded by later processes in milliseconds. This module
runs the matcher over a few hundred synthetic records in every configuration
that reaches a kernel, so the cache is full before anyone needs it; ``make
install`` runs it::

    python -m linkage.matching.warmup

**Where the cache goes** (numba decides; nothing here overrides it): with
``NUMBA_CACHE_DIR`` set, there; otherwise in the ``__pycache__`` folder next to
each kernel's source if that is writable (a clone, an editable install, a
virtualenv); otherwise in the user's cache folder (``~/.cache/numba``). If none
is writable, numba refuses to import the kernels' modules ("cannot cache
function ...: no locator available"): set ``NUMBA_CACHE_DIR`` to a writable
folder (in a container image, set it and run this module while building). An
entry is valid for one source file's content, one Python and numba version and
one CPU, so editing a kernel's module, upgrading numba or moving to another
CPU compiles once more. Run this module as the user who runs linkage, with the
same ``NUMBA_CACHE_DIR``.

The kernels see the same argument types as in a real run because the records
take the real path: written as encodings files, read back with
:func:`~linkage.matching.parties.load_parties`, linked by
:class:`~linkage.matching.matcher.Matcher`.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.formats.clkfile import EncodingHeader, EncodingWriter
from linkage.matching.lookup import ClkIndex
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import PartySet, load_parties

#: The modules that hold cached kernels.
KERNEL_MODULES = (
    "linkage.matching.clk.similarity",
    "linkage.matching.clk.blocking",
    "linkage.matching.clustering",
    "linkage.matching.solving",
    "linkage.privacy.frequency",
    "linkage.privacy.known_plaintext",
    "linkage.matching.lookup",
)

_BITS = 1024
_ENTITIES = 400
_SEED = 2026

# Every configuration below reaches kernels the others do not: cluster_links
# _and_dedup, cluster_parties, both one-to-one solvers, cluster_dedup, and LSH.
_RUNS: tuple[tuple[int, MatchSettings], ...] = (
    (3, MatchSettings(threshold="auto", dedup=True, blocking="none")),
    (3, MatchSettings(threshold=0.8, blocking="none")),
    (2, MatchSettings(threshold=0.8, solver="greedy", blocking="none")),
    (2, MatchSettings(threshold=0.8, solver="optimal", blocking="none")),
    (1, MatchSettings(threshold=0.8, dedup=True, blocking="none")),
    (2, MatchSettings(threshold=0.8, dedup=True, blocking="lsh")),
)


@dataclass(frozen=True)
class Kernel:
    """One cached kernel: its signatures compiled and loaded in this process.

    A kernel called only by other kernels is compiled into them; when they
    come from the cache it is neither compiled nor loaded on its own.
    """

    name: str
    compiled: int
    loaded: int
    cache_path: str


def cached_kernels() -> Iterator[tuple[str, Any]]:
    """Every numba dispatcher declared with ``cache=True`` in the kernel modules."""
    for module_name in KERNEL_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            stats = getattr(value, "stats", None)
            if getattr(stats, "cache_path", None) is not None:
                yield f"{module_name}.{name}", value


def kernel_states() -> list[Kernel]:
    """What this process has compiled and loaded from the cache, per kernel."""
    return [
        Kernel(
            name=name,
            compiled=len(dispatcher.stats.cache_misses),
            loaded=len(dispatcher.stats.cache_hits),
            cache_path=str(dispatcher.stats.cache_path),
        )
        for name, dispatcher in cached_kernels()
    ]


def warm_kernels(directory: Path) -> list[Kernel]:
    """Run the matcher in every configuration, a lookup, and the frequency
    and known-plaintext attackers' kernels; each kernel's state afterwards.

    ``directory`` receives the synthetic encodings files.
    """
    from linkage.privacy import frequency, known_plaintext

    paths = _write_parties(directory)
    parties = load_parties(paths)
    for count, settings in _RUNS:
        Matcher(PartySet(parties.parties[:count]), settings).run()
    clks = parties.parties[0].encodings.clks
    ClkIndex(clks).best(clks[:2], 0.8)
    frequency.warm_kernel()
    known_plaintext.warm_kernel()
    return kernel_states()


def _write_parties(directory: Path) -> list[Path]:
    """Three parties that share people, with typos and duplicates."""
    rng = np.random.default_rng(_SEED)
    people = rng.random((_ENTITIES, _BITS)) < 0.2
    paths = []
    # Party p holds a window of the people, some twice (duplicates to dedup).
    for number, start in enumerate((0, 100, 200)):
        rows = np.arange(start, start + 200)
        rows = np.concatenate([rows, rows[:20]])
        bits = people[rows] ^ (rng.random((len(rows), _BITS)) < 0.02)
        path = directory / f"party{number}.lnk"
        header = EncodingHeader(
            schema_fingerprint="0" * 64,
            bit_length=_BITS,
            key_check="0" * 16,
            extensions={"party": f"party{number}"},
        )
        pseudonyms = rng.integers(0, 256, size=(len(rows), 16), dtype=np.uint8)
        with EncodingWriter(path, header) as writer:
            writer.write(pseudonyms, _pack(bits))
        paths.append(path)
    return paths


def _pack(bits: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    packed: npt.NDArray[np.uint8] = np.packbits(bits, axis=1)
    return packed


def main() -> None:
    """Warm the cache and say what was compiled and where it is kept."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="linkage-warmup-") as directory:
        kernels = warm_kernels(Path(directory))
    compiled = sum(kernel.compiled for kernel in kernels)
    loaded = sum(kernel.loaded for kernel in kernels)
    folders = sorted({kernel.cache_path for kernel in kernels})
    sys.stdout.write(
        f"Matching and privacy-check kernels: {compiled} compiled, {loaded} "
        f"already in the numba cache ({time.perf_counter() - started:.1f} s); "
        "cache in " + ", ".join(folders) + "\n"
    )


if __name__ == "__main__":
    main()
