"""Encoding at the agency: records in, pseudonymous CLKs out.

The safe recipe is :func:`linkage.encoding.recipe.encode_csv` (and the
``linkage encode`` command). The modules below it (``bloom``, ``tokens``,
``values``, ``keys``) are the sharp parts: use them only to build a new recipe.
"""
