"""The best combination: the feature cache filled by the O(1) sliding WMA.

Distinct raw-series windows are computed once (``_cached``), each in O(1)
per bar (``_numba.wma_sliding``); the combos then run their two second-stage
sliding WMAs and the bar loop in parallel.
"""

from functools import partial

from . import _cached, _numba

__all__ = ["sweep", "features"]


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
    return _cached.sweep_cached(close, lengths, fee, sliding=True)


features = partial(_numba.features, sliding=True)
