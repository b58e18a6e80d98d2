"""The tie rule: the direction is the sign of HMA - HMA3 of the input floats.

Both features are fixed linear filters of the prices with rational weights,
so ``HMA_t - HMA3_t`` has one exact value for the input floats, and the
direction is defined from it: long (+1) when it is negative, short (-1)
otherwise, ties included (the paper's ``HMA < HMA3`` rule read in exact
arithmetic).  Engines compute the features in floating point, each with its
own rounding; :func:`tie_bound` bounds that rounding for every engine's way
of computing them, so a bar whose floating difference lies outside the bound
already has the exact sign.  The few bars inside it (a flat stretch of
prices makes both features equal, so they are common on tick data) are
settled by :func:`exact_direction`, which evaluates the difference without
any rounding: error-free transformations (``TwoSum``, ``TwoProduct``) keep
every partial sum as a Shewchuk expansion, an unevaluated sum of doubles
that represents it exactly.

Every engine, the pandas reference included, applies the same rule, so trade
counts are identical on any input.
"""

import math

import numpy as np
from numba import njit

from ._grid import FULL, HALF, HALF_Q, Q, REANCHOR, ROOT, THIRD_Q

__all__ = ["second_look", "direct_difference", "tie_bound", "tie_bounds", "directions", "positions", "exact_direction", "float_direction", "sure_direction", "direction_at", "settle_directions", "support"]

_UNIT_ROUNDOFF = 2.0**-53
# Each intermediate a flush-to-zero engine (XLA) rounds to zero loses at most this.
_SMALLEST_NORMAL = 2.0**-1022
# 2**27 + 1: Veltkamp's constant, splits a double into two 26-bit halves.
_SPLITTER = 134217729.0
# Components of one expansion.  Every value settled here is an exact multiple
# of the smallest bit of the window's scaled prices (>= 2**-1000 after the
# scaling in ``exact_direction``) and below 2**300, and the components of a
# nonoverlapping expansion occupy disjoint bits, so 1,300 always suffice.
_CAPACITY = 1536


@njit(cache=True)
def _wma_error(p, m):
    """Rounding error of one WMA of window ``p``, in units of ``u * max|input|``.

    ``m`` is the most O(1) updates a sliding evaluation makes between two
    exact recomputations (its re-anchoring block).

    A bound for every evaluation the engines use.  The direct sum
    (``sum_j j x_j / sum_j j`` in any order, BLAS or not) errs by at most
    ``(p + 2) u``.  The sliding WMA errs most: after ``k`` O(1) updates since
    its last exact recomputation its plain sum errs by ``2 p^2 + k (4p + 12)``
    and its weighted sum by ``p^3 + k (3 p^2 + 13 p) + k^2 (2p + 6)`` (in
    units of ``u max|x|``), the division by ``p(p + 1)/2`` adds ``6`` and the
    anchor ``3``; with ``k <= m`` all of it is below
    ``4p + 32m + 16m^2/p + 16``.
    """
    return 4.0 * p + 32.0 * m + 16.0 * m * m / p + 16.0


@njit(cache=True)
def tie_bound(w, max_abs):
    """Bound on ``|computed (HMA - HMA3) - exact (HMA - HMA3)|`` for every engine.

    Parameters
    ----------
    w : ndarray of int64, shape (6,)
        The combo's windows (a row of ``_grid.hma_windows``).
    max_abs : float
        Largest absolute price of the series.

    Returns
    -------
    bound : float
        Twice the sum of the two features' error bounds: ``2a - b`` is at
        most ``3 max|x|`` and ``3a - b - c`` at most ``5 max|x|``, the outer
        WMA adds its own error at that scale and passes the inner errors on
        with weights summing to one.  The factor 2 absorbs the second-order
        ``(1 + u)^k`` terms.  The absolute term covers engines that flush
        subnormal intermediates to zero.
    """
    e = _wma_error
    # A raw-series WMA re-anchors every max(REANCHOR, 2p) bars; the two
    # outer WMAs of the fused engine share one block, set by the wider.
    inner = lambda p: e(p, max(REANCHOR, 2 * p))  # noqa: E731
    outer_block = max(REANCHOR, 2 * max(w[ROOT], w[Q]))
    hma = 3.0 * e(w[ROOT], outer_block) + 2.0 * inner(w[HALF]) + inner(w[FULL]) + 6.0
    hma3 = 5.0 * e(w[Q], outer_block) + 3.0 * inner(w[THIRD_Q]) + inner(w[HALF_Q]) + inner(w[Q]) + 15.0
    operations = 0.0
    for k in range(6):
        operations += 4.0 * w[k] + 8.0 * max(outer_block, 2 * w[k])
    return 2.0 * ((hma + hma3) * _UNIT_ROUNDOFF * max_abs + 8.0 * operations * _SMALLEST_NORMAL)


