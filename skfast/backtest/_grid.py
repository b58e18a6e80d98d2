"""What every engine shares: the default grid, the window table and positions.

The window rule lives here once so that no engine can round differently; the
pandas reference deliberately re-derives the windows with Python's ``round``
so that this table is itself checked by the equivalence gate.
"""

import inspect

import numpy as np

__all__ = ["DEFAULT_LENGTHS", "REANCHOR", "hma_windows", "first_valid_bar", "engine_entry", "sweep_each"]

#: The paper's grid: 80 integer lengths spread uniformly over [6, 200], ascending.
DEFAULT_LENGTHS = np.linspace(6, 200, 80).round().astype(np.int64)

#: Bars between two exact recomputations of a sliding WMA's running sums
#: (at least twice its window).  Round-off in a running sum grows with the
#: number of updates (quadratically, in the worst case ``_exact.tie_bound``
#: covers); re-anchoring bounds it, and summing deviations from the anchor
#: price keeps each update's round-off small.  256, as before the tie rule:
#: a block of 64 shrank the bound (a few combos of the benchmark series are
#: settled exactly either way) but cost the sliding engines 12-16%.  It is
#: also the granularity at which ``fast`` resumes an undecided combo on the
#: exact path.  Compiled kernels freeze this value: clear numba's cache
#: after changing it.
REANCHOR = 256

#: Column order of :func:`hma_windows`.
HALF, FULL, ROOT, THIRD_Q, HALF_Q, Q = range(6)


def _r(value):
    """Nearest integer, ties to even (Python's ``round``), floored at 1."""
    return np.maximum(np.rint(value), 1).astype(np.int64)


def hma_windows(lengths):
    """The six WMA windows of each length, one row per combo.

    Columns: ``r(L/2)``, ``L``, ``r(sqrt L)`` (the HMA windows) and, with
    ``q = L/2``, ``r(q/3)``, ``r(q/2)``, ``r(q)`` (the HMA3 windows).

    Parameters
    ----------
    lengths : ndarray of int64, shape (n_combos,)

    Returns
    -------
    windows : ndarray of int64, shape (n_combos, 6), C-contiguous

    Examples
    --------
    >>> from skfast.backtest._grid import hma_windows
    >>> hma_windows([6, 7]).tolist()
    [[3, 6, 2, 1, 2, 3], [4, 7, 3, 1, 2, 4]]
    """
    length = np.asarray(lengths, dtype=np.float64)
    q = length / 2.0
    columns = (length / 2.0, length, np.sqrt(length), q / 3.0, q / 2.0, q)
    return np.ascontiguousarray(np.stack([_r(c) for c in columns], axis=1))


def first_valid_bar(windows):
    """First bar where both HMA and HMA3 are defined, per combo.

    HMA needs ``L - 1`` bars for ``WMA_L`` and ``r(sqrt L) - 1`` more for the
    outer WMA; HMA3's widest inner window is ``r(q)``, which its outer WMA
    uses again.
    """
    windows = np.asarray(windows)
    hma = windows[:, FULL] - 1 + windows[:, ROOT] - 1
    inner = windows[:, [THIRD_Q, HALF_Q, Q]].max(axis=1)
    hma3 = inner - 1 + windows[:, Q] - 1
    return np.maximum(hma, hma3)


#: Bar x asset x combo cells below which a sweep is "tiny": it takes well
#: under a millisecond serially, so the parallel engines run their serial
#: twins (``skfast._compile``: the same tasks, the same results, no threads to
#: start and far less to compile), and ``engine="auto"`` picks ``fast``.
TINY_SWEEP = 200_000


def is_tiny(n_bars, n_assets, n_combos):
    return n_bars * n_assets * n_combos < TINY_SWEEP


def sweep_each(close, lengths, backtest):
    """Outputs of ``backtest(series, length) -> (pnl, n_trades)`` for every pair.

    The Python-level sweep of the engines whose unit of work is one combo on
    one series (pandas, numpy).
    """
    pnl = np.zeros((len(lengths), len(close)))
    n_trades = np.zeros((len(lengths), len(close)), dtype=np.int64)
    for i, length in enumerate(lengths):
        for a, series in enumerate(close):
            pnl[i, a], n_trades[i, a] = backtest(series, int(length))
    return pnl, n_trades


def engine_entry(function):
    """Give an engine's ``sweep`` or ``features`` the docstring of the contract (``_contract``)."""
    from ._contract import HMAEngine

    function.__doc__ = inspect.getdoc(getattr(HMAEngine, function.__name__))
    return function
