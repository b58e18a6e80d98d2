"""The best combination: feature cache, O(1) WMAs and one fused pass per combo.

Distinct raw-series windows are computed once per series by the sliding WMA
(``_cached.FeatureCache``).  Each combo then makes a single pass over the
bars: its two derived series (``2 WMA_{r(L/2)} - WMA_L`` and
``3 WMA_{r(q/3)} - WMA_{r(q/2)} - WMA_{r(q)}``) are re-evaluated from the cached
rows where needed instead of stored, their outer WMAs slide in O(1), and the
bar loop books trades in the same pass, so no per-combo array is written.
"""

from functools import partial

import numpy as np
from numba import njit, prange

from . import _cached, _numba, _numba_parallel
from ._grid import Q, ROOT, engine_entry

__all__ = ["sweep", "features"]


@njit(cache=True, inline="always")
def _outer_wma_step(ring, mask, t, p, block, left, anchor, plain, weighted):
    """Advance one outer WMA to bar ``t``, whose input is already in ``ring``.

    The running sums hold deviations from an anchor value and are recomputed
    exactly every ``block`` bars, as ``_numba.wma_sliding`` does; ``left``
    counts the bars to the next recomputation (a countdown, because an
    integer division per bar would cost more than the update itself).
    """
    if left == 0:
        anchor = ring[t & mask]
        plain = weighted = 0.0
        for j in range(1, p + 1):
            v = ring[(t - p + j) & mask] - anchor
            plain += v
            weighted += j * v
        return block - 1, anchor, plain, weighted
    v = ring[t & mask] - anchor
    weighted += p * v - plain
    plain += v - (ring[(t - p) & mask] - anchor)
    return left - 1, anchor, plain, weighted


@njit(cache=True)
def _fused_combo(close, half, full, third_q, half_q, q_raw, w, start, fee):
    """(PnL, trades) of one combo from its cached raw WMAs, in one pass."""
    n = close.shape[0]
    if start >= n:
        return 0.0, 0
    p_h, p_3 = w[ROOT], w[Q]
    block_h, block_3 = max(_numba._REANCHOR, 2 * p_h), max(_numba._REANCHOR, 2 * p_3)
    # multiplying by the reciprocal instead of dividing by the weight total
    # moves HMA by at most an ulp and halves the time per bar (two divisions
    # per bar are the slowest instructions in the pass)
    scale_h, scale_3 = 2.0 / (p_h * (p_h + 1)), 2.0 / (p_3 * (p_3 + 1))
    # the last p derived values live in small power-of-two rings: re-reading
    # them from the five cached rows at t - p costs twice the whole update
    size = 1
    while size <= max(p_h, p_3):
        size *= 2
    mask = size - 1
    ring_h, ring_3 = np.empty(size), np.empty(size)
    left_h = left_3 = 0  # zero: the first bar computes its sums exactly
    anchor_h = plain_h = weighted_h = anchor_3 = plain_3 = weighted_3 = 0.0
    pnl, n_trades, direction, entry = 0.0, 0, 0, 0.0
    for t in range(max(start - max(p_h, p_3), 0), n):
        ring_h[t & mask] = 2.0 * half[t] - full[t]
        ring_3[t & mask] = 3.0 * third_q[t] - half_q[t] - q_raw[t]
        if t < start:  # filling the rings with the bars before the first valid one
            continue
        left_h, anchor_h, plain_h, weighted_h = _outer_wma_step(
            ring_h, mask, t, p_h, block_h, left_h, anchor_h, plain_h, weighted_h)
        left_3, anchor_3, plain_3, weighted_3 = _outer_wma_step(
            ring_3, mask, t, p_3, block_3, left_3, anchor_3, plain_3, weighted_3)
        now = 1 if anchor_h + weighted_h * scale_h < anchor_3 + weighted_3 * scale_3 else -1
        if now != direction:
            if direction != 0:  # the first valid bar only opens a position
                pnl += direction * (close[t] - entry) / entry * 100.0 - fee
                n_trades += 1
            direction = now
            entry = close[t]
    return pnl, n_trades


@njit(parallel=True, cache=True)
def _fused_combos(series, table, rows, windows, starts, fee, pnl, n_trades):
    for i in prange(windows.shape[0]):
        r = rows[i]
        pnl[i], n_trades[i] = _fused_combo(series, table[r[0]], table[r[1]], table[r[2]],
                                           table[r[3]], table[r[4]], windows[i], starts[i], fee)


@engine_entry
def sweep(close, lengths, fee):
    return _cached.sweep_cached(close, lengths, fee, sliding=True, combos=_fused_combos)


features = partial(_numba.features, sliding=True)
