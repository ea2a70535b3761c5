"""The households population as a quality-reference data set.

:func:`households` is built as :func:`quality_reference.demo` is, from the
second synthetic generator (:mod:`linkage.demo.households`): five agencies'
exports, each mapped onto the demo schema's fields with its mapping file in
``configs/mappings/households``, linked across agencies and deduplicated
within them. Linkage rules tuned on the demo population can be checked on it.

Usage (from the repository root)::

    .venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks');
        from households_data import households; print(households().records)"
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from quality_reference import ROOT, ReferenceData, mapped_exports

MAPPINGS = ROOT / "configs" / "mappings" / "households"


def households(size: int = 5000, seed: int = 11) -> ReferenceData:
    """The households agencies' exports, each mapped with its own mapping file."""
    from linkage.demo.households import HOUSEHOLD_AGENCIES, write_households_data

    with tempfile.TemporaryDirectory() as folder:
        paths = write_households_data(Path(folder), size, seed)
        return mapped_exports("households", paths, HOUSEHOLD_AGENCIES, MAPPINGS)
