"""The best combination: feature cache, O(1) WMAs and one fused pass per combo.

Distinct raw-series windows are computed once per series by the sliding WMA
(``_cached.FeatureCache``).  Each combo then makes a single pass over the
bars: its two derived series (``2 WMA_{r(L/2)} - WMA_L`` and
``3 WMA_{r(q/3)} - WMA_{r(q/2)} - WMA_{r(q)}``) are re-evaluated from the cached
rows where needed instead of stored, their outer WMAs slide in O(1), and the
bar loop books trades in the same pass, so no per-combo array is written.
"""

import numpy as np
from numba import njit, prange

from . import _cached, _numba, _numba_parallel
from ._grid import FULL, HALF_Q, Q, ROOT, THIRD_Q

__all__ = ["sweep", "features"]


@njit(cache=True)
def _fused_combo(close, half, full, third_q, half_q, q_raw, w, start, fee):
    """(PnL, trades) of one combo from its cached raw WMAs, in one pass."""
    n = close.shape[0]
    if start >= n:
        return 0.0, 0
    p_h, p_3 = w[ROOT], w[Q]
    # multiplying by the reciprocal instead of dividing by the weight total
    # moves HMA by at most an ulp and halves the time per bar (two divisions
    # per bar are the slowest instructions in the pass)
    scale_h, scale_3 = 2.0 / (p_h * (p_h + 1)), 2.0 / (p_3 * (p_3 + 1))
    block_h, block_3 = max(_numba._REANCHOR, 2 * p_h), max(_numba._REANCHOR, 2 * p_3)
    # the last p derived values live in small power-of-two rings: re-reading
    # them from the five cached rows at t - p costs twice the whole update
    size = 1
    while size <= max(p_h, p_3):
        size *= 2
    mask = size - 1
    ring_h, ring_3 = np.empty(size), np.empty(size)
    for t in range(start - max(p_h, p_3), start):
        if t >= 0:
            ring_h[t & mask] = 2.0 * half[t] - full[t]
            ring_3[t & mask] = 3.0 * third_q[t] - half_q[t] - q_raw[t]
    pnl = 0.0
    n_trades = 0
    direction = 0
    entry = 0.0
    anchor_h = plain_h = weighted_h = 0.0
    anchor_3 = plain_3 = weighted_3 = 0.0
    # bars left before each outer WMA re-anchors (a countdown, not t % block:
    # an integer division per bar would cost more than the WMA update)
    left_h = left_3 = 0
    for t in range(start, n):
        u_h = 2.0 * half[t] - full[t]
        u_3 = 3.0 * third_q[t] - half_q[t] - q_raw[t]
        ring_h[t & mask] = u_h
        ring_3[t & mask] = u_3
        # each outer WMA keeps running sums of deviations from an anchor and
        # recomputes them exactly every block, as _numba.wma_sliding does
        if left_h == 0:
            left_h = block_h - 1
            anchor_h = u_h
            plain_h = weighted_h = 0.0
            for j in range(1, p_h + 1):
                v = ring_h[(t - p_h + j) & mask] - anchor_h
                plain_h += v
                weighted_h += j * v
        else:
            left_h -= 1
            v = u_h - anchor_h
            weighted_h += p_h * v - plain_h
            plain_h += v - (ring_h[(t - p_h) & mask] - anchor_h)
        if left_3 == 0:
            left_3 = block_3 - 1
            anchor_3 = u_3
            plain_3 = weighted_3 = 0.0
            for j in range(1, p_3 + 1):
                v = ring_3[(t - p_3 + j) & mask] - anchor_3
                plain_3 += v
                weighted_3 += j * v
        else:
            left_3 -= 1
            v = u_3 - anchor_3
            weighted_3 += p_3 * v - plain_3
            plain_3 += v - (ring_3[(t - p_3) & mask] - anchor_3)
        hma = anchor_h + weighted_h * scale_h
        hma3 = anchor_3 + weighted_3 * scale_3
        now = 1 if hma < hma3 else -1
        if direction == 0:
            direction = now
            entry = close[t]
        elif now != direction:
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


def sweep(close, lengths, fee):
    """Total PnL and trade count of every (length, asset) pair.

    Parameters
    ----------
    close : ndarray of float64, shape (n_assets, n_bars)
        One strictly positive price series per row.
    lengths : ndarray of int64, shape (n_combos,)
    fee : float
        Round-trip fee in percentage points.

    Returns
    -------
    pnl : ndarray of float64, shape (n_combos, n_assets)
    n_trades : ndarray of int64, shape (n_combos, n_assets)
    """
    return _cached.sweep_cached(close, lengths, fee, sliding=True, combos=_fused_combos)


def features(series, length):
    """HMA and HMA3 of one price series (NaN during warm-up), sliding WMAs.

    Parameters
    ----------
    series : ndarray of float64, shape (n_bars,)
    length : int

    Returns
    -------
    hma, hma3 : ndarray of float64, shape (n_bars,)
    """
    return _numba.features(series, length, sliding=True)
