"""One batched tensor program over all combos (the paper's future work).

Every distinct raw-series WMA of the grid is one row of a single
convolution; each combo's two second-stage WMAs are a depthwise convolution
over all combos at once; and the bar loop becomes a scan-free reducer
(``cummax`` finds each trade's entry bar).  Windows of different lengths share
one kernel width by zero-padding the weights on the left, so zeros are the
only extra terms.  It computes in float64 inside ``jax_dtype_context`` without
touching the global jax configuration.
"""

from functools import partial

import numpy as np

from .._engines import jax_dtype_context
from ._exact import directions, tie_bounds
from ._grid import (FULL, HALF, HALF_Q, Q, ROOT, THIRD_Q, engine_entry, first_valid_bar,
                    hma_windows)

__all__ = ["sweep", "features"]

# Combos per batched call: bounds the (combos, bars) temporaries at a few
# hundred MB on the default series whatever the grid size.
_COMBO_BATCH = 32
_RAW_COLUMNS = [HALF, FULL, THIRD_Q, HALF_Q, Q]


def _weights(windows, width):
    """Integer WMA weights ``1..p``, right-aligned in rows of ``width``."""
    weights = np.zeros((len(windows), width))
    for k, p in enumerate(windows):
        weights[k, width - p:] = np.arange(1, p + 1)
    return weights


@partial(__import__("jax").jit, static_argnames=("width",))
def _wma_rows(series, weights, windows, first, *, width):
    """WMA of each row of ``series`` (rows, bars) with its own window.

    ``series`` has one row per window, or a single row every window reads.
    ``first`` is the first defined bar of each row; bars before
    ``first + p - 1`` come out NaN.
    """
    import jax.numpy as jnp
    n_bars = series.shape[1]
    bars = jnp.arange(n_bars)
    clean = jnp.where(bars[None, :] >= first[:, None], series, 0.0)
    padded = jnp.pad(clean, ((0, 0), (width - 1, 0)))
    # one fused pass: weight column j times the series shifted by j, in the
    # same ascending-j order as the compiled engines (a convolution op gives
    # the same sums but XLA's CPU convolution is ~50x slower here)
    sums = jnp.zeros((weights.shape[0], n_bars))
    for j in range(width):
        sums = sums + weights[:, j, None] * padded[:, j:j + n_bars]
    total = windows * (windows + 1) / 2.0
    defined = bars[None, :] >= (first + windows - 1)[:, None]
    return jnp.where(defined, sums / total[:, None], jnp.nan)


@__import__("jax").jit
def _directions(hma, hma3, start, bound):
    """Float directions per row and whether any valid bar lies within its tie bound."""
    import jax.numpy as jnp

    bars = jnp.arange(hma.shape[1])
    d = hma - hma3
    unsure = (bars[None, :] >= start[:, None]) & ~(jnp.abs(d) > bound[:, None])
    return jnp.where(d < 0, 1.0, -1.0), unsure.any()


def _tie_rule(series, windows, starts, bounds, hma, hma3):
    """Directions per row under the tie rule: the unsure bars settled exactly on the host."""
    import jax.numpy as jnp

    direction, any_unsure = _directions(hma, hma3, jnp.asarray(starts), jnp.asarray(bounds))
    if not bool(any_unsure):
        return direction
    direction = np.array(direction)
    hma, hma3 = np.asarray(hma), np.asarray(hma3)
    for row in range(direction.shape[0]):
        bars = np.arange(starts[row], series.shape[0])
        direction[row, bars] = directions(series, windows[row], hma[row], hma3[row], bars,
                                          bounds[row])
    return jnp.asarray(direction)