def tie_bounds(close, windows):
    """:func:`tie_bound` of every (combo, series) pair, shape (n_combos, n_assets).

    The same formula, evaluated in numpy over all combos at once (a few
    microseconds, and nothing to compile before a first fit).
    """
    w = np.asarray(windows, dtype=np.float64)

    def error(p, m):  # _wma_error, elementwise
        return 4.0 * p + 32.0 * m + 16.0 * m * m / p + 16.0

    def inner(p):
        return error(p, np.maximum(float(REANCHOR), 2.0 * p))

    outer_block = np.maximum(float(REANCHOR), 2.0 * np.maximum(w[:, ROOT], w[:, Q]))
    hma = (3.0 * error(w[:, ROOT], outer_block) + 2.0 * inner(w[:, HALF]) + inner(w[:, FULL])
           + 6.0)
    hma3 = (5.0 * error(w[:, Q], outer_block) + 3.0 * inner(w[:, THIRD_Q])
            + inner(w[:, HALF_Q]) + inner(w[:, Q]) + 15.0)
    operations = np.zeros(w.shape[0])
    for k in range(6):
        operations += 4.0 * w[:, k] + 8.0 * np.maximum(outer_block, 2.0 * w[:, k])
    largest = np.max(np.abs(close), axis=1) if close.shape[1] else np.zeros(close.shape[0])
    return 2.0 * ((hma + hma3)[:, None] * _UNIT_ROUNDOFF * largest[None, :]
                  + 8.0 * operations[:, None] * _SMALLEST_NORMAL)


@njit(cache=True)
def support(w):
    """Bars the difference at bar ``t`` reads: ``t - support + 1 .. t``."""
    return max(w[FULL] + w[ROOT] - 1, max(w[THIRD_Q], w[HALF_Q], w[Q]) + w[Q] - 1)


# --- exact arithmetic on expansions ------------------------------------------


@njit(cache=True, inline="always")
def _two_sum(a, b):
    """``a + b`` as (rounded sum, exact error) (Knuth)."""
    s = a + b
    virtual = s - a
    return s, (a - (s - virtual)) + (b - virtual)


@njit(cache=True, inline="always")
def _two_product(a, b):
    """``a * b`` as (rounded product, exact error) (Dekker, Veltkamp's split)."""
    p = a * b
    c = _SPLITTER * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLITTER * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, a_lo * b_lo - (((p - a_hi * b_hi) - a_lo * b_hi) - a_hi * b_lo)


@njit(cache=True)
def _grow(e, n, b):
    """``e[:n] + b`` exactly, in place; returns the new length.

    Shewchuk's Grow-Expansion with zero elimination: ``e[:n]`` is
    nonoverlapping with components in increasing magnitude, and so is the
    result, whose sign is therefore the sign of its last component.
    """
    q = b
    k = 0
    for i in range(n):
        q, h = _two_sum(q, e[i])
        if h != 0.0:
            e[k] = h
            k += 1
    if q != 0.0:
        e[k] = q
        k += 1
    return k


@njit(cache=True)
def _add_product(e, n, a, b):
    """``e[:n] + a * b`` exactly; returns the new length."""
    p, err = _two_product(a, b)
    n = _grow(e, n, err)
    return _grow(e, n, p)


@njit(cache=True)
def _add_scaled(e, n, f, m, s):
    """``e[:n] + s * f[:m]`` exactly for a double ``s``; returns the new length."""
    for i in range(m):
        n = _add_product(e, n, f[i], s)
    return n


@njit(cache=True)
def _scale(f, m, s, out):
    """``s * f[:m]`` into ``out``; returns its length."""
    return _add_scaled(out, 0, f, m, s)


@njit(cache=True)
def _weighted_sum(x, end, p, out):
    """``sum_{i=1..p} i * x[end - p + i]`` exactly into ``out``: the WMA's numerator."""
    n = 0
    for i in range(1, p + 1):
        n = _add_product(out, n, float(i), x[end - p + i])
    return n


@njit(cache=True, inline="always")
def _triangle(p):
    return p * (p + 1) / 2.0


