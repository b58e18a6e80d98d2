"""M2, compiled: the WMA and the stateful bar loop, one thread.

The kernel keeps the loop form of the computation; no vectorization trick is
needed once the loop is machine code.  Every other numba engine calls the
functions below (``combo_kernel``, ``hma_from_raw``, ``event_loop``, ``wma``)
rather than a copy of them; ``sliding=True`` swaps the O(p) WMA for the O(1)
one and changes nothing else.
"""

import numpy as np
from numba import njit

from ._exact import direction_at, float_direction, tie_bounds, unsure_direction
from ._grid import (FULL, HALF, HALF_Q, Q, REANCHOR, ROOT, THIRD_Q, engine_entry,
                    first_valid_bar, hma_windows)

__all__ = ["sweep", "features", "wma", "book", "event_loop", "combo_kernel", "combo_from_raw",
           "hma_from_raw", "settle_marked", "UNSETTLED"]

# Bars per tile of the direct WMA: the tile of the output and of the input it
# reads stay in L1 across the p weight passes.
_TILE = 2048
# The raw series' WMAs start at bar 0.  An int64, not the literal 0, so that
# one compilation of ``wma`` serves them and the derived series alike.
FROM_FIRST_BAR = np.int64(0)


@njit(cache=True)
def wma_direct(x, p, first, out):
    """O(p) per bar: ``sum_j j * x[t-p+j] / sum_j j``, j ascending as in the paper."""
    n = x.shape[0]
    start = first + p - 1
    out[: min(start, n)] = np.nan
    total = p * (p + 1) / 2.0
    acc = np.empty(_TILE)
    for lo in range(start, n, _TILE):
        m = min(_TILE, n - lo)
        base = lo - p
        for t in range(m):
            acc[t] = x[base + 1 + t]
        for j in range(2, p + 1):
            # j outermost: the t loop has no carried dependency and vectorizes
            # (a private accumulator and a slice rule out aliasing), yet each
            # bar still adds its terms in ascending j
            weight = float(j)
            terms = x[base + j: base + j + m]
            for t in range(m):
                acc[t] += weight * terms[t]
        for t in range(m):
            out[lo + t] = acc[t] / total


@njit(cache=True)
def wma_sliding(x, p, first, out):
    """O(1) per bar: running plain and weighted sums, re-anchored every block."""
    n = x.shape[0]
    start = first + p - 1
    out[: min(start, n)] = np.nan
    # the reciprocal of the weight total: a division per bar would be the
    # slowest instruction of the update (the result moves by at most an ulp)
    scale = 2.0 / (p * (p + 1))
    block = max(REANCHOR, 2 * p)
    for lo in range(start, n, block):
        anchor = x[lo]
        plain = 0.0
        weighted = 0.0
        for j in range(1, p + 1):
            v = x[lo - p + j] - anchor
            plain += v
            weighted += j * v
        out[lo] = anchor + weighted * scale
        for t in range(lo + 1, min(lo + block, n)):
            v = x[t] - anchor
            # the weighted sum shifts every weight down by one (minus the old
            # plain sum) and gives the new bar weight p
            weighted += p * v - plain
            plain += v - (x[t - p] - anchor)
            out[t] = anchor + weighted * scale


@njit(cache=True)
def wma(x, p, first, out, sliding):
    """WMA of window ``p`` of ``x`` (defined from bar ``first``) into ``out``."""
    if sliding:
        wma_sliding(x, p, first, out)
    else:
        wma_direct(x, p, first, out)


@njit(cache=True, inline="always")
def book(now, direction, entry, price, pnl, n_trades, fee):
    """One bar of the trade logic: on a flip, close at ``price`` and reopen."""
    if now != direction:
        pnl += direction * (price - entry) / entry * 100.0 - fee
        return now, price, pnl, n_trades + 1
    return direction, entry, pnl, n_trades


@njit(cache=True)
def _float_event_loop(close, hma, hma3, start, fee):
    """The bar loop on the floating directions; also the smallest |HMA - HMA3| met."""
    direction = float_direction(hma[start] - hma3[start])
    entry = close[start]
    pnl = 0.0
    n_trades = 0
    for t in range(start + 1, close.shape[0]):
        direction, entry, pnl, n_trades = book(float_direction(hma[t] - hma3[t]), direction,
                                               entry, close[t], pnl, n_trades, fee)
    return pnl, n_trades, _closest(hma, hma3, start)