@__import__("jax").jit
def _book(close, direction, start, fee):
    """Total PnL and trade count per row, the bar loop as array algebra."""
    import jax.numpy as jnp
    from jax import lax

    bars = jnp.arange(close.shape[0])
    valid = bars[None, :] >= start[:, None]
    flip = valid[:, 1:] & valid[:, :-1] & (direction[:, 1:] != direction[:, :-1])
    opens = (bars[None, :] == start[:, None]).at[:, 1:].max(flip)
    last_open = lax.cummax(jnp.where(opens, bars[None, :], -1), axis=1)
    entry_bar = jnp.maximum(last_open[:, :-1], 0)  # the open before each bar t >= 1
    entry = close[entry_bar]
    held = jnp.take_along_axis(direction, entry_bar, axis=1)
    returns = held * (close[None, 1:] - entry) / entry * 100.0 - fee
    return jnp.where(flip, returns, 0.0).sum(axis=1), flip.sum(axis=1)


def _hma_pairs(raw_table, raw_rows, windows):
    """HMA and HMA3 of each combo (rows) from the distinct raw WMAs."""
    import jax.numpy as jnp

    half, full, third_q, half_q, q = (raw_table[raw_rows[:, k]] for k in range(5))
    root_w, q_w = jnp.asarray(windows[:, ROOT]), jnp.asarray(windows[:, Q])
    width = int(windows[:, [ROOT, Q]].max())
    hma = _wma_rows(2.0 * half - full, jnp.asarray(_weights(windows[:, ROOT], width)), root_w,
                    jnp.asarray(windows[:, FULL] - 1), width=width)
    inner_first = windows[:, [THIRD_Q, HALF_Q, Q]].max(axis=1) - 1
    hma3 = _wma_rows(3.0 * third_q - half_q - q, jnp.asarray(_weights(windows[:, Q], width)), q_w,
                     jnp.asarray(inner_first), width=width)
    return hma, hma3


def _raw(series, windows):
    """Distinct raw-series WMAs of ``windows`` (one conv) and each combo's rows."""
    import jax.numpy as jnp

    raw_windows = windows[:, _RAW_COLUMNS]
    distinct, rows = np.unique(raw_windows, return_inverse=True)
    width = int(distinct.max())
    table = _wma_rows(jnp.asarray(series)[None, :], jnp.asarray(_weights(distinct, width)),
                      jnp.asarray(distinct), jnp.zeros(1, dtype=jnp.int64), width=width)
    return table, rows.reshape(raw_windows.shape)


@engine_entry
def sweep(close, lengths, fee):
    import jax.numpy as jnp

    pnl = np.zeros((len(lengths), close.shape[0]))
    n_trades = np.zeros((len(lengths), close.shape[0]), dtype=np.int64)
    # A length whose warm-up outlasts the series books nothing: leave it out,
    # or its window (up to the length itself) would size every convolution.
    tradable = np.flatnonzero(first_valid_bar(hma_windows(lengths)) < close.shape[1])
    if tradable.size == 0:
        return pnl, n_trades
    windows = hma_windows(np.asarray(lengths)[tradable])
    starts = first_valid_bar(windows)
    bounds = tie_bounds(close, windows)
    with jax_dtype_context(np.float64):
        for a, series in enumerate(close):
            table, rows = _raw(series, windows)
            prices = jnp.asarray(series)
            for lo in range(0, len(tradable), _COMBO_BATCH):
                batch = slice(lo, lo + _COMBO_BATCH)
                hma, hma3 = _hma_pairs(table, rows[batch], windows[batch])
                direction = _tie_rule(series, windows[batch], starts[batch], bounds[batch, a],
                                      hma, hma3)
                total, count = _book(prices, direction, jnp.asarray(starts[batch]), fee)
                combos = tradable[batch]
                pnl[combos, a], n_trades[combos, a] = np.asarray(total), np.asarray(count)
    return pnl, n_trades


@engine_entry
def features(series, length):
    windows = hma_windows([length])
    with jax_dtype_context(np.float64):
        table, rows = _raw(series, windows)
        hma, hma3 = _hma_pairs(table, rows, windows)
        return np.asarray(hma[0]), np.asarray(hma3[0])
