"""HMASweep: the HMA-cross parameter sweep behind the engine ladder."""

from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import DocLinkMixin
from .._engines import (N_JOBS_CONSTRAINT, N_THREADS_CONSTRAINT, Engine, EngineTable, GateSpec,
                        compute_threads, engine_run)
from ._cached import DEFAULT_MAX_BYTES, FeatureCache, working_set_bytes
from ._contract import HMAEngine
from ._exact import positions as tie_rule_positions
from ._grid import DEFAULT_LENGTHS, is_tiny

__all__ = ["HMASweep"]

# Combos per series from which sharing the raw WMAs beats per-combo sliding.
_COMBOS_PER_SERIES_FOR_CACHE = 4


def _auto_rule(available, *, n_bars, n_assets, n_combos, max_feature_bytes=None):
    """Pick the engine for ``engine="auto"`` from the sweep's shape.

    Measured in ``benchmarks/results/bench.json`` (section ``hma``, ``auto_rule``).  A
    tiny sweep (``_grid.is_tiny``: under 200,000 bar x asset x combo cells)
    takes milliseconds whatever runs it; the parallel engines then run their
    serial twins, and ``fast``, whose O(1) WMAs and shared windows do the
    least work, is quickest there and the cheapest to compile on a first
    fit.  Above that, when many combos share each series, computing each
    distinct raw WMA once (``fast``) wins: 80 combos on one 150,000-bar
    series.  With few combos per series the cache saves little, and ``fast``
    runs one parallel region per series, so ``sliding``, whose (combo, asset)
    tasks form a single parallel region, wins: 2 combos x 40 assets and 16
    combos x 8 assets.  ``fast`` is never picked when one combo's rows exceed
    ``max_feature_bytes``.
    """
    # the cache must hold one combo's five rows within the bound the user set
    fits = max_feature_bytes is None or working_set_bytes(n_bars, 0) <= max_feature_bytes
    if fits and (is_tiny(n_bars, n_assets, n_combos)
                 or n_combos >= _COMBOS_PER_SERIES_FOR_CACHE * n_assets):
        return "fast"
    return "sliding"


_ENGINES = EngineTable("HMASweep", (
    Engine("pandas", "skfast.backtest._pandas", requires=("pandas",), extra="pandas",
           description="M0: rolling(p).apply + interpreted loop (the readable reference)"),
    Engine("numpy", "skfast.backtest._numpy",
           description="M1: sliding-window GEMV WMAs + closed-form trade reducer"),
    Engine("numba", "skfast.backtest._numba",
           description="M2: compiled WMA and stateful bar loop, one thread"),
    Engine("numba_parallel", "skfast.backtest._numba_parallel", compiled_parallel=True,
           description="M3: the same kernel, prange across combos and assets"),
    Engine("jax", "skfast.backtest._jax", requires=("jax",), extra="jax",
           description="one batched tensor program over all combos (float64)"),
    Engine("cached", "skfast.backtest._cached", compiled_parallel=True,
           capabilities=frozenset({"sweep_with_cache"}),
           description="M3 + each distinct raw-series WMA once, reused across combos and calls"),
    Engine("sliding", "skfast.backtest._sliding", compiled_parallel=True,
           description="M3 with the O(1)-per-bar sliding WMA (re-anchored, exact trade counts)"),
    Engine("fast", "skfast.backtest._fast", compiled_parallel=True,
           capabilities=frozenset({"sweep_with_cache"}),
           description="feature cache filled by the O(1) sliding WMA, prange across combos"),
), _auto_rule, contract=HMAEngine,
    # trade counts decide everything: identical; PnL sums the same returns
    # in different orders
    gate=GateSpec(oracle="pandas", exact=("lengths_", "n_trades_", "best_length_"),
                  close=("pnl_", "best_pnl_"), rtol=0.0, atol=1e-6))


def _sweep(engine, kernels, close, lengths, fee, feature_cache, max_bytes):
    """The engine's sweep; through its bounded tables when it keeps features."""
    if engine.provides("sweep_with_cache"):
        return kernels.sweep_with_cache(close, lengths, fee, feature_cache, max_bytes)
    return kernels.sweep(close, lengths, fee)


#: Tasks per joblib worker that ``n_jobs`` aims for: enough for the dynamic
#: hand-out to balance blocks of unequal cost, few enough that each block's
#: neighbouring lengths share most of their moving averages.
TASKS_PER_WORKER = 4