@njit(cache=True, inline="always")
def _closest(hma, hma3, start):
    """``min |hma - hma3|`` from bar ``start`` on, in a loop of its own.

    Four independent minima: one running minimum inside the bar loop adds a
    chain of dependent instructions to every bar (it cost the cached engine
    about 7%); here the chains overlap, and the pass over two arrays the bar
    loop has just read costs little.
    """
    n = hma.shape[0]
    m0 = m1 = m2 = m3 = np.inf
    t = start
    while t + 4 <= n:
        m0 = min(m0, abs(hma[t] - hma3[t]))
        m1 = min(m1, abs(hma[t + 1] - hma3[t + 1]))
        m2 = min(m2, abs(hma[t + 2] - hma3[t + 2]))
        m3 = min(m3, abs(hma[t + 3] - hma3[t + 3]))
        t += 4
    while t < n:
        m0 = min(m0, abs(hma[t] - hma3[t]))
        t += 1
    return min(min(m0, m1), min(m2, m3))


@njit(cache=True)
def _settled_event_loop(close, hma, hma3, w, start, fee, bound):
    """The bar loop with every bar inside the tie bound settled exactly.

    The bound is tested in the loop body (a branch almost never taken, so
    predicted) and only a bar inside it calls into ``_exact``: calling
    ``direction_at``, which takes the price array, on every bar made this
    loop six times slower than the floating one.
    """
    direction = direction_at(close, start, w, hma[start], hma3[start], bound)
    entry = close[start]
    pnl = 0.0
    n_trades = 0
    for t in range(start + 1, close.shape[0]):
        difference = hma[t] - hma3[t]
        now = float_direction(difference)
        if not abs(difference) > bound:
            now = unsure_direction(close, t, w)
        direction, entry, pnl, n_trades = book(now, direction, entry, close[t], pnl, n_trades, fee)
    return pnl, n_trades


#: ``n_trades`` of a combo some bar of which came within its tie bound.  The
#: one-thread kernels (M2, fast's tiny sweeps) leave it to
#: :func:`settle_marked`, so their exact arithmetic compiles only when a sweep
#: meets such a bar; the parallel ones settle it on the spot
#: (:func:`settled_event_loop`; ``fast`` by a second pass of its fused loop),
#: overlapping their other tasks.
UNSETTLED = -1


@njit(cache=True)
def event_loop(close, hma, hma3, w, start, fee, bound):
    """Total PnL and trade count of the HMA cross from bar ``start`` on.

    The floating directions are exact unless some bar came within ``bound``,
    the combo's ``tie_bound`` (most combos have none); then the combo is
    returned as ``(0.0, UNSETTLED)``, for :func:`settle_marked` or
    :func:`settled_event_loop`.
    """
    if start >= close.shape[0]:
        return 0.0, 0
    pnl, n_trades, closest = _float_event_loop(close, hma, hma3, start, fee)
    if closest <= bound:
        return 0.0, UNSETTLED
    return pnl, n_trades


@njit(cache=True)
def settled_event_loop(close, hma, hma3, w, start, fee, bound):
    """:func:`event_loop`, settling an undecided bar on the spot.

    For the parallel kernels: one pass, every bar tested against the bound
    (a predicted branch, :func:`direction_at`), so an undecided combo costs
    no second pass, and its settlement overlaps the other threads' tasks.
    """
    if start >= close.shape[0]:
        return 0.0, 0
    return _settled_event_loop(close, hma, hma3, w, start, fee, bound)


@njit(cache=True)
def _settled_combo(close, w, start, fee, sliding, bound):
    raw = _raw_wmas(close, w, sliding)
    hma = np.empty(close.shape[0])
    hma3 = np.empty(close.shape[0])
    hma_from_raw(raw[0], raw[1], raw[2], raw[3], raw[4], w, sliding, hma, hma3)
    return _settled_event_loop(close, hma, hma3, w, start, fee, bound)


def settle_marked(close, windows, starts, bounds, fee, sliding, pnl, n_trades):
    """Run the combos a kernel marked ``UNSETTLED`` on the exact path (``_exact``), in place.

    Each has a bar its floating features could not decide; the exact
    settlement of those bars does not depend on how the features were
    rounded, so any engine's features serve.
    """
    for i, a in np.argwhere(n_trades == UNSETTLED):
        pnl[i, a], n_trades[i, a] = _settled_combo(close[a], windows[i], starts[i], float(fee),
                                                   sliding, bounds[i, a])


@njit(cache=True)
def hma_from_raw(raw_half, raw_full, raw_third_q, raw_half_q, raw_q, w, sliding, hma, hma3):
    """HMA and HMA3 into ``hma``/``hma3`` from the five raw-series WMAs."""
    n = raw_full.shape[0]
    derived = np.full(n, np.nan)
    first = w[FULL] - 1
    for t in range(first, n):
        derived[t] = 2.0 * raw_half[t] - raw_full[t]
    wma(derived, w[ROOT], first, hma, sliding)
    first = max(w[THIRD_Q], w[HALF_Q], w[Q]) - 1
    for t in range(first, n):
        derived[t] = 3.0 * raw_third_q[t] - raw_half_q[t] - raw_q[t]
    wma(derived, w[Q], first, hma3, sliding)


