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

import pandas as pd
from quality_reference import DEMO_BLOCKING, DEMO_FIELDS, ROOT, ReferenceData

MAPPINGS = ROOT / "configs" / "mappings" / "households"


def households(size: int = 5000, seed: int = 11) -> ReferenceData:
    """The households agencies' exports, each mapped with its own mapping file."""
    from linkage.demo.households import HOUSEHOLD_AGENCIES, write_households_data
    from linkage.encoding.mapping_file import load_mapping

    with tempfile.TemporaryDirectory() as folder:
        paths = write_households_data(Path(folder), size, seed)
        truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
        frames = []
        for agency in HOUSEHOLD_AGENCIES:
            mapping = load_mapping(MAPPINGS / f"{agency}.yaml")
            export = pd.read_csv(paths[agency], dtype=str, keep_default_na=False)
            mapped = mapping.apply(export, source=agency, first_row=1)
            fields = mapped.fields.reindex(columns=list(DEMO_FIELDS), fill_value="")
            fields.insert(0, "record_id", mapped.record_ids)
            fields.insert(0, "source", agency)
            frames.append(fields)
    records = pd.concat(frames, ignore_index=True).merge(
        truth.rename(columns={"agency": "source", "person_id": "entity"}),
        on=["source", "record_id"],
        how="left",
        validate="one_to_one",
    )
    return ReferenceData(
        "households", records, DEMO_FIELDS, "link_and_dedupe", DEMO_BLOCKING
    )
