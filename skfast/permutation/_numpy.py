"""numpy engine: a batch of relabellings is one matrix product with ``X`` (BLAS).

For the difference of means the batch's contrast matrix
``W[r, i] = 1/n1 + 1/n0`` if sample ``i`` is in group 1 of relabelling ``r``
and ``0`` otherwise, minus ``1/n0``, gives every statistic of the batch as
``T = W @ X``: the talk's streamed ``W_batch @ X``.  Welch's t needs the group
sums and sums of squares, ``G @ X`` and ``G @ X**2`` with ``G`` the 0/1
indicator.  The sign-flip designs' mean is the same product with the
weights ``+1/n`` and ``-1/n`` (:func:`contrast_weights`): ``group1`` then
marks the samples that keep their sign.  Only the ``(batch, n_features)``
block of statistics ever exists,
and it is counted in one compiled pass (:mod:`._counting`).

For the difference of means (and the sign flips' mean), the product runs in
float32, twice BLAS's float64 speed.  Its rounding error has a bound known
per feature before the product (:func:`_checked_single_counts`); the few
statistics within that bound of their threshold are recomputed in float64,
so the counts, hence the p-values, are exactly those of the float64 product.
For max-T, each relabelling's largest extremeness is recomputed the same
way from the one feature (a few at near-ties) that can hold it.

Every engine module exposes the same three functions with the same
signatures, :func:`prepare`, :func:`batch_statistic` and :func:`batch_counts`,
and :data:`FEATURE_TILE`, the number of features it holds statistics for at
once (which sizes ``batch_size="auto"``).
"""

from __future__ import annotations

import numpy as np

from ._counting import (TILE_ELEMENTS, column_tiles, count_extreme, count_extreme_checked, row_order_sums,
                        single_contrast)

__all__ = ["FEATURE_TILE", "prepare", "batch_statistic", "batch_counts"]

#: Features per matrix product in :func:`batch_counts` (None: all at once).
FEATURE_TILE = 2048

# Unit roundoffs, and the largest absolute error of a float32 operation in
# the subnormal range.
_U32, _U64, _ETA32 = 2.0**-24, 2.0**-53, 2.0**-149
# The single-precision product is used only where no float32 value can
# overflow and the error bound stays small (n * u32 well below 1).
_SINGLE_MAX_ABS_SUM = 1e37
_SINGLE_MAX_SAMPLES = 100_000


def prepare(X, squares):
    """Engine-native operands for one fit: ``X`` itself and per-column summaries, no copy of X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Centred data, float64, feature-major (F-contiguous), as
        ``centre_columns`` makes it; BLAS takes it as it is.
    squares : bool
        Whether the statistic needs ``X**2`` (Welch's t): the engine squares
        one tile of columns at a time, and never holds ``X**2`` whole.

    Returns
    -------
    operands : tuple
        ``X``, ``squares``, the column sums of ``X`` and ``X**2`` (Welch's t
        only, added in row order: :func:`row_order_sums`), and the
        single-precision product's error scale (made on first use, see
        :class:`SinglePrecision`).
    """
    if squares:
        return X, True, row_order_sums(X), row_order_sums(X, square=True), None
    return X, False, None, None, SinglePrecision(X)


