"""The matching engine: pure compute, arrays in and arrays out, no I/O.

Records of all parties share one index space: party ``p``'s record ``i`` is
``offsets[p] + i``. Candidate pairs are three parallel arrays (left index,
right index, score) in one :class:`~linkage.matching.candidates.CandidatePairs`;
solvers turn them into groups of records.

Where to look:

- :mod:`~linkage.matching.matcher`: the orchestration (threshold, candidates,
  solving, match IDs);
- :mod:`~linkage.matching.candidates`: the candidate-pairs type and its limit
  error;
- :mod:`~linkage.matching.parties`: the parties' encodings files, checked to
  agree;
- :mod:`~linkage.matching.threshold`: choosing the threshold without ground
  truth;
- :mod:`~linkage.matching.solving`: one-to-one for two parties;
- :mod:`~linkage.matching.clustering`: groups for three or more parties and
  deduplication;
- :mod:`~linkage.matching.report`: the threshold report;
- :mod:`linkage.matching.clk`: the CLK engine (Dice kernels, Hamming LSH, Dask);
- :mod:`linkage.matching.probabilistic`: the Fellegi-Sunter engine on
  per-field encodings.

Evaluating groups against a ground truth is no part of matching:
:mod:`linkage.evaluation`.
"""
