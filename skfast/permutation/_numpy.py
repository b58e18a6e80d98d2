"""numpy engine: a batch of relabellings is one matrix product with ``X`` (BLAS).

For the difference of means the batch's contrast matrix
``W[r, i] = 1/n1 + 1/n0`` if sample ``i`` is in group 1 of relabelling ``r``
and ``0`` otherwise, minus ``1/n0``, gives every statistic of the batch as
``T = W @ X``: the talk's streamed ``W_batch @ X``.  Welch's t needs the group
sums and sums of squares, ``G @ X`` and ``G @ X**2`` with ``G`` the 0/1
indicator.  Only the ``(batch, n_features)`` block of statistics ever exists,
and it is counted in one compiled pass (:mod:`._counting`).

Every engine module exposes the same three functions with the same
signatures, :func:`prepare`, :func:`batch_statistic` and :func:`batch_counts`,
and :data:`FEATURE_TILE`, the number of features it holds statistics for at
once (which sizes ``batch_size="auto"``).
"""

from __future__ import annotations

import numpy as np

from ._counting import count_extreme

__all__ = ["FEATURE_TILE", "prepare", "batch_statistic", "batch_counts"]

#: Features per matrix product in :func:`batch_counts` (None: all at once).
FEATURE_TILE = 2048


def prepare(X, X_sq):
    """Engine-native operands for one fit: ``X``, ``X**2`` and their column sums.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Centred data, C-contiguous float64.
    X_sq : ndarray of shape (n_samples, n_features) or None
        ``X**2``, needed by Welch's t only.

    Returns
    -------
    operands : tuple
    """
    if X_sq is None:  # the difference of means needs no sums
        return X, None, None, None
    return X, X_sq, X.sum(axis=0), X_sq.sum(axis=0)


def statistics(xp, X, X_sq, S, Q, group1, n_group1, var_floor, statistic):
    """The batch's statistics as matrix products, in the array namespace ``xp``.

    Shared with the jax engine, which passes ``jax.numpy`` as ``xp``.
    """
    n_group0 = X.shape[0] - n_group1
    if statistic == "mean_diff":
        contrast = group1 * (1.0 / n_group1 + 1.0 / n_group0) - 1.0 / n_group0
        return contrast @ X
    S1, Q1 = group1 @ X, group1 @ X_sq
    mean1 = S1 / n_group1
    mean0 = (S - S1) / n_group0
    # Sums of squares can land a rounding error below zero for a (nearly)
    # constant group; a variance is never negative.
    var1 = xp.maximum(Q1 - S1 * mean1, 0.0) / (n_group1 - 1)
    var0 = xp.maximum((Q - Q1) - (S - S1) * mean0, 0.0) / (n_group0 - 1)
    return (mean1 - mean0) / xp.sqrt(xp.maximum(var1 / n_group1 + var0 / n_group0, var_floor))


def batch_statistic(operands, group1, n_group1, var_floor, statistic):
    """Statistic of every relabelling in ``group1``.

    Parameters
    ----------
    operands : tuple
        From :func:`prepare`.
    group1 : ndarray of shape (n_rows, n_samples)
        1.0 for the samples in group 1 of each relabelling, 0.0 otherwise.
    n_group1 : int
        Size of group 1 (the same in every row).
    var_floor : ndarray of shape (n_features,)
        Lower bound of Welch's squared standard error.
    statistic : {"mean_diff", "welch_t"}

    Returns
    -------
    T : ndarray of shape (n_rows, n_features)
    """
    return statistics(np, *operands, group1, n_group1, var_floor, statistic)


def batch_counts(operands, group1, n_group1, threshold, var_floor, statistic, alternative,
                 need_max):
    """Count, per feature, the relabellings at least as extreme as the observed data.

    Parameters
    ----------
    operands, group1, n_group1, var_floor, statistic
        As in :func:`batch_statistic`.
    threshold : ndarray of shape (n_features,)
        A relabelling counts for feature ``j`` when its extremeness (``|T|``,
        ``T`` or ``-T`` for two-sided, greater, less) is ``>= threshold[j]``;
        the tie tolerance is already folded into ``threshold``.
    alternative : {"two-sided", "greater", "less"}
    need_max : bool
        Also return each relabelling's largest extremeness over the features
        (for the max-T correction).

    Returns
    -------
    counts : ndarray of shape (n_features,), int64
    maxima : ndarray of shape (n_rows,), float64
        Empty when ``need_max`` is False.
    """
    X, X_sq, S, Q = operands
    n_features = X.shape[1]
    counts = np.empty(n_features, dtype=np.int64)
    maxima = np.full(group1.shape[0] if need_max else 0, -np.inf)
    # Feature tiles bound the (batch, tile) block of statistics, while each
    # product still reuses a whole batch of relabellings per column of X.
    for start in range(0, n_features, FEATURE_TILE):
        tile = slice(start, min(start + FEATURE_TILE, n_features))
        statistics_tile = statistics(np, X[:, tile], None if X_sq is None else X_sq[:, tile],
                                     None if S is None else S[tile], None if Q is None else Q[tile],
                                     group1, n_group1,
                                     var_floor[tile], statistic)
        counts[tile], tile_maxima = count_extreme(statistics_tile, threshold[tile], alternative,
                                                  need_max)
        if need_max:
            np.maximum(maxima, tile_maxima, out=maxima)
    return counts, maxima
