"""The M3 orchestration with the O(1) sliding WMA instead of the O(p) one.

Each WMA keeps a running plain sum and a running weighted sum, so its cost
per bar no longer grows with the window; the sums are re-anchored every
block (see ``_numba.wma_sliding``) so round-off can never move a crossing
and trade counts stay exact.
"""

from functools import partial

from . import _numba, _numba_parallel

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
    return _numba_parallel.sweep_tasks(close, lengths, fee, sliding=True)


features = partial(_numba.features, sliding=True)