class SinglePrecision:
    """What the float32 product needs beyond X, made on first use.

    ``get()`` returns the float64 sum of ``|X|`` per feature (the error
    bound's scale), or None where single precision does not apply: too
    many samples for a small bound, or values a float32 sum could overflow.
    The float32 operand itself is rounded one tile of columns at a time,
    per batch (:func:`_checked_single_counts`): no float32 copy of X is
    held.  Welch's t never asks.
    """

    def __init__(self, X):
        self._X = X
        self._abs_sums = None
        self._made = False

    def get(self):
        if not self._made:
            X = self._X
            if X.shape[0] <= _SINGLE_MAX_SAMPLES:
                abs_sums = np.zeros(X.shape[1])
                for tile in column_tiles(*X.shape, elements=TILE_ELEMENTS // 4):
                    abs_sums[tile] = np.abs(X[:, tile]).sum(axis=0)
                if np.all(abs_sums <= _SINGLE_MAX_ABS_SUM):
                    self._abs_sums = abs_sums
            self._made = True
        return self._abs_sums


def contrast_weights(n_samples, n_group1, statistic):
    """``(weight1, weight0)``: the statistic is ``(group1 * weight1 - weight0) @ X``.

    The mean difference weighs group 1 by ``1/n1`` and group 0 by
    ``-1/n0``; the mean of sign-flipped data (``"flip_mean"``, ``group1``
    marking the samples that keep their sign) weighs them ``+1/n`` and
    ``-1/n``, exactly (``2/n`` is ``1/n`` doubled, so ``2/n - 1/n`` rounds
    to ``1/n`` itself).
    """
    if statistic == "flip_mean":
        return 2.0 / n_samples, 1.0 / n_samples
    n_group0 = n_samples - n_group1
    return 1.0 / n_group1 + 1.0 / n_group0, 1.0 / n_group0


def statistics(xp, X, S, Q, group1, n_group1, var_floor, statistic):
    """The batch's statistics as matrix products, in the array namespace ``xp``.

    Welch's t squares the columns given here (a tile's temporary, never all
    of X).  Shared with the jax engine, which passes ``jax.numpy`` as ``xp``.
    """
    if statistic in ("mean_diff", "flip_mean"):
        weight1, weight0 = contrast_weights(X.shape[0], n_group1, statistic)
        return (group1 * weight1 - weight0) @ X
    n_group0 = X.shape[0] - n_group1
    S1, Q1 = group1 @ X, group1 @ xp.square(X)
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
    statistic : {"mean_diff", "welch_t", "flip_mean"}
        ``"flip_mean"``: the mean of the sign-flipped data, ``group1``
        marking the samples that keep their sign (``n_group1`` unused).

    Returns
    -------
    T : ndarray of shape (n_rows, n_features)
    """
    X, squares, S, Q, _ = operands
    out = np.empty((group1.shape[0], X.shape[1]))
    for tile in column_tiles(*X.shape, width=FEATURE_TILE):
        out[:, tile] = statistics(np, X[:, tile], None if S is None else S[tile],
                                  None if Q is None else Q[tile], group1, n_group1,
                                  var_floor[tile], statistic)
    return out


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
    X, squares, S, Q, single = operands
    n_features = X.shape[1]
    if single is not None and statistic in ("mean_diff", "flip_mean"):
        abs_sums = single.get()
        if abs_sums is not None:
            weights = contrast_weights(X.shape[0], n_group1, statistic)
            return _checked_single_counts(X, abs_sums, group1, weights, threshold, alternative,
                                          need_max)
    counts = np.empty(n_features, dtype=np.int64)
    maxima = np.full(group1.shape[0] if need_max else 0, -np.inf)
    # Feature tiles bound the (batch, tile) block of statistics (and Welch's
    # squares), while each product still reuses a whole batch of
    # relabellings per column of X.
    for tile in column_tiles(*X.shape, width=FEATURE_TILE):
        statistics_tile = statistics(np, X[:, tile], None if S is None else S[tile],
                                     None if Q is None else Q[tile], group1, n_group1,
                                     var_floor[tile], statistic)
        counts[tile], tile_maxima = count_extreme(statistics_tile, threshold[tile], alternative,
                                                  need_max)
        if need_max:
            np.maximum(maxima, tile_maxima, out=maxima)
    return counts, maxima


def _checked_single_counts(X, abs_sums, group1, weights, threshold, alternative, need_max):
    """Counts of the difference of means from a float32 product, exact to float64.

    Rounding ``W`` and ``X`` to float32 and summing ``n`` products in float32
    (in any order, with or without FMA) moves each statistic by at most
    ``gamma(n + 4) * sum_i |w_i x_ij|`` (Higham's bound, ``gamma(k) = k u /
    (1 - k u)``), plus the subnormal range's absolute errors; a float64
    evaluation moves it by the same with the float64 ``u``.  With ``|w_i|``
    at most ``max(|weight1 - weight0|, weight0)`` (``max(1/n1, 1/n0)`` for
    the mean difference, ``1/n`` for a sign flip's mean) that bound is known
    per feature before the product.  Only statistics within it of their threshold, a small share,
    are recomputed in float64 (``count_extreme_checked``), so the counts,
    hence the p-values, are those of the float64 product.  For max-T each
    relabelling's largest extremeness is the float64 dot of the one feature
    (a few, at near-ties) whose bound can reach the row's largest value.
    """
    n_samples, n_features = X.shape
    weight1, weight0 = weights
    contrast32 = single_contrast(group1, weight1, weight0)
    k = n_samples + 4
    gamma = k * _U32 / (1 - k * _U32) + k * _U64 / (1 - k * _U64)
    largest_weight = max(abs(weight1 - weight0), weight0)
    margin = 1.01 * gamma * largest_weight * abs_sums + 4 * k * _ETA32
    counts = np.empty(n_features, dtype=np.int64)
    maxima = np.full(group1.shape[0] if need_max else 0, -np.inf)
    for tile in column_tiles(*X.shape, width=FEATURE_TILE):
        # this tile's columns rounded to float32 for this batch only: a tile's
        # copy (contiguous, X is feature-major), against a whole batch's product
        counts[tile], tile_maxima = count_extreme_checked(
            contrast32 @ X[:, tile].astype(np.float32), group1, weight1, weight0, X,
            tile.start, threshold[tile], margin[tile], alternative, need_max)
        if need_max:
            np.maximum(maxima, tile_maxima, out=maxima)
    return counts, maxima