@njit(cache=True)
def exact_direction(x, t, w):
    """+1 if ``HMA_t < HMA3_t`` in exact arithmetic on ``x``, else -1.

    With ``T_p = p(p+1)/2`` and ``A_p(s) = sum_i i x[s-p+i]``,
    ``HMA = N_H / (T_r T_h T_L)`` with
    ``N_H = sum_j j (2 T_L A_h(s_j) - T_h A_L(s_j))`` over ``s_j = t - r + j``,
    and ``HMA3 = N_3 / (T_c T_a T_b T_c)`` with
    ``N_3 = sum_j j (3 T_b T_c A_a - T_a T_c A_b - T_a T_b A_c)(s_j)`` over
    ``s_j = t - c + j``; the sign of the difference is that of
    ``N_H T_c T_a T_b T_c - N_3 T_r T_h T_L``, evaluated exactly.  Every
    integer factor is applied on its own, so each is a double exactly.
    """
    lo = t - support(w) + 1
    # A flat window makes both features equal to its price: a tie, which is short.
    flat = True
    for s in range(lo, t):
        if x[s] != x[t]:
            flat = False
            break
    if flat:
        return -1
    # Scale the window by a power of two (exact) so that no product of a price
    # and an integer weight under- or overflows.
    largest = 0.0
    for s in range(lo, t + 1):
        largest = max(largest, abs(x[s]))
    exponent = math.frexp(largest)[1]
    xs = np.empty(t + 1 - lo)
    for s in range(lo, t + 1):
        xs[s - lo] = math.ldexp(x[s], -exponent)
    end = t - lo  # bar t in xs
    h, full, r, a, b, c = w[HALF], w[FULL], w[ROOT], w[THIRD_Q], w[HALF_Q], w[Q]
    t_h, t_full, t_r = _triangle(h), _triangle(full), _triangle(r)
    t_a, t_b, t_c = _triangle(a), _triangle(b), _triangle(c)

    buffers = np.empty((6, _CAPACITY))
    first, second, inner, tmp, n_hma, n_hma3 = (buffers[0], buffers[1], buffers[2], buffers[3],
                                                buffers[4], buffers[5])
    length_hma = 0
    for j in range(1, r + 1):
        s = end - r + j
        n1 = _weighted_sum(xs, s, h, first)
        n2 = _weighted_sum(xs, s, full, second)
        m = _scale(first, n1, 2.0 * t_full, inner)
        m = _add_scaled(inner, m, second, n2, -t_h)
        length_hma = _add_scaled(n_hma, length_hma, inner, m, float(j))
    length_hma3 = 0
    for j in range(1, c + 1):
        s = end - c + j
        m = 0
        n1 = _weighted_sum(xs, s, a, first)
        n2 = _scale(first, n1, 3.0 * t_b, second)
        m = _add_scaled(inner, m, second, n2, t_c)
        n1 = _weighted_sum(xs, s, b, first)
        n2 = _scale(first, n1, -t_a, second)
        m = _add_scaled(inner, m, second, n2, t_c)
        n1 = _weighted_sum(xs, s, c, first)
        n2 = _scale(first, n1, -t_a, second)
        m = _add_scaled(inner, m, second, n2, t_b)
        length_hma3 = _add_scaled(n_hma3, length_hma3, inner, m, float(j))
    # difference = N_H T_c T_a T_b T_c - N_3 T_r T_h T_L
    n = length_hma
    for factor in (t_c, t_a, t_b, t_c):
        n = _scale(n_hma, n, factor, tmp)
        n_hma[:n] = tmp[:n]
    m = length_hma3
    for factor in (t_r, t_h, -t_full):
        m = _scale(n_hma3, m, factor, tmp)
        n_hma3[:m] = tmp[:m]
    n = _add_scaled(n_hma, n, n_hma3, m, 1.0)
    return 1 if n > 0 and n_hma[n - 1] < 0.0 else -1


@njit(cache=True, inline="always")
def float_direction(difference):
    """+1 when the floating ``HMA - HMA3`` is negative, else -1: exact outside the bound."""
    return 1 if difference < 0.0 else -1


@njit(cache=True, inline="always")
def sure_direction(difference, bound):
    """+1 or -1 where the floating ``HMA - HMA3`` decides the direction, else 0."""
    if difference < -bound:
        return 1
    if difference > bound:
        return -1
    return 0


@njit(cache=True)
def _direct_wma_at(x, s, p):
    """WMA of window ``p`` of ``x`` at bar ``s``, summed directly."""
    total = 0.0
    for j in range(1, p + 1):
        total += j * x[s - p + j]
    return total / (p * (p + 1) / 2)


