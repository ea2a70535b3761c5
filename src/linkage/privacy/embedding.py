"""Node embeddings of a similarity graph (NetMF, Qiu et al., WSDM 2018).

The published graph-matching attack on Bloom-filter encodings (Vidanage et al.,
CIKM 2020; re-implemented by Schäfer et al., ACSAC 2024) keeps the strongest
tenth of the pairwise similarities as a weighted graph and embeds each node
with a random-walk embedding. NetMF computes in closed form the matrix that
DeepWalk's skip-gram factorises, so the embedding is deterministic and needs
no training: for graphs of a few thousand nodes dense linear algebra is fast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.sparse.linalg import eigsh

Matrix = npt.NDArray[np.float64]

#: The share of pairwise similarities dropped before embedding, as published.
EDGE_QUANTILE = 0.9
#: Random-walk window and embedding size, as published.
WINDOW = 10
DIMENSIONS = 128


def strongest_edges(similarity: Matrix, quantile: float = EDGE_QUANTILE) -> Matrix:
    """The similarity graph keeping only edges at or above ``quantile``.

    The diagonal (a node's similarity to itself) is never an edge.
    """
    count = len(similarity)
    upper = similarity[np.triu_indices(count, k=1)]
    if not len(upper):
        return np.zeros_like(similarity)
    threshold = max(float(np.quantile(upper, quantile)), 1e-12)
    weights = np.where(similarity >= threshold, similarity, 0.0)
    np.fill_diagonal(weights, 0.0)
    return weights


def netmf_embedding(
    weights: Matrix, *, window: int = WINDOW, dimensions: int = DIMENSIONS
) -> Matrix:
    """Row-normalised NetMF embeddings of a weighted undirected graph.

    A node without edges gets a zero row: it carries no structure to match.
    """
    count = len(weights)
    degree = weights.sum(axis=1)
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-300)), 0.0)
    walk = scale[:, None] * weights * scale[None, :]
    values, vectors = np.linalg.eigh(walk)
    # Sum of the first ``window`` powers of the normalised walk matrix,
    # taken on its eigenvalues rather than by repeated dense products.
    powers = np.zeros_like(values)
    term = np.ones_like(values)
    for _ in range(window):
        term = term * values
        powers += term
    summed = (vectors * powers) @ vectors.T
    volume = float(degree.sum()) or 1.0
    target = (volume / window) * (scale[:, None] * summed * scale[None, :])
    logged = np.log(np.maximum(target, 1.0))
    rank = min(dimensions, count - 1)
    if rank < 1 or not logged.any():
        return np.zeros((count, max(rank, 1)))
    # ARPACK starts from a random vector of its own, drawn from a generator
    # that carries on from one call to the next: the same graph then gave
    # other embeddings (and the published steps 83-99 %) depending on what
    # ran before in the process. A seeded start makes it a function.
    start = np.random.default_rng(0).standard_normal(count)
    top_values, top_vectors = eigsh(logged, k=rank, which="LM", v0=start)
    embedding = top_vectors * np.sqrt(np.abs(top_values))[None, :]
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    result: Matrix = embedding / np.where(norms > 0, norms, 1.0)
    return result
