"""M0, the readable reference: ``rolling(p).apply`` and an interpreted loop.

This is the naive profile the paper times: every WMA window goes through a
Python callback and every bar through the interpreter.  It is slow on purpose
and structurally unlike the other engines (it shares none of their
computation, not even the window table; only the loop over (combo, asset)
pairs and the tie bound), which is what makes it a useful oracle.  Bars whose
direction the floating features cannot decide (``_exact.tie_bound``) are
decided with :class:`fractions.Fraction` straight from the definitions, the
tie rule of ``_exact`` read as plainly as it can be.
"""

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from ._exact import tie_bound
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


class _ExactFeatures:
    """HMA and HMA3 of one series in rational arithmetic, straight from their definitions."""

    def __init__(self, series, length):
        self.series = series
        q = length / 2
        self.half, self.full, self.root = _window(length / 2), length, _window(math.sqrt(length))
        self.third_q, self.half_q, self.q = _window(q / 3), _window(q / 2), _window(q)

        self._wmas = {}

    def wma(self, p, s):
        if (p, s) not in self._wmas:
            self._wmas[p, s] = sum(i * Fraction(self.series[s - p + i]) for i in range(1, p + 1)
                                   ) / Fraction(p * (p + 1), 2)
        return self._wmas[p, s]

    def hma(self, t):
        p = self.root
        return sum(i * (2 * self.wma(self.half, s) - self.wma(self.full, s))
                   for i, s in enumerate(range(t - p + 1, t + 1), start=1)) / Fraction(p * (p + 1), 2)

    def hma3(self, t):
        p = self.q
        return sum(i * (3 * self.wma(self.third_q, s) - self.wma(self.half_q, s) - self.wma(self.q, s))
                   for i, s in enumerate(range(t - p + 1, t + 1), start=1)) / Fraction(p * (p + 1), 2)


def _direction(t, hma, hma3, exact, bound):
    """+1 when HMA < HMA3 in exact arithmetic, else -1 (ties are short).

    Only a bar whose floating difference is within ``bound`` of zero can
    have a different exact sign; it is decided with fractions.
    """
    d = hma[t] - hma3[t]
    if abs(d) > bound:
        return 1 if d < 0 else -1
    return 1 if exact.hma(t) < exact.hma3(t) else -1


def _backtest(close, hma, hma3, fee, exact, bound):
    pnl, n_trades = 0.0, 0
    direction = entry = None
    for t in range(len(close)):
        if math.isnan(hma[t]) or math.isnan(hma3[t]):
            continue
        now = _direction(t, hma, hma3, exact, bound)
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
        exact = _ExactFeatures(series.tolist(), length)
        window_table = np.array([exact.half, exact.full, exact.root, exact.third_q, exact.half_q,
                                 exact.q])
        bound = tie_bound(window_table, float(np.max(np.abs(series))))
        return _backtest(series.tolist(), hma.tolist(), hma3.tolist(), fee, exact, bound)

    return sweep_each(close, lengths, backtest)
