"""reference engine: one relabelling at a time, the statistic straight from its definition.

This is the talk's reference loop, kept deliberately naive: for each
relabelling it selects the two groups, recomputes their means (and, for
Welch's t, their two-pass sample variances) and compares; for a sign flip
it multiplies the samples by their signs and takes the mean.  It shares no
arithmetic with the batched engines, so agreeing with it checks them.

Same three functions, same signatures as every other engine module.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_TILE", "prepare", "batch_statistic", "batch_counts"]

#: Statistics held at once: one relabelling's, whatever the batch.
FEATURE_TILE = None


def prepare(X, squares):
    """The operands are the centred data itself (``squares`` is not needed)."""
    return (X,)


def _group_statistic(X, in_group1, var_floor, statistic):
    if statistic == "flip_mean":
        # in_group1 marks the samples that keep their sign
        signs = np.where(in_group1, 1.0, -1.0)
        return (signs[:, np.newaxis] * X).mean(axis=0)
    group1, group0 = X[in_group1], X[~in_group1]
    mean_difference = group1.mean(axis=0) - group0.mean(axis=0)
    if statistic == "mean_diff":
        return mean_difference
    squared_se = (group1.var(axis=0, ddof=1) / len(group1)
                  + group0.var(axis=0, ddof=1) / len(group0))
    return mean_difference / np.sqrt(np.maximum(squared_se, var_floor))


def batch_statistic(operands, group1, n_group1, var_floor, statistic):
    """Statistic of every relabelling in ``group1``, one row at a time.

    Parameters and return value as in :func:`skfast.permutation._numpy.batch_statistic`.
    """
    (X,) = operands
    return np.array([_group_statistic(X, row != 0, var_floor, statistic) for row in group1])


def batch_counts(operands, group1, n_group1, threshold, var_floor, statistic, alternative,
                 need_max):
    """Per-feature counts of relabellings at least as extreme, one relabelling at a time.

    Parameters and return values as in :func:`skfast.permutation._numpy.batch_counts`.
    """
    (X,) = operands
    counts = np.zeros(X.shape[1], dtype=np.int64)
    maxima = []
    for row in group1:
        stat = _group_statistic(X, row != 0, var_floor, statistic)
        if alternative == "two-sided":
            extremeness = np.abs(stat)
        elif alternative == "greater":
            extremeness = stat
        else:
            extremeness = -stat
        counts += extremeness >= threshold
        maxima.append(extremeness.max())
    return counts, np.array(maxima if need_max else [], dtype=np.float64)
