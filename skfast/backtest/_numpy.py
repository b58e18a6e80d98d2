"""M1, vectorized numpy: sliding-window products and a closed-form reducer.

Each WMA is one matrix-vector product over ``sliding_window_view`` (a BLAS
GEMV, so BLAS threads matter: the benchmark pins them to one).  The bar loop
becomes array algebra: flips are located with ``flatnonzero`` and every
round trip is booked in one expression.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._exact import directions
from ._grid import FULL, HALF, HALF_Q, Q, ROOT, THIRD_Q, engine_entry, hma_windows, sweep_each

__all__ = ["sweep", "features", "wma", "event_loop"]


def wma(x, p):
    """Weighted moving average of window ``p`` (NaN for the first ``p - 1`` bars)."""
    out = np.full(x.shape[0], np.nan)
    if p <= x.shape[0]:
        weights = np.arange(1, p + 1, dtype=np.float64)
        out[p - 1:] = sliding_window_view(x, p) @ weights / weights.sum()
    return out


@engine_entry
def features(series, length):
    w = hma_windows([length])[0]
    hma = wma(2.0 * wma(series, w[HALF]) - wma(series, w[FULL]), w[ROOT])
    inner = 3.0 * wma(series, w[THIRD_Q]) - wma(series, w[HALF_Q]) - wma(series, w[Q])
    return hma, wma(inner, w[Q])


def event_loop(close, hma, hma3, w, fee):
    """Total PnL and trade count of the HMA cross, without a loop over bars.

    Directions follow the tie rule (``_exact.directions``).
    """
    valid = np.flatnonzero(~(np.isnan(hma) | np.isnan(hma3)))
    if valid.size == 0:
        return 0.0, 0
    direction = directions(close, w, hma, hma3, valid).astype(np.float64)
    price = close[valid]
    exits = np.flatnonzero(direction[1:] != direction[:-1]) + 1
    # every position opens where the previous one closed, the first at bar 0
    entries = np.concatenate(([0], exits[:-1]))
    returns = direction[entries] * (price[exits] - price[entries]) / price[entries] * 100.0 - fee
    return float(returns.sum()), int(exits.size)


@engine_entry
def sweep(close, lengths, fee):
    def backtest(series, length):
        return event_loop(series, *features(series, length), hma_windows([length])[0], fee)

    return sweep_each(close, lengths, backtest)
