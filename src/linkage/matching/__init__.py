"""The matching engine: pure compute, arrays in and arrays out, no I/O.

Records of all parties share one index space: party ``p``'s record ``i`` is
``offsets[p] + i``. Candidate pairs are three parallel arrays (left index,
right index, Dice score); solvers turn them into groups of records.
"""
