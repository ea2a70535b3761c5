"""The CLK engine: candidate pairs by the Dice score of whole encodings.

- :mod:`~linkage.matching.clk.similarity`: the popcount-pruned Dice kernels
  (every pair at or above a threshold, in bounded memory; best scores);
- :mod:`~linkage.matching.clk.blocking`: Hamming LSH on the CLKs, for linkages
  too large to compare every pair;
- :mod:`~linkage.matching.clk.distributed`: the LSH tables computed on a Dask
  cluster, with the same result.

The pairs they find are :class:`~linkage.matching.candidates.CandidatePairs`.
"""
