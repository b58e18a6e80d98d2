"""The feature cache: every distinct raw-series WMA once for the whole grid.

Of the five raw-series WMAs a combo needs, many repeat across the grid (the
default grid needs 134 distinct windows instead of 400 passes, and the paper
computes ``WMA_{r(L/2)}`` twice per combo).  The ``cached`` and ``fast``
engines compute each distinct window once per series; the combos then only
run their two second-stage WMAs and the bar loop.

Memory is the user's to control.  Within one fit the rows held at once never
exceed ``max_bytes``: the combos of a series, sorted by length so that
neighbours share windows, run in chunks whose distinct rows fit the bound
(at least one combo per chunk).  Across fits nothing is kept unless the
estimator is given a :class:`FeatureCache`, a store with its own bound that
refits on the same series (other lengths or fees, ``score`` after ``fit``)
reuse.
"""

import threading
from collections import OrderedDict
from hashlib import blake2b

import numpy as np
from numba import njit, prange

from .._compile import serial_twin
from . import _numba, _numba_parallel
from ._grid import FULL, HALF, HALF_Q, Q, THIRD_Q, engine_entry, is_tiny

__all__ = ["sweep", "sweep_with_cache", "features", "FeatureCache", "DEFAULT_MAX_BYTES",
           "working_set_bytes"]

#: Default bound on the raw WMAs one fit holds at once (``max_feature_bytes``).
DEFAULT_MAX_BYTES = 256 * 2**20
_RAW_COLUMNS = np.array([HALF, FULL, THIRD_Q, HALF_Q, Q])


def working_set_bytes(n_bars, max_bytes):
    """Bytes of raw WMAs a cached sweep holds at once: at most ``max_bytes``, at least one combo's."""
    return max(int(max_bytes), 5 * 8 * int(n_bars))


class FeatureCache:
    """Raw-series WMAs kept across fits, up to ``max_bytes``, least recently used out first.

    Pass one to ``HMASweep(feature_cache=...)`` (for the ``cached`` and
    ``fast`` engines) to reuse the moving averages of a series in later
    fits: other lengths or fees, ``score`` after ``fit``, the folds of a
    grid search on the same series.  Cloning an estimator shares its store
    (a store is a handle, as a ``joblib.Memory`` is); pickling one (a
    process-based joblib backend) sends an empty store with the same bound.

    Parameters
    ----------
    max_bytes : int, default=512 MiB
        Bytes of moving averages kept; the least recently used series and
        windows go first.

    Examples
    --------
    >>> from skfast.backtest import FeatureCache, HMASweep
    >>> from skfast.datasets import make_gbm_prices
    >>> store = FeatureCache(max_bytes=64 * 2**20)
    >>> X = make_gbm_prices(2_000, random_state=0)[:, None]
    >>> _ = HMASweep(lengths=[10, 20], engine="fast", feature_cache=store).fit(X)
    >>> store.nbytes > 0
    True
    """

    def __init__(self, max_bytes=512 * 2**20):
        self.max_bytes = int(max_bytes)
        self._rows = OrderedDict()  # (series key, sliding, window) -> row
        # concurrent fits (threaded GridSearchCV) may share a store
        self._lock = threading.Lock()

    @property
    def nbytes(self):
        """Bytes of moving averages held."""
        return sum(row.nbytes for row in self._rows.values())

    def clear(self):
        """Drop every kept moving average."""
        with self._lock:
            self._rows.clear()

    def __repr__(self):
        return f"FeatureCache(max_bytes={self.max_bytes})"

    def __deepcopy__(self, memo):
        return self  # a handle: clones of an estimator share it

    def __reduce__(self):
        return (type(self), (self.max_bytes,))  # a pickled store arrives empty

    def _take(self, key, windows):
        """Kept rows of ``windows`` (a dict window -> row), marking them recently used."""
        with self._lock:
            found = {}
            for w in windows:
                row = self._rows.get((*key, w))
                if row is not None:
                    self._rows.move_to_end((*key, w))
                    found[w] = row
            return found

    def _keep(self, key, rows):
        with self._lock:
            for w, row in rows.items():
                self._rows[(*key, w)] = row
                self._rows.move_to_end((*key, w))
            total = self.nbytes
            while self._rows and total > self.max_bytes:
                _, dropped = self._rows.popitem(last=False)
                total -= dropped.nbytes


def _series_key(series):
    return (blake2b(series.tobytes(), digest_size=16).digest(), series.shape[0])


