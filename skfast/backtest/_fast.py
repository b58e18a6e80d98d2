"""The best combination: feature cache, O(1) WMAs and one fused pass per combo.

Distinct raw-series windows are computed once per series by the sliding WMA
(``_cached``, with its memory bound and optional ``FeatureCache``).  Each combo then makes a single pass over the
bars: its two derived series (``2 WMA_{r(L/2)} - WMA_L`` and
``3 WMA_{r(q/3)} - WMA_{r(q/2)} - WMA_{r(q)}``) are formed bar by bar from the
cached rows and kept only in rings as long as their outer windows, the outer
WMAs slide in O(1), and the bar loop books trades in the same pass, so no
full-length per-combo array is ever written.
"""

from functools import partial

import numpy as np
from numba import njit, prange

from . import _cached, _numba
from ._exact import direction_at, float_direction
from ._grid import Q, REANCHOR, ROOT, engine_entry

__all__ = ["sweep", "features"]


@njit(cache=True, inline="always")
def _exact_sums(ring, mask, t, p):
    """Anchor and exact plain/weighted sums of the last ``p`` ring values at ``t``."""
    anchor = ring[t & mask]
    plain = weighted = 0.0
    for j in range(1, p + 1):
        v = ring[(t - p + j) & mask] - anchor
        plain += v
        weighted += j * v
    return anchor, plain, weighted


@njit(cache=True, inline="always")
def _slide(ring, mask, t, p, weight, newest, anchor, plain, weighted):
    """Running sums moved on to bar ``t`` holding ``newest``, as in ``_numba.wma_sliding``."""
    v = newest - anchor
    weighted += weight * v - plain
    plain += v - (ring[(t - p) & mask] - anchor)
    return plain, weighted


@njit(cache=True)
def _fused_walk(close, half, full, third_q, half_q, q_raw, w, start, fee, bound, settle,
                resume, direction, entry, pnl, n_trades):
    """(PnL, trades) of one combo from its cached raw WMAs, in one pass from bar ``resume``.

    The outer WMAs re-anchor every ``block`` bars from ``start``, so at each
    block's first bar the state of the pass is the cached rows plus the
    booking so far.  With ``settle`` false, a block some bar of which came
    within the tie bound stops the pass: it returns ``(0.0, UNSETTLED,
    block's first bar, booking before it)``, every earlier bar having had its
    exact direction.  Testing once per block keeps the bar loop as fast as it
    was without the tie rule.  With ``settle`` true (the pass resumed at that
    block), every bar inside the bound gets the tie rule's direction
    (``_exact.direction_at``); the features are recomputed exactly as in the
    first pass.  ``resume == start`` begins afresh (the booking arguments
    are then ignored).
    """
    n = close.shape[0]
    if start >= n:
        return 0.0, 0, start, 0, 0.0, 0.0, 0
    p_h, p_3 = w[ROOT], w[Q]
    pf_h, pf_3 = float(p_h), float(p_3)
    # both outer WMAs re-anchor together, every block bars
    block = max(REANCHOR, 2 * max(p_h, p_3))
    # multiplying by the reciprocal instead of dividing by the weight total
    # moves HMA by at most an ulp and saves the two slowest instructions of
    # the update
    scale_h, scale_3 = 2.0 / (p_h * (p_h + 1)), 2.0 / (p_3 * (p_3 + 1))
    # the last p derived values live in small power-of-two rings: re-reading
    # them from the five cached rows at t - p costs twice the whole update
    size = 1
    while size <= max(p_h, p_3):
        size *= 2
    mask = size - 1
    ring_h, ring_3 = np.empty(size), np.empty(size)
    for t in range(max(resume - max(p_h, p_3), 0), resume + 1):
        ring_h[t & mask] = 2.0 * half[t] - full[t]
        ring_3[t & mask] = 3.0 * third_q[t] - half_q[t] - q_raw[t]
    anchor_h, plain_h, weighted_h = _exact_sums(ring_h, mask, resume, p_h)
    anchor_3, plain_3, weighted_3 = _exact_sums(ring_3, mask, resume, p_3)
    difference = anchor_h + weighted_h * scale_h - (anchor_3 + weighted_3 * scale_3)
    now = float_direction(difference)
    if settle and not abs(difference) > bound:
        now = direction_at(close, resume, w, difference, 0.0, bound)
    # the booking before the current block, handed back if it must be settled
    block_first = resume
    before = (direction, entry, pnl, n_trades)
    if resume == start:
        direction, entry, pnl, n_trades = now, close[start], 0.0, 0
    else:
        direction, entry, pnl, n_trades = _numba.book(now, direction, entry, close[resume], pnl,
                                                      n_trades, fee)
    # the smallest |HMA - HMA3| of the block: a branch-free min costs the
    # loop less than testing every bar against the bound
    closest = abs(difference)
    left = block - 1
    for t in range(resume + 1, n):
        newest_h = 2.0 * half[t] - full[t]
        newest_3 = 3.0 * third_q[t] - half_q[t] - q_raw[t]
        ring_h[t & mask] = newest_h
        ring_3[t & mask] = newest_3
        if left == 0:
            if closest <= bound and not settle:
                return (0.0, _numba.UNSETTLED, block_first) + before
            block_first = t
            before = (direction, entry, pnl, n_trades)
            closest = np.inf
            left = block - 1
            anchor_h, plain_h, weighted_h = _exact_sums(ring_h, mask, t, p_h)
            anchor_3, plain_3, weighted_3 = _exact_sums(ring_3, mask, t, p_3)
        else:
            left -= 1
            plain_h, weighted_h = _slide(ring_h, mask, t, p_h, pf_h, newest_h, anchor_h, plain_h, weighted_h)
            plain_3, weighted_3 = _slide(ring_3, mask, t, p_3, pf_3, newest_3, anchor_3, plain_3, weighted_3)
        difference = anchor_h + weighted_h * scale_h - (anchor_3 + weighted_3 * scale_3)
        closest = min(closest, abs(difference))
        now = float_direction(difference)
        if settle and not abs(difference) > bound:
            now = direction_at(close, t, w, difference, 0.0, bound)
        direction, entry, pnl, n_trades = _numba.book(now, direction, entry, close[t], pnl,
                                                      n_trades, fee)
    if closest <= bound and not settle:
        return (0.0, _numba.UNSETTLED, block_first) + before
    return pnl, n_trades, n, 0, 0.0, 0.0, 0