def sweep_tasks(lengths, n_assets, n_jobs):
    """``(asset, combo indices)`` of each joblib task, costliest first.

    A task is one series and a block of neighbouring lengths (sorted), so
    that the feature cache of the ``cached`` and ``fast`` engines serves the
    whole block, as in one fit; blocks are cut so that there are about
    :data:`TASKS_PER_WORKER` tasks per worker.  Cost is taken as the sum of
    the block's lengths (the direct WMAs' work), so the longest blocks start
    first and the short ones fill the gaps.
    """
    order = np.argsort(lengths, kind="stable")
    blocks_per_asset = max(1, min(order.size, -(-TASKS_PER_WORKER * n_jobs // n_assets)))
    blocks = [block for block in np.array_split(order, blocks_per_asset) if block.size]
    tasks = [(asset, block) for block in blocks for asset in range(n_assets)]
    tasks.sort(key=lambda task: -int(np.sum(lengths[task[1]])))
    return tasks


def _run_task(engine, close, lengths, fee, feature_cache, max_bytes):
    """One M4 task in a worker: its combos with one compute thread."""
    kernels = engine.load()
    with compute_threads(1, engine):
        return _sweep(engine, kernels, close, lengths, fee, feature_cache, max_bytes)


class HMASweep(DocLinkMixin, BaseEstimator):
    """Hull-moving-average cross backtest swept over a grid of lengths.

    For each length ``L`` and each price series (column of ``X``) the
    strategy goes long when ``HMA_L < HMA3_L`` and short otherwise, flipping
    at the close whenever the direction changes; each round trip books its
    signed return in percentage points minus ``fee``.  Every engine computes
    the same per-combo (PnL, trade count): the equivalence gate in the tests
    holds trade counts identical and PnL within 1e-6 across engines.

    Parameters
    ----------
    lengths : array-like of int, default=None
        HMA lengths to sweep, each an integer >= 1.  None means the paper's
        grid: 80 integers spread uniformly over [6, 200].
    fee : float, default=0.09
        Round-trip fee in percentage points, charged on every closed trade.
    engine : {"auto", "pandas", "numpy", "numba", "numba_parallel", "jax", \
"cached", "sliding", "fast"}, default="auto"
        Compute engine; ``"auto"`` picks one from the data shape.  The
        engines page of the documentation says what each one does;
        :func:`skfast.available_engines` lists the installed ones.
    feature_cache : FeatureCache or None, default=None
        A store that keeps the raw-series moving averages of the ``cached``
        and ``fast`` engines across fits (refits with other lengths or fees,
        ``score`` after ``fit``, grid-search folds on the same series), up to
        its own ``max_bytes``.  None keeps nothing after a fit.
    max_feature_bytes : int, default=268435456 (256 MiB)
        The most moving averages the ``cached`` and ``fast`` engines hold at
        once in one fit: the combos of a series run in chunks that fit (at
        least one combo, five rows of the series, at a time).  ``auto``
        never picks ``fast`` when one combo's rows exceed it.
    n_jobs : int, default=None
        Processes (or joblib workers) across (series, block of neighbouring
        lengths) tasks, about four per worker, the costliest first, each
        running the engine on one thread with its own feature cache.
        ``joblib.parallel_config(backend="dask")`` runs them on a Dask
        cluster.  None means 1: the engine's own threads over the whole
        sweep.  On wide sweeps (thousands of lengths, several series)
        worker processes beat the threads, and the Dask backend on local
        workers about matches them (``benchmarks/results/hma_jobs.json``);
        on small sweeps the processes' start-up costs more than it saves.
    n_threads : int, default=None
        Threads for the numba-parallel engines and BLAS; None or -1 means all
        cores.
    verbose : int, default=0
        joblib verbosity when ``n_jobs`` > 1.

    Attributes
    ----------
    lengths_ : ndarray of int64, shape (n_combos,)
        The swept lengths.
    pnl_ : ndarray of float64, shape (n_combos, n_assets)
        Total PnL of every length on every series, in percentage points.
    n_trades_ : ndarray of int64, shape (n_combos, n_assets)
        Closed round trips of every length on every series.
    best_length_ : ndarray of int64, shape (n_assets,)
        Length with the highest PnL per series (the shortest on ties).
    best_pnl_ : ndarray of float64, shape (n_assets,)
        That PnL.
    engine_ : str
        The engine that ran.
    n_features_in_ : int
        Number of series seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X`` when it has string column names.

    Notes
    -----
    ``WMA_p`` is the linearly weighted moving average over ``p`` bars; with
    ``r`` rounding half to even and windows floored at 1,
    ``HMA_L = WMA_r(sqrt L)(2 WMA_r(L/2) - WMA_L)`` and, with ``q = L/2``,
    ``HMA3_L = WMA_r(q)(3 WMA_r(q/3) - WMA_r(q/2) - WMA_r(q))``.  Trading
    starts on the first bar where both are defined; a position still open at
    the last bar is not booked.  A series too short for a length's warm-up
    gives that length 0 trades and 0 PnL.

    **Ties.** The direction is the sign of ``HMA - HMA3`` of the input
    floats in exact arithmetic: long when it is negative, short otherwise,
    so a tie is short.  On a flat stretch (prices held at a tick) the two
    features are equal, and each engine's rounding used to pick the
    direction; now every engine, the pandas reference included, settles
    every bar whose floating difference lies within a rigorous bound on its
    rounding error in exact arithmetic, so trade counts are identical on any
    input.  ``L = 1`` never trades: both features are the price itself.
    Each series is scaled by a power of two before any engine runs (exact,
    and no result changes), so prices from the subnormal range up to 1e300
    behave as prices near 1; a series whose highest price exceeds
    ``2**900`` times its lowest raises ``ValueError``.

    Examples
    --------
    >>> from skfast.backtest import HMASweep
    >>> from skfast.datasets import make_gbm_prices
    >>> X = make_gbm_prices(2_000, n_assets=2, random_state=0)
    >>> sweep = HMASweep(lengths=[6, 20, 50], engine="numba").fit(X)
    >>> sweep.pnl_.shape, sweep.n_trades_.dtype.name
    ((3, 2), 'int64')
    >>> sweep.predict(X).shape
    (2000, 2)
    """

    _engine_table = _ENGINES

    _parameter_constraints: dict = {
        "lengths": [None, "array-like"],
        "fee": [Interval(Real, None, None, closed="neither")],
        "engine": [StrOptions(set(_ENGINES.names))],
        "feature_cache": [None, FeatureCache],
        "max_feature_bytes": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
        "n_threads": N_THREADS_CONSTRAINT,
        "verbose": ["verbose"],
    }

    def __init__(self, lengths=None, *, fee=0.09, engine="auto", feature_cache=None,
                 max_feature_bytes=DEFAULT_MAX_BYTES, n_jobs=None, n_threads=None, verbose=0):
        self.lengths = lengths
        self.fee = fee
        self.engine = engine
        self.feature_cache = feature_cache
        self.max_feature_bytes = max_feature_bytes
        self.n_jobs = n_jobs
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Backtest every length on every series of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_bars, n_assets)
            Closing prices, one series per column, finite and strictly
            positive.
        y : None
            Ignored.

        Returns
        -------
        self : HMASweep
            The fitted estimator.
        """
        close = self._validate_prices(X, reset=True)
        lengths = _check_lengths(self.lengths)
        fee = float(self.fee)
        engine = self._engine_table.resolve(self.engine, n_bars=close.shape[1],
                                            n_assets=close.shape[0], n_combos=lengths.size,
                                            max_feature_bytes=self.max_feature_bytes)
        n_jobs = effective_n_jobs(self.n_jobs)
        with engine_run(self, engine, n_threads=self.n_threads if n_jobs == 1 else 1) as (
                kernels, _):
            if n_jobs == 1:
                pnl, n_trades = _sweep(engine, kernels, close, lengths, fee, self.feature_cache,
                                       self.max_feature_bytes)
            else:
                pnl, n_trades = self._sweep_across_jobs(engine, close, lengths, fee, n_jobs)
        self.lengths_ = lengths
        self.pnl_ = pnl
        self.n_trades_ = n_trades
        best = np.argmax(pnl, axis=0)
        self.best_length_ = lengths[best]
        self.best_pnl_ = pnl[best, np.arange(pnl.shape[1])]
        return self

    def _sweep_across_jobs(self, engine, close, lengths, fee, n_jobs):
        tasks = sweep_tasks(lengths, close.shape[0], n_jobs)
        parts = Parallel(n_jobs=n_jobs, batch_size=1, verbose=self.verbose)(
            delayed(_run_task)(engine, close[[asset]], lengths[combos], fee, self.feature_cache,
                               self.max_feature_bytes) for asset, combos in tasks)
        pnl = np.empty((lengths.size, close.shape[0]))
        n_trades = np.empty((lengths.size, close.shape[0]), dtype=np.int64)
        for (asset, combos), (part_pnl, part_trades) in zip(tasks, parts):
            pnl[combos, asset], n_trades[combos, asset] = part_pnl[:, 0], part_trades[:, 0]
        return pnl, n_trades

    def predict(self, X):
        """Position held after each bar with each series' best length.

        Parameters
        ----------
        X : array-like of shape (n_bars, n_assets)
            Closing prices, finite and strictly positive.

        Returns
        -------
        positions : ndarray of int8, shape (n_bars, n_assets)
            +1 long, -1 short, 0 before the best length's warm-up ends.
        """
        check_is_fitted(self)
        close = self._validate_prices(X, reset=False)
        engine = self._engine_table[self.engine_]
        kernels = engine.load()
        positions = np.zeros(close.shape, dtype=np.int8)
        with compute_threads(self.n_threads, engine):
            for a, series in enumerate(close):
                length = int(self.best_length_[a])
                positions[a] = tie_rule_positions(series, length, *kernels.features(series, length))
        return positions.T

    def score(self, X, y=None):
        """Total PnL on ``X`` of each series' best length, summed over series.

        Parameters
        ----------
        X : array-like of shape (n_bars, n_assets)
            Closing prices, finite and strictly positive.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Out-of-sample PnL in percentage points (higher is better).
        """
        check_is_fitted(self)
        close = self._validate_prices(X, reset=False)
        engine = self._engine_table[self.engine_]
        kernels = engine.load()
        total = 0.0
        with compute_threads(self.n_threads, engine):
            for a, series in enumerate(close):
                pnl, _ = _sweep(engine, kernels, series[None, :], self.best_length_[a:a + 1],
                                float(self.fee), self.feature_cache, self.max_feature_bytes)
                total += float(pnl[0, 0])
        return total

    def results_frame(self):
        """Tidy table of the sweep: one row per (asset, length).

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``asset``, ``length``, ``pnl`` and ``n_trades``.
        """
        check_is_fitted(self)
        import pandas as pd

        n_combos, n_assets = self.pnl_.shape
        assets = getattr(self, "feature_names_in_", np.arange(n_assets))
        return pd.DataFrame({
            "asset": np.tile(assets, n_combos),
            "length": np.repeat(self.lengths_, n_assets),
            "pnl": self.pnl_.ravel(),
            "n_trades": self.n_trades_.ravel(),
        })

    def _validate_prices(self, X, *, reset):
        """Validated prices as a private (n_assets, n_bars) C-contiguous copy."""
        X = validate_data(self, X, reset=reset, dtype=np.float64)
        if np.any(X < 0):
            raise ValueError("Negative values in data passed to HMASweep: prices must be "
                             "strictly positive.")
        if np.any(X == 0):
            raise ValueError("HMASweep: prices must be strictly positive, got a zero price.")
        # a private copy, one contiguous row per series: kernels never see the
        # caller's memory, so no engine can modify it
        close = np.array(X.T, dtype=np.float64, order="C", copy=True)
        return _normalised(close)


# Largest binary orders of magnitude between a series' highest and lowest
# price: beyond it the scaled lowest price would leave the normal range.
_MAX_PRICE_OCTAVES = 900


def _normalised(close):
    """Each series scaled by a power of two so that its highest price is in [0.5, 1).

    Scaling by a power of two is exact and changes no result: the direction
    is the exact sign of a linear filter of the prices, and each trade's
    return ``(price - entry) / entry`` rounds the same quotient.  It keeps
    every engine's intermediates away from overflow and from the subnormal
    range (which XLA flushes to zero), so prices of 1e-320 or 1e300 trade
    exactly as prices of 1.
    """
    highest, lowest = close.max(axis=1), close.min(axis=1)
    exponent = np.frexp(highest)[1]
    too_wide = exponent - np.frexp(lowest)[1] > _MAX_PRICE_OCTAVES
    if np.any(too_wide):
        a = int(np.flatnonzero(too_wide)[0])
        raise ValueError(
            f"HMASweep: series {a} spans prices from {lowest[a]:.3g} to {highest[a]:.3g}; the "
            f"highest price may be at most 2**900 (about 8.5e270) times the lowest.")
    return np.ldexp(close, -exponent[:, None])


def _check_lengths(lengths):
    if lengths is None:
        return DEFAULT_LENGTHS.copy()
    values = np.asarray(lengths)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence of integers, got shape {values.shape}.")
    # judged element by element: numpy would silently turn True into 1
    items = np.asarray(lengths, dtype=object).tolist()
    if not all(isinstance(v, Integral) and not isinstance(v, (bool, np.bool_)) for v in items):
        raise TypeError(f"lengths must be integers, got {values.dtype} values such as {values[0]!r}.")
    values = values.astype(np.int64)
    if values.min() < 1:
        raise ValueError(f"lengths must be integers >= 1, got {int(values.min())}.")
    return values
