"""The feature cache: every distinct raw-series WMA once for the whole grid.

Of the five raw-series WMAs a combo needs, many repeat across the grid (the
default grid needs 134 distinct windows instead of 400 passes, and the paper
computes ``WMA_{r(L/2)}`` twice per combo).  A :class:`FeatureCache` computes
each distinct window once per series; the combos then only run their two
second-stage WMAs and the bar loop.  Caches are kept in a small LRU keyed by
the series' content, so repeated calls on the same data (refits with other
lengths or fees, ``score`` after ``fit``) reuse them.
"""

import threading
from collections import OrderedDict
from hashlib import blake2b

import numpy as np
from numba import njit, prange

from . import _numba, _numba_parallel
from ._grid import FULL, HALF, HALF_Q, Q, THIRD_Q, engine_entry

__all__ = ["sweep", "features", "FeatureCache", "clear_feature_cache"]

#: Bytes of raw WMAs the LRU keeps across calls (the default grid on the
#: default series needs ~160 MB per series and WMA flavour).
CACHE_BYTES = 512 * 2**20
_RAW_COLUMNS = np.array([HALF, FULL, THIRD_Q, HALF_Q, Q])
_LRU = OrderedDict()


class FeatureCache:
    """Raw-series WMAs of one price series, one row per distinct window.

    Parameters
    ----------
    series : ndarray of float64, shape (n_bars,)
        Must not be modified while the cache is alive.
    sliding : bool
        Whether rows come from the O(1) sliding WMA or the O(p) direct one.
    """

    def __init__(self, series, sliding):
        self.series = series
        self.sliding = sliding
        self.windows = np.empty(0, dtype=np.int64)
        self.table = np.empty((0, series.shape[0]))
        # concurrent fits (threaded GridSearchCV) may share a cache: rows and
        # windows must change together
        self._lock = threading.Lock()

    @property
    def nbytes(self):
        return self.table.nbytes

    def rows(self, windows):
        """Row of each window in :attr:`table`, computing the missing ones."""
        with self._lock:
            return self._rows(windows)

    def _rows(self, windows):
        missing = np.setdiff1d(windows, self.windows)
        if missing.size:
            # longest first: the costliest rows start first under dynamic scheduling
            missing = np.ascontiguousarray(missing[::-1])
            fresh = np.empty((missing.size, self.series.shape[0]))
            with _numba_parallel.dynamic_schedule():
                _raw_table(self.series, missing, self.sliding, fresh)
            self.windows = np.concatenate((self.windows, missing))
            self.table = fresh if not self.table.size else np.concatenate((self.table, fresh))
        lookup = dict(zip(self.windows.tolist(), range(self.windows.size)))
        return np.array([lookup[w] for w in np.ravel(windows).tolist()]).reshape(np.shape(windows))


def feature_cache(series, sliding):
    """The cached :class:`FeatureCache` of ``series``, or a new one."""
    key = (blake2b(series.tobytes(), digest_size=16).digest(), series.shape, sliding)
    cache = _LRU.pop(key, None) or FeatureCache(series.copy(), sliding)
    _LRU[key] = cache
    return cache


def _trim_lru():
    while _LRU and sum(c.nbytes for c in _LRU.values()) > CACHE_BYTES:
        _LRU.popitem(last=False)


def clear_feature_cache():
    """Drop every cached WMA (the benchmark times cold calls with it)."""
    _LRU.clear()


@njit(parallel=True, cache=True)
def _raw_table(series, windows, sliding, table):
    for k in prange(windows.shape[0]):
        _numba.wma(series, windows[k], 0, table[k], sliding)


@njit(parallel=True, cache=True)
def _combos_from_table(series, table, rows, windows, starts, bounds, fee, pnl, n_trades):
    for i in prange(windows.shape[0]):
        r = rows[i]
        pnl[i], n_trades[i] = _numba.combo_from_raw(
            series, table[r[0]], table[r[1]], table[r[2]], table[r[3]], table[r[4]],
            windows[i], starts[i], fee, False, bounds[i])


def sweep_cached(close, lengths, fee, sliding, combos=_combos_from_table):
    """The sweep through per-series feature caches, combos in parallel.

    ``combos(series, table, rows, windows, starts, bounds, fee, pnl, n_trades)``
    runs every combo of one series from the cached rows (``bounds``: the
    combos' tie bounds on that series).
    """
    windows, starts, bounds, pnl, n_trades = _numba.plan(close, lengths)
    for a, series in enumerate(close):
        cache = feature_cache(series, sliding)
        rows = cache.rows(windows[:, _RAW_COLUMNS])
        out_pnl, out_trades = np.zeros(len(lengths)), np.zeros(len(lengths), dtype=np.int64)
        with _numba_parallel.dynamic_schedule():
            combos(cache.series, cache.table, rows, windows, starts,
                   np.ascontiguousarray(bounds[:, a]), float(fee), out_pnl, out_trades)
        pnl[:, a], n_trades[:, a] = out_pnl, out_trades
        _trim_lru()
    return pnl, n_trades


@engine_entry
def sweep(close, lengths, fee):
    return sweep_cached(close, lengths, fee, sliding=False)


features = _numba.features
