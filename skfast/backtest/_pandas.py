"""M0, the readable reference: ``rolling(p).apply`` and an interpreted loop.

This is the naive profile the paper times: every WMA window goes through a
Python callback and every bar through the interpreter.  It is slow on purpose
and structurally unlike the other engines (it shares none of their
computation, not even the window table; only the loop over (combo, asset)
pairs), which is what makes it a useful oracle.
"""

import math

import numpy as np
import pandas as pd

from ._grid import engine_entry, sweep_each

__all__ = ["sweep", "features"]


def _window(value):
    return max(1, round(value))


def _wma(series, p):
    weights = np.arange(1, p + 1, dtype=np.float64)
    total = weights.sum()
    return series.rolling(p).apply(lambda window: np.dot(weights, window) / total, raw=True)


@engine_entry
def features(series, length):
    x = pd.Series(series)
    q = length / 2
    hma = _wma(2 * _wma(x, _window(length / 2)) - _wma(x, length), _window(math.sqrt(length)))
    inner = 3 * _wma(x, _window(q / 3)) - _wma(x, _window(q / 2)) - _wma(x, _window(q))
    hma3 = _wma(inner, _window(q))
    return hma.to_numpy(), hma3.to_numpy()


def _backtest(close, hma, hma3, fee):
    pnl, n_trades = 0.0, 0
    direction = entry = None
    for t in range(len(close)):
        if math.isnan(hma[t]) or math.isnan(hma3[t]):
            continue
        now = 1 if hma[t] < hma3[t] else -1
        if direction is None:
            direction, entry = now, close[t]
        elif now != direction:
            pnl += direction * (close[t] - entry) / entry * 100.0 - fee
            n_trades += 1
            direction, entry = now, close[t]
    return pnl, n_trades


@engine_entry
def sweep(close, lengths, fee):
    def backtest(series, length):
        hma, hma3 = features(series, length)
        return _backtest(series.tolist(), hma.tolist(), hma3.tolist(), fee)

    return sweep_each(close, lengths, backtest)