@njit(cache=True)
def _fused_combo(close, half, full, third_q, half_q, q_raw, w, start, fee, bound, settle):
    """(PnL, trades) of one combo; an undecided one is ``(0.0, UNSETTLED)`` unless ``settle``.

    With ``settle``, the pass that met a bar inside the tie bound resumes at
    that bar's block on the exact path, so settling costs one block, not a
    second pass over the series.
    """
    walk = _fused_walk(close, half, full, third_q, half_q, q_raw, w, start, fee, bound, False,
                       start, 0, 0.0, 0.0, 0)
    if walk[1] == _numba.UNSETTLED and settle:
        walk = _fused_walk(close, half, full, third_q, half_q, q_raw, w, start, fee, bound, True,
                           walk[2], walk[3], walk[4], walk[5], walk[6])
    return walk[0], walk[1]


@njit(cache=True, inline="always")
def _fused_task(series, table, rows, windows, starts, bounds, fee, i, settle):
    """Combo ``i`` of a chunk through :func:`_fused_combo`, from its rows of ``table``."""
    r = rows[i]
    return _fused_combo(series, table[r[0]], table[r[1]], table[r[2]], table[r[3]], table[r[4]],
                        windows[i], starts[i], fee, bounds[i], settle)


@njit(parallel=True, cache=True)
def _fused_combos(series, table, rows, windows, starts, bounds, fee, pnl, n_trades):
    for i in prange(windows.shape[0]):
        # an undecided combo is settled on the spot, overlapping the other
        # threads' combos
        pnl[i], n_trades[i] = _fused_task(series, table, rows, windows, starts, bounds, fee, i,
                                          True)


@njit(cache=True)
def _fused_combos_tiny(series, table, rows, windows, starts, bounds, fee, pnl, n_trades):
    # tiny sweeps, one thread: an undecided combo stays UNSETTLED for
    # _numba.settle_marked, so the exact arithmetic compiles only when needed
    for i in range(windows.shape[0]):
        pnl[i], n_trades[i] = _fused_task(series, table, rows, windows, starts, bounds, fee, i,
                                          False)


def sweep_with_cache(close, lengths, fee, feature_cache=None, max_bytes=_cached.DEFAULT_MAX_BYTES):
    """:func:`sweep` reusing ``feature_cache``, holding at most ``max_bytes`` of rows at once."""
    return _cached.sweep_with_cache(close, lengths, fee, feature_cache, max_bytes, sliding=True,
                                    combos=(_fused_combos_tiny, _fused_combos))


@engine_entry
def sweep(close, lengths, fee):
    return sweep_with_cache(close, lengths, fee)


features = partial(_numba.features, sliding=True)
