"""Synthetic people and agency exports for demos, tests and benchmarks.

Nothing here is real data: names, streets and suburbs come from the word lists
in ``linkage/data``, and every draw comes from the ``numpy.random.Generator``
the caller passes in, so a seed fixes the output.
"""

from linkage.demo.generator import (
    AGENCIES,
    DEFAULT_OVERLAP,
    NoiseRates,
    export_agency,
    generate_population,
    write_demo_data,
)

__all__ = [
    "AGENCIES",
    "DEFAULT_OVERLAP",
    "NoiseRates",
    "export_agency",
    "generate_population",
    "write_demo_data",
]