@njit(cache=True)
def direct_difference(x, t, w):
    """``HMA_t - HMA3_t`` evaluated directly from the prices, and its error bound.

    Every WMA is a direct sum of its window (no running sums), so each errs
    by at most ``(p + 2) u`` of its inputs' magnitude, against the sliding
    WMAs' quadratic growth: :func:`tie_bound`'s formula with no O(1)
    updates, at the scale of the bar's own window.  Some hundred
    multiply-adds per window: the cheap second look at a bar before the
    exact arithmetic.
    """
    lo = t - support(w) + 1
    largest = 0.0
    for s in range(lo, t + 1):
        largest = max(largest, abs(x[s]))
    root, q = w[ROOT], w[Q]
    hma = 0.0
    for j in range(1, root + 1):
        s = t - root + j
        hma += j * (2.0 * _direct_wma_at(x, s, w[HALF]) - _direct_wma_at(x, s, w[FULL]))
    hma /= root * (root + 1) / 2
    hma3 = 0.0
    for j in range(1, q + 1):
        s = t - q + j
        hma3 += j * (3.0 * _direct_wma_at(x, s, w[THIRD_Q]) - _direct_wma_at(x, s, w[HALF_Q])
                     - _direct_wma_at(x, s, w[Q]))
    hma3 /= q * (q + 1) / 2
    e = _wma_error
    error = (3.0 * e(root, 0) + 2.0 * e(w[HALF], 0) + e(w[FULL], 0) + 6.0
             + 5.0 * e(q, 0) + 3.0 * e(w[THIRD_Q], 0) + e(w[HALF_Q], 0) + e(q, 0) + 15.0)
    # every operation above, for the absolute (subnormal) part of the bound
    operations = (root * (2.0 * (w[HALF] + w[FULL]) + 6.0)
                  + q * (2.0 * (w[THIRD_Q] + w[HALF_Q] + w[Q]) + 7.0))
    bound = 2.0 * (error * _UNIT_ROUNDOFF * largest + 8.0 * operations * _SMALLEST_NORMAL)
    return hma - hma3, bound


@njit(cache=True)
def second_look(x, t, w):
    """The direction at a bar inside the tie bound, from :func:`direct_difference`.

    +1 or -1 when the direct evaluation decides it (its far smaller bound),
    0 when only exact arithmetic can.  The float loops call it for the rare
    bar inside the bound, so a combo is handed to the exact path only when
    this fails too.
    """
    difference, bound = direct_difference(x, t, w)
    return sure_direction(difference, bound)


@njit(cache=True)
def unsure_direction(x, t, w):
    """The direction at a bar inside the tie bound: second look, then exact arithmetic."""
    direction = second_look(x, t, w)
    return direction if direction != 0 else exact_direction(x, t, w)


@njit(cache=True, inline="always")
def direction_at(x, t, w, hma, hma3, bound):
    """The tie rule's direction at bar ``t`` from the engine's features.

    ``bound`` is :func:`tie_bound` of the combo and the series ``x``: outside
    it the floating difference has the exact sign.  Inside it, the bar is
    evaluated again directly from its window (:func:`direct_difference`,
    whose error bound is far smaller), and only a bar that this cannot
    decide either is settled in exact arithmetic.

    Bar loops call :func:`unsure_direction` themselves, behind the same
    test, rather than this on every bar: a call that takes the price array
    on every bar made the loop six times slower.  NaN takes the rare path,
    as in :func:`sure_direction`.
    """
    difference = hma - hma3
    direction = float_direction(difference)
    if not abs(difference) > bound:
        direction = unsure_direction(x, t, w)
    return direction


@njit(cache=True)
def settle_directions(x, w, hma, hma3, bound, bars, direction):
    """:func:`direction_at` for the ``bars`` of an array engine, into ``direction``."""
    for k in range(bars.shape[0]):
        t = bars[k]
        direction[k] = direction_at(x, t, w, hma[t], hma3[t], bound)


def directions(close, w, hma, hma3, bars, bound=None):
    """The tie rule's direction (+1 / -1, int8) at ``bars``, for array engines.

    Bars whose floating difference lies within ``bound`` (default: the
    combo's :func:`tie_bound` on ``close``) are settled exactly.
    """
    if bound is None:  # tie_bound, in numpy: nothing to compile
        bound = tie_bounds(close[np.newaxis], np.asarray(w)[np.newaxis])[0, 0]
    d = hma[bars] - hma3[bars]
    direction = np.where(d < 0, 1, -1).astype(np.int8)
    unsure = np.flatnonzero(~(np.abs(d) > bound))
    if unsure.size:
        settled = np.empty(unsure.size, dtype=np.int8)
        settle_directions(close, w, hma, hma3, bound, np.ascontiguousarray(bars[unsure]), settled)
        direction[unsure] = settled
    return direction


def positions(close, length, hma, hma3):
    """Position held after each bar: +1 long, -1 short, 0 before warm-up.

    A flip closes the open position and opens the opposite one at the same
    close, so the position after a valid bar is always its direction.
    """
    from ._grid import hma_windows

    out = np.zeros(close.shape[0], dtype=np.int8)
    valid = np.flatnonzero(~(np.isnan(hma) | np.isnan(hma3)))
    if valid.size:
        out[valid] = directions(close, hma_windows([length])[0], hma, hma3, valid)
    return out
