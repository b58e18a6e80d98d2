"""M3: the M2 kernel unchanged, ``prange`` across (combo, asset) tasks.

Parallelism is across tasks only; each task's bar loop stays serial.  The
grid's cost grows with L, so tasks are dealt to threads one at a time
(chunk size 1) instead of in contiguous blocks, where the thread holding the
long windows would finish last.
"""

from contextlib import contextmanager

import numba
from numba import njit, prange

from . import _numba
from ._grid import engine_entry, is_tiny

__all__ = ["sweep", "features", "sweep_tasks"]


@njit(parallel=True, cache=True)
def _sweep_prange(close, windows, starts, bounds, fee, sliding, pnl, n_trades):
    n_assets = close.shape[0]
    for task in prange(windows.shape[0] * n_assets):
        i = task // n_assets
        a = task % n_assets
        pnl[i, a], n_trades[i, a] = _numba.combo_kernel(close[a], windows[i], starts[i], fee,
                                                        sliding, bounds[i, a])



def sweep_tasks(close, lengths, fee, sliding):
    """Every (length, asset) task of the sweep through ``combo_kernel``, in parallel."""
    if is_tiny(close.shape[1], close.shape[0], len(lengths)):
        # One thread, the same combos: nothing parallel to compile, and the
        # exact arithmetic compiles only if a tie needs it.
        return _numba.sweep_serial(close, lengths, fee, sliding)
    windows, starts, bounds, pnl, n_trades = _numba.plan(close, lengths)
    with dynamic_schedule():
        # combo_kernel settles an undecided combo on the spot: nothing is left marked
        _sweep_prange(close, windows, starts, bounds, float(fee), sliding, pnl, n_trades)
    return pnl, n_trades


@contextmanager
def dynamic_schedule():
    """Hand ``prange`` iterations out one at a time, restoring the previous chunk size."""
    previous = numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(previous)


@engine_entry
def sweep(close, lengths, fee):
    return sweep_tasks(close, lengths, fee, sliding=False)


features = _numba.features