def _raw_rows(series, windows, sliding, store, key, tiny=False):
    """``(table, order)``: the raw WMAs of ``windows``, one row per window in ``order``.

    Rows kept in ``store`` are copied in; the missing ones are computed
    straight into the table (longest window first: the costliest rows start
    first under dynamic scheduling), and copies of them go to the store.
    """
    kept = store._take(key, windows) if store is not None else {}
    missing = sorted((w for w in windows if w not in kept), reverse=True)
    order = missing + [w for w in windows if w in kept]
    table = np.empty((len(order), series.shape[0]))
    if missing:
        with _numba_parallel.dynamic_schedule():
            (_raw_table_serial if tiny else _raw_table)(
                series, np.array(missing, dtype=np.int64), sliding, table[:len(missing)])
        if store is not None:
            store._keep(key, {w: table[i].copy() for i, w in enumerate(missing)})
    for i, w in enumerate(order[len(missing):], start=len(missing)):
        table[i] = kept[w]
    return table, order


def _chunks(raw_windows, order, n_bars, max_bytes):
    """Combos (in ``order``) grouped so that each group's distinct rows fit ``max_bytes``."""
    limit = max(1, working_set_bytes(n_bars, max_bytes) // (8 * n_bars))
    chunk, distinct = [], set()
    for i in order:
        needed = distinct | set(raw_windows[i].tolist())
        if chunk and len(needed) > limit:
            yield chunk
            chunk, needed = [], set(raw_windows[i].tolist())
        chunk.append(i)
        distinct = needed
    if chunk:
        yield chunk


@njit(parallel=True, cache=True)
def _raw_table(series, windows, sliding, table):
    for k in prange(windows.shape[0]):
        _numba.wma(series, windows[k], _numba.FROM_FIRST_BAR, table[k], sliding)


@njit(parallel=True, cache=True)
def _combos_from_table(series, table, rows, windows, starts, bounds, fee, pnl, n_trades):
    for i in prange(windows.shape[0]):
        r = rows[i]
        pnl[i], n_trades[i] = _numba.combo_from_raw(
            series, table[r[0]], table[r[1]], table[r[2]], table[r[3]], table[r[4]],
            windows[i], starts[i], fee, False, bounds[i])


@njit(cache=True)
def _deferred_combos_from_table(series, table, rows, windows, starts, bounds, fee, pnl, n_trades):
    # tiny sweeps, one thread: undecided combos are settled after the sweep
    for i in range(windows.shape[0]):
        r = rows[i]
        pnl[i], n_trades[i] = _numba.deferred_combo_from_raw(
            series, table[r[0]], table[r[1]], table[r[2]], table[r[3]], table[r[4]],
            windows[i], starts[i], fee, False, bounds[i])


_raw_table_serial = serial_twin(_raw_table)


def sweep_with_cache(close, lengths, fee, feature_cache=None, max_bytes=DEFAULT_MAX_BYTES,
                     sliding=False, combos=None):
    """The sweep through the raw-WMA tables of each series, combos in parallel.

    ``feature_cache``: a :class:`FeatureCache` to reuse and keep rows in
    (None: nothing kept after the call); ``max_bytes``: the most rows held
    at once in this call (:func:`working_set_bytes`).  ``combos``: the
    (serial, parallel) kernels ``(series, table, rows, windows, starts,
    bounds, fee, pnl, n_trades)`` that run the combos of one chunk from its
    table (``bounds``: their tie bounds); the serial one serves tiny sweeps.
    """
    tiny = is_tiny(close.shape[1], close.shape[0], len(lengths))
    combos = combos or (_deferred_combos_from_table, _combos_from_table)
    combos = combos[0] if tiny else combos[1]
    windows, starts, bounds, pnl, n_trades = _numba.plan(close, lengths)
    raw_windows = windows[:, _RAW_COLUMNS]
    by_length = np.argsort(windows[:, FULL], kind="stable")  # neighbours share windows
    for a, series in enumerate(close):
        # only a store needs the series' identity
        key = (*_series_key(series), sliding) if feature_cache is not None else None
        for chunk in _chunks(raw_windows, by_length, close.shape[1], max_bytes):
            chunk = np.array(chunk)
            distinct, rows = np.unique(raw_windows[chunk], return_inverse=True)
            table, held = _raw_rows(series, distinct.tolist(), sliding, feature_cache, key, tiny)
            # rows index the distinct windows; the table holds them in ``held`` order
            position = np.empty(distinct.size, dtype=np.int64)
            position[np.searchsorted(distinct, held)] = np.arange(len(held))
            rows = position[rows]
            out_pnl = np.zeros(chunk.size)
            out_trades = np.zeros(chunk.size, dtype=np.int64)
            with _numba_parallel.dynamic_schedule():
                combos(series, table, np.ascontiguousarray(rows.reshape(chunk.size, 5)),
                       np.ascontiguousarray(windows[chunk]), np.ascontiguousarray(starts[chunk]),
                       np.ascontiguousarray(bounds[chunk, a]), float(fee), out_pnl, out_trades)
            pnl[chunk, a], n_trades[chunk, a] = out_pnl, out_trades
    _numba.settle_marked(close, windows, starts, bounds, fee, sliding, pnl, n_trades)
    return pnl, n_trades


@engine_entry
def sweep(close, lengths, fee):
    return sweep_with_cache(close, lengths, fee)


features = _numba.features
