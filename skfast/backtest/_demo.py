"""The HMASweep section of ``python -m skfast``."""

import time

import numpy as np

from ..datasets import make_gbm_prices
from ._grid import DEFAULT_LENGTHS
from ._hma import HMASweep

__all__ = ["run_demo"]


def _fit_timed(engine, X):
    start = time.perf_counter()
    fitted = HMASweep(engine=engine).fit(X)
    return fitted, time.perf_counter() - start


def run_demo(quick=True, file=None):
    """Print the equivalence gate, the L=6 fingerprint and a small timing table.

    Every installed engine sweeps the paper's 80-length grid over the first
    bars of the paper's series and must agree with the reference engine
    (pandas when installed) before its time is shown; the fingerprint runs
    the fastest engine on the full 150,000 bars.

    Parameters
    ----------
    quick : bool, default=True
        1,500 bars instead of 10,000 for the gate and the timings.
    file : file-like, default=None
        Where to print; ``sys.stdout`` when None.

    Returns
    -------
    rows : list of dict
        One row per engine: ``engine``, ``wall_s``, ``combos_per_s``,
        ``speedup`` (against the slowest engine run) and ``max_abs_pnl_diff``.

    Examples
    --------
    >>> import io
    >>> from skfast.backtest._demo import run_demo
    >>> rows = run_demo(file=io.StringIO())  # doctest: +SKIP
    """
    out = {"file": file} if file is not None else {}
    n_bars = 1_500 if quick else 10_000
    X = make_gbm_prices()[:n_bars, None]
    table = HMASweep._engine_table
    engines = list(table.available())
    # the oracle (pandas) when installed; else numba, itself gated on it in the tests
    reference = table.gate.oracle if table.gate.oracle in engines else "numba"
    print(f"HMASweep: HMA-cross sweep, {len(DEFAULT_LENGTHS)} lengths over [6, 200], "
          f"{n_bars:,} bars of the paper's series", **out)

    ref, ref_wall = _fit_timed(reference, X)
    rows = []
    for engine in engines:
        fitted, wall = (ref, ref_wall) if engine == reference else _fit_timed(engine, X)
        if engine != reference:  # the first call compiled; time a second one
            fitted, wall = _fit_timed(engine, X)
        problems = table.gate.mismatches(ref, fitted)
        if problems:
            raise AssertionError(f"engine {engine!r} disagrees with {reference!r}: "
                                 + "; ".join(problems))
        diff = float(np.max(np.abs(fitted.pnl_ - ref.pnl_)))
        rows.append({"engine": engine, "wall_s": wall, "combos_per_s": len(DEFAULT_LENGTHS) / wall,
                     "max_abs_pnl_diff": diff})
    slowest = max(r["wall_s"] for r in rows)
    for row in rows:
        row["speedup"] = slowest / row["wall_s"]
    print(f"  gate: {len(rows)} engines agree with {reference!r} on all {len(DEFAULT_LENGTHS)} "
          f"combos (trade counts identical, max |dPnL| "
          f"{max(r['max_abs_pnl_diff'] for r in rows):.1e})", **out)

    fingerprint = HMASweep(lengths=[6], engine="fast").fit(make_gbm_prices()[:, None])
    print(f"  fingerprint L=6 on 150,000 bars: PnL {fingerprint.pnl_[0, 0]:.2f} over "
          f"{fingerprint.n_trades_[0, 0]:,} trades (paper: -5165.58 over 57,029)", **out)
    print(f"  {'engine':<16}{'wall s':>10}{'combos/s':>12}{'speed-up':>11}", **out)
    for row in sorted(rows, key=lambda r: -r["wall_s"]):
        print(f"  {row['engine']:<16}{row['wall_s']:>10.4f}{row['combos_per_s']:>12.1f}"
              f"{row['speedup']:>10.1f}x", **out)
    return rows
