"""The hostile battery: every engine against the oracle on data drawn to break it.

Each case comes from ``skfast.utils._hostile`` (seeded), so a failure names
its kind and seed and reproduces exactly.
"""

from fractions import Fraction

import numpy as np
import pytest

from skfast.backtest import HMASweep
from skfast.backtest._exact import exact_direction, tie_bound
from skfast.backtest._grid import first_valid_bar, hma_windows
from skfast.backtest._hma import _normalised
from skfast.backtest._pandas import _ExactFeatures
from skfast.utils._hostile import PRICE_KINDS, hostile_prices
from skfast.utils._testing import assert_engines_agree

HMA_TABLE = HMASweep._engine_table
HMA_ENGINES = [e for e in HMA_TABLE.available() if e != "pandas"]
HMA_GATE = dict(exact=("lengths_", "n_trades_", "best_length_"), close=("pnl_", "best_pnl_"),
                rtol=0.0, atol=1e-6)
HOSTILE_LENGTHS = [1, 2, 3, 5, 8, 13, 21, 30]
needs_pandas = pytest.mark.skipif("pandas" not in HMA_TABLE.available(),
                                  reason="the HMA reference needs pandas")


# --- HMASweep: the tie rule -------------------------------------------------------


@needs_pandas
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", PRICE_KINDS)
def test_every_hma_engine_matches_the_oracle_on_hostile_prices(kind, seed):
    X = hostile_prices(kind, seed)
    fitted = assert_engines_agree(HMASweep(lengths=HOSTILE_LENGTHS), X, engines=HMA_ENGINES,
                                  reference="pandas", **HMA_GATE)
    positions = {name: est.predict(X) for name, est in fitted.items()}
    for name, pos in positions.items():
        np.testing.assert_array_equal(pos, positions["pandas"], err_msg=f"engine={name!r}")


@pytest.mark.parametrize("engine", [*HMA_ENGINES, pytest.param("pandas", marks=needs_pandas)])
def test_a_step_flips_twice_per_level_change(engine):
    """100 -> 200 -> 150: flat windows are exact ties (short); each step flips out and back."""
    X = hostile_prices("step", 0, n_bars=300)
    fitted = HMASweep(lengths=[6, 20], engine=engine).fit(X)
    assert fitted.n_trades_.ravel().tolist() == [4, 4]


@pytest.mark.parametrize("engine", HMA_ENGINES)
def test_a_power_of_two_scaling_changes_nothing(engine):
    """Integer prices scaled exactly, into the subnormal range and up to 1e300."""
    X = hostile_prices("integer", 3)
    reference = HMASweep(lengths=HOSTILE_LENGTHS, engine=engine).fit(X)
    assert reference.n_trades_.sum() > 0
    for factor in (2.0**-1060, 2.0**-500, 2.0**500, 2.0**990):
        scaled = HMASweep(lengths=HOSTILE_LENGTHS, engine=engine).fit(X * factor)
        np.testing.assert_array_equal(scaled.n_trades_, reference.n_trades_)
        np.testing.assert_array_equal(scaled.pnl_, reference.pnl_)


def test_prices_spanning_too_many_orders_of_magnitude_are_refused():
    X = np.r_[1e-200, np.ones(50), 1e200][:, None]
    with pytest.raises(ValueError, match="2\\*\\*900"):
        HMASweep(lengths=[3]).fit(X)


def _exact_difference(series, length, t):
    exact = _ExactFeatures(series.tolist(), length)
    return exact.hma(t) - exact.hma3(t)


@pytest.mark.parametrize("kind", ["tick_held", "integer", "tiny_walk", "subnormal", "huge"])
def test_the_tie_bound_covers_every_engines_rounding(kind):
    """|computed HMA - HMA3 - exact HMA - HMA3| <= tie_bound at every valid bar."""
    series = _normalised(hostile_prices(kind, 5, n_bars=160).T)[0]
    for length in (2, 7, 20):
        w = hma_windows([length])[0]
        bound = tie_bound(w, float(series.max()))
        bars = range(int(first_valid_bar(w[None, :])[0]), series.size, 3)
        exact = {t: _exact_difference(series, length, t) for t in bars}
        for engine in HMA_ENGINES:
            hma, hma3 = HMA_TABLE[engine].load().features(series, length)
            worst = max(abs(Fraction(float(hma[t]) - float(hma3[t])) - d) for t, d in exact.items())
            assert worst <= bound, (engine, length, float(worst), bound)


def test_exact_direction_agrees_with_fractions_near_ties():
    rng = np.random.default_rng(0)
    for trial in range(60):
        length = int(rng.integers(1, 40))
        w = hma_windows([length])[0]
        start = int(first_valid_bar(w[None, :])[0])
        # integer prices with a few exact ties, or a flat window nudged by one ulp
        x = rng.integers(1, 4, size=start + 5).astype(np.float64)
        if trial % 3 == 0:
            x[:] = 3.0
            x[rng.integers(x.size)] = np.nextafter(3.0, 4.0 if trial % 2 else 0.0)
        for t in range(start, x.size):
            d = _exact_difference(x, length, t)
            assert exact_direction(x, t, w) == (1 if d < 0 else -1), (length, t)
