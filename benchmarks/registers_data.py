"""The registers population as a held-out quality-reference data set.

:func:`registers` is built as :func:`households_data.households` is, from the
third synthetic generator (:mod:`linkage.demo.registers`): five agencies'
exports, each mapped onto the demo schema's fields with its mapping file in
``configs/mappings/registers``, linked across agencies and deduplicated
within them.

No rule has been tuned on this population, and none should be: the
benchmarks load it only with ``--final-check``, for the final check of a
change, never while choosing one (see ``benchmarks/README.md``).

Usage (from the repository root)::

    .venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks');
        from registers_data import registers; print(registers().records)"
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from quality_reference import ROOT, ReferenceData, mapped_exports

MAPPINGS = ROOT / "configs" / "mappings" / "registers"
#: The name the benchmarks' tables give it.
NAME = "registers (held out)"
#: Its size and seed unless asked otherwise: its own seed, not the others'.
SIZE = 5000
SEED = 23


def registers(size: int = SIZE, seed: int = SEED) -> ReferenceData:
    """The registers agencies' exports, each mapped with its own mapping file."""
    from linkage.demo.registers import REGISTER_AGENCIES, write_registers_data

    with tempfile.TemporaryDirectory() as folder:
        paths = write_registers_data(Path(folder), size, seed)
        return mapped_exports(NAME, paths, REGISTER_AGENCIES, MAPPINGS)