@njit(cache=True)
def deferred_combo_from_raw(close, raw_half, raw_full, raw_third_q, raw_half_q, raw_q, w, start,
                            fee, sliding, bound):
    """(PnL, trades) of one combo on one series, given its five raw-series WMAs.

    An undecided combo is left ``UNSETTLED`` (:func:`event_loop`): the
    one-thread kernels call it and settle afterwards.
    """
    hma = np.empty(close.shape[0])
    hma3 = np.empty(close.shape[0])
    hma_from_raw(raw_half, raw_full, raw_third_q, raw_half_q, raw_q, w, sliding, hma, hma3)
    return event_loop(close, hma, hma3, w, start, fee, bound)


@njit(cache=True)
def combo_from_raw(close, raw_half, raw_full, raw_third_q, raw_half_q, raw_q, w, start, fee, sliding,
                   bound):
    """:func:`deferred_combo_from_raw`, settled on the spot (:func:`settled_event_loop`).

    The parallel engines call it: their other tasks overlap the settlement.
    """
    hma = np.empty(close.shape[0])
    hma3 = np.empty(close.shape[0])
    hma_from_raw(raw_half, raw_full, raw_third_q, raw_half_q, raw_q, w, sliding, hma, hma3)
    return settled_event_loop(close, hma, hma3, w, start, fee, bound)


@njit(cache=True)
def _raw_wmas(close, w, sliding):
    # the five raw-series WMAs of one combo: half, full, third_q, half_q, q
    raw = np.empty((5, close.shape[0]))
    for k, column in enumerate((HALF, FULL, THIRD_Q, HALF_Q, Q)):
        wma(close, w[column], FROM_FIRST_BAR, raw[k], sliding)
    return raw


@njit(cache=True)
def combo_kernel(close, w, start, fee, sliding, bound):
    """(PnL, trades) of one combo on one series: seven WMA passes, one loop.

    ``WMA_{r(q)}`` of the raw series equals ``WMA_{r(L/2)}`` and is computed
    twice, as in the paper's fixed kernel; the ``cached`` engine drops it.
    Settled on the spot, as :func:`combo_from_raw`.
    """
    raw = _raw_wmas(close, w, sliding)
    return combo_from_raw(close, raw[0], raw[1], raw[2], raw[3], raw[4], w, start, fee, sliding,
                          bound)


@njit(cache=True)
def _deferred_combo(close, w, start, fee, sliding, bound):
    """:func:`combo_kernel` leaving an undecided combo ``UNSETTLED``."""
    raw = _raw_wmas(close, w, sliding)
    return deferred_combo_from_raw(close, raw[0], raw[1], raw[2], raw[3], raw[4], w, start, fee,
                                   sliding, bound)


@njit(cache=True)
def _sweep_serial(close, windows, starts, bounds, fee, sliding, pnl, n_trades):
    # one thread: settling afterwards costs nothing in overlap, and the exact
    # arithmetic then compiles only when a sweep meets a tie
    n_assets = close.shape[0]
    for task in range(windows.shape[0] * n_assets):
        i = task // n_assets
        a = task % n_assets
        pnl[i, a], n_trades[i, a] = _deferred_combo(close[a], windows[i], starts[i], fee,
                                                    sliding, bounds[i, a])


def sweep_serial(close, lengths, fee, sliding):
    """Every (length, asset) task in this thread; undecided combos settled afterwards."""
    windows, starts, bounds, pnl, n_trades = plan(close, lengths)
    _sweep_serial(close, windows, starts, bounds, float(fee), sliding, pnl, n_trades)
    settle_marked(close, windows, starts, bounds, fee, sliding, pnl, n_trades)
    return pnl, n_trades


def plan(close, lengths):
    """Window table, first valid bars, tie bounds and zeroed outputs of a sweep."""
    windows = hma_windows(lengths)
    shape = (len(lengths), close.shape[0])
    return (windows, first_valid_bar(windows), tie_bounds(close, windows), np.zeros(shape),
            np.zeros(shape, dtype=np.int64))


@engine_entry
def sweep(close, lengths, fee):
    return sweep_serial(close, lengths, fee, sliding=False)


def features(series, length, sliding=False):
    """HMA and HMA3 of one price series (NaN during warm-up).

    Parameters
    ----------
    series : ndarray of float64, shape (n_bars,)
    length : int
    sliding : bool, default=False
        Use the O(1) sliding WMA.

    Returns
    -------
    hma, hma3 : ndarray of float64, shape (n_bars,)
    """
    w = hma_windows([length])[0]
    raw = np.empty((5, series.shape[0]))
    for k, column in enumerate((HALF, FULL, THIRD_Q, HALF_Q, Q)):
        wma(series, w[column], FROM_FIRST_BAR, raw[k], sliding)
    hma, hma3 = np.empty_like(series), np.empty_like(series)
    hma_from_raw(*raw, w, sliding, hma, hma3)
    return hma, hma3
