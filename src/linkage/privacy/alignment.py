"""Aligning two embedding spaces without known pairs: Wasserstein Procrustes.

Embeddings of two graphs with the same shape agree up to a rotation. Grave,
Joulin and Berthet (AISTATS 2019) find that rotation and the matching of the
points together: start from a convex relaxation of matching the two Gram
matrices (Frank-Wolfe steps, each a Sinkhorn transport), then alternate a
transport plan on a batch with a gradient step on the rotation, projected back
onto orthogonal matrices. The graph-matching attack of Schäfer et al. (ACSAC
2024) aligns node embeddings this way; this is written from the papers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]

_INIT_STEPS = 5
_INIT_REGULARISATION = 1.0
_INIT_SAMPLE = 1500  # Points in the convex relaxation (n x n matrices).
_REGULARISATION = 0.05
_LEARNING_RATE = 200.0
_STEPS_PER_EPOCH = 20
_EPOCHS = 10
_BATCH = 1000
_OBJECTIVE_SAMPLE = 1000


def sinkhorn(cost: Matrix, regularisation: float, iterations: int = 300) -> Matrix:
    """Entropic transport plan between uniform weights, rows scaled to sum to 1."""
    rows, columns = cost.shape
    shifted = (cost - cost.min()) / regularisation
    # Beyond exp(-700) float64 underflows; clip so every pair keeps some mass.
    kernel = np.exp(-np.minimum(shifted, 700.0))
    left = np.ones(rows)
    right = np.ones(columns)
    for _ in range(iterations):
        left = (1.0 / rows) / np.maximum(kernel @ right, 1e-300)
        right = (1.0 / columns) / np.maximum(kernel.T @ left, 1e-300)
    plan: Matrix = left[:, None] * kernel * right[None, :] * rows
    return plan


def wasserstein_procrustes(source: Matrix, target: Matrix, seed: int = 0) -> Matrix:
    """The rotation ``R`` that best maps ``source @ R`` onto ``target`` as sets."""
    rng = np.random.default_rng(seed)
    rotation = _convex_start(source, target, rng)
    best, best_rotation = _objective(source, target, rotation, rng), rotation
    batch = min(_BATCH, len(source), len(target))
    for _ in range(_EPOCHS):
        for _ in range(_STEPS_PER_EPOCH):
            mine = source[rng.permutation(len(source))[:batch]]
            yours = target[rng.permutation(len(target))[:batch]]
            plan = sinkhorn(-(mine @ rotation) @ yours.T, _REGULARISATION, 50)
            gradient = -mine.T @ (plan @ yours)
            rotation = _orthogonal(rotation - _LEARNING_RATE / batch * gradient)
        value = _objective(source, target, rotation, rng)
        if value >= best - 1e-5:
            break  # The published early stop: no progress in an epoch.
        best, best_rotation = value, rotation
    return best_rotation


def _convex_start(source: Matrix, target: Matrix, rng: np.random.Generator) -> Matrix:
    """A first rotation from the convex relaxation on a sample of points."""
    count = min(len(source), len(target), _INIT_SAMPLE)
    mine = _square_root(source[rng.permutation(len(source))[:count]])
    yours = _square_root(target[rng.permutation(len(target))[:count]])
    gram_mine, gram_yours = mine @ mine.T, yours @ yours.T
    gram_yours *= float(np.linalg.norm(gram_mine)) / max(
        float(np.linalg.norm(gram_yours)), 1e-12
    )
    square_mine, square_yours = gram_mine @ gram_mine, gram_yours @ gram_yours
    plan = np.full((count, count), 1.0 / count)
    for step in range(1, _INIT_STEPS + 1):
        gradient = (
            plan @ square_mine + square_yours @ plan - 2 * gram_yours @ plan @ gram_mine
        )
        direction = sinkhorn(gradient, _INIT_REGULARISATION)
        weight = 2.0 / (2.0 + step)
        plan = weight * direction + (1 - weight) * plan
    return _procrustes(plan @ mine, yours).T


def _objective(
    source: Matrix, target: Matrix, rotation: Matrix, rng: np.random.Generator
) -> float:
    """Transport distance between the rotated source and the target (a sample)."""
    count = min(len(source), len(target), _OBJECTIVE_SAMPLE)
    mine = source[rng.permutation(len(source))[:count]] @ rotation
    yours = target[rng.permutation(len(target))[:count]]
    plan = sinkhorn(-mine @ yours.T, _REGULARISATION, 100)
    return float(np.linalg.norm(mine - plan @ yours) / count)


def _procrustes(source: Matrix, target: Matrix) -> Matrix:
    left, _, right = np.linalg.svd(target.T @ source)
    result: Matrix = left @ right
    return result


def _orthogonal(matrix: Matrix) -> Matrix:
    left, _, right = np.linalg.svd(matrix)
    result: Matrix = left @ right
    return result


def _square_root(points: Matrix) -> Matrix:
    left, values, right = np.linalg.svd(points, full_matrices=False)
    result: Matrix = (left * np.sqrt(values)) @ right
    return result
