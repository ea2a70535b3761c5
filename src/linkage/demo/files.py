"""How a synthetic population's files are written, for every generator.

Each agency's export as ``<agency>.csv`` and the truth as ``truth.csv``
(``agency``, ``record_id``, ``person_id``), with ``\\n`` line ends so that the
same seed writes the same bytes on every system.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["write_exports"]


def write_exports(
    folder: Path, exports: Mapping[str, pd.DataFrame], truth: pd.DataFrame
) -> dict[str, Path]:
    """Write ``exports`` and ``truth`` into ``folder`` (made if missing).

    Returns:
        The path of each file, keyed by agency and ``"truth"``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for agency, export in exports.items():
        paths[agency] = folder / f"{agency}.csv"
        export.to_csv(paths[agency], index=False, lineterminator="\n")
    paths["truth"] = folder / "truth.csv"
    truth.to_csv(paths["truth"], index=False, lineterminator="\n")
    return paths
