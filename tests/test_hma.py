"""HMASweep: the equivalence gate, the paper's fingerprint and sklearn behaviour."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from skfast.backtest import HMASweep, _numba
from skfast.backtest._grid import DEFAULT_LENGTHS, hma_windows
from skfast.backtest._hma import _auto_rule
from skfast.datasets import make_gbm_prices
from skfast.testing import assert_engines_agree, assert_fitted_equal, assert_same_answer, engine_params

TABLE = HMASweep._engine_table
INSTALLED = TABLE.available()
needs_pandas = pytest.mark.skipif("pandas" not in INSTALLED, reason="the reference needs pandas")


@pytest.fixture(params=engine_params(TABLE))
def engine(request):
    return request.param


@pytest.fixture(scope="module")
def short_default():
    """The paper's series cut to 2,000 bars (long enough for L=200 to trade)."""
    return make_gbm_prices(2_000)[:, None]


@pytest.fixture(scope="module")
def pandas_on_short_default(short_default):
    return HMASweep(engine="pandas").fit(short_default)


@pytest.fixture(scope="module")
def full_default():
    return make_gbm_prices()[:, None]


@needs_pandas
def test_every_engine_matches_pandas_on_the_default_grid(engine, short_default,
                                                         pandas_on_short_default):
    fitted = HMASweep(engine=engine).fit(short_default)
    assert fitted.lengths_.tolist() == DEFAULT_LENGTHS.tolist()
    assert np.all(pandas_on_short_default.n_trades_ > 0)
    assert_same_answer(pandas_on_short_default, fitted, context=f"engine={engine!r}: ")


RANDOM_CASES = [
    # seed, sigma, n_bars, n_assets, n_lengths
    (1, 0.0002, 1_500, 1, 9),
    (7, 0.003, 900, 3, 7),
    (2024, 0.02, 1_200, 2, 8),
]


@needs_pandas
@pytest.mark.parametrize("seed, sigma, n_bars, n_assets, n_lengths", RANDOM_CASES)
def test_every_engine_matches_pandas_on_random_series(seed, sigma, n_bars, n_assets, n_lengths):
    rng = np.random.default_rng(seed)
    X = make_gbm_prices(n_bars, sigma=sigma, s0=rng.uniform(1, 50_000), n_assets=n_assets,
                        random_state=rng).reshape(n_bars, n_assets)
    # tiny windows, the grid's range and lengths whose warm-up outlasts the series
    lengths = np.concatenate(([1, 2, 3], rng.choice(np.arange(4, 260), n_lengths - 3, replace=False)))
    engines = [e for e in INSTALLED if e != "pandas"]
    fitted = assert_engines_agree(HMASweep(lengths=lengths), X, engines=engines)
    assert set(fitted) == {"pandas", *engines}
    # L = 1: HMA and HMA3 are both the price itself, a permanent tie (short)
    assert np.all(fitted["pandas"].n_trades_[0] == 0)
    assert np.all(fitted["pandas"].n_trades_[1:3] > 0)


@needs_pandas
@pytest.mark.parametrize("engine_name", ["numba", "fast"])
def test_process_pool_rung_matches_pandas(engine_name, short_default, pandas_on_short_default):
    lengths = DEFAULT_LENGTHS[::10]
    reference = HMASweep(lengths=lengths, engine="pandas").fit(short_default)
    pooled = HMASweep(lengths=lengths, engine=engine_name, n_jobs=2).fit(short_default)
    assert_same_answer(reference, pooled)


def test_process_pool_runs_on_a_dask_cluster(short_default):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    lengths = DEFAULT_LENGTHS[:6]
    serial = HMASweep(lengths=lengths, engine="numba").fit(short_default)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None), parallel_config(backend="dask"):
        pooled = HMASweep(lengths=lengths, engine="numba", n_jobs=2).fit(short_default)
    assert_same_answer(serial, pooled)


@pytest.mark.parametrize("engine_name", [e for e in TABLE.names[1:] if e != "pandas"])
def test_fingerprint_on_the_full_default_series(engine_name, full_default):
    if engine_name not in INSTALLED:
        pytest.skip(f"engine {engine_name!r} is not installed")
    fitted = HMASweep(lengths=[6], engine=engine_name).fit(full_default)
    assert fitted.n_trades_[0, 0] == 57_029
    assert round(float(fitted.pnl_[0, 0]), 2) == -5165.58


@needs_pandas
def test_fingerprint_for_one_pandas_combo(full_default):
    fitted = HMASweep(lengths=[6], engine="pandas").fit(full_default)
    assert (fitted.n_trades_[0, 0], round(float(fitted.pnl_[0, 0]), 2)) == (57_029, -5165.58)


def test_compiled_engines_agree_on_the_full_default_workload(full_default):
    """All 80 combos on all 150,000 bars: the O(1) WMA over long runs of bars."""
    compiled = ["numba_parallel", "cached", "sliding", "fast"]
    assert_engines_agree(HMASweep(), full_default, engines=compiled, reference="numba")


def test_sliding_wma_tracks_the_direct_wma_across_reanchors():
    x = make_gbm_prices(5_000, sigma=0.01, s0=1e6, random_state=3)
    for p in (1, 2, 7, 100, 300):
        direct, sliding = np.empty_like(x), np.empty_like(x)
        _numba.wma_direct(x, p, 0, direct)
        _numba.wma_sliding(x, p, 0, sliding)
        assert np.array_equal(np.isnan(direct), np.isnan(sliding))
        assert np.nanmax(np.abs(direct - sliding) / x) < 1e-13


def test_feature_cache_is_explicit_bounded_and_reused_across_calls():
    from skfast.backtest import FeatureCache

    X = make_gbm_prices(3_000, random_state=5)[:, None]
    store = FeatureCache(max_bytes=64 * 2**20)
    first = HMASweep(lengths=[10, 20], engine="fast", feature_cache=store).fit(X)
    kept = dict(store._rows)
    assert kept and store.nbytes == sum(r.nbytes for r in kept.values())
    again = HMASweep(lengths=[20, 10], engine="fast", feature_cache=store).fit(X)
    assert all(store._rows[k] is row for k, row in kept.items())  # nothing recomputed
    assert again.n_trades_[::-1].tolist() == first.n_trades_.tolist()
    # clones share the store (a handle); a pickled one arrives empty
    assert clone(HMASweep(feature_cache=store)).feature_cache is store
    assert pickle.loads(pickle.dumps(store)).nbytes == 0
    # the bound holds: a store of two rows keeps at most two rows
    small = FeatureCache(max_bytes=2 * 8 * 3_000)
    HMASweep(lengths=[10, 20, 30], engine="fast", feature_cache=small).fit(X)
    assert 0 < small.nbytes <= small.max_bytes
    store.clear()
    assert store.nbytes == 0


@pytest.mark.parametrize("engine_name", ["cached", "fast"])
def test_working_set_bound_changes_no_result(engine_name, short_default):
    """Chunked by the bound, down to one combo at a time, the sweep is the same."""
    lengths = DEFAULT_LENGTHS[::4]
    unbounded = HMASweep(lengths=lengths, engine=engine_name, max_feature_bytes=2**40)
    one_combo = HMASweep(lengths=lengths, engine=engine_name, max_feature_bytes=1)
    assert_same_answer(unbounded.fit(short_default), one_combo.fit(short_default))


def test_auto_keeps_within_the_feature_bound():
    table = HMASweep._engine_table
    shape = dict(n_bars=200_000, n_assets=1, n_combos=80)
    assert table.resolve("auto", **shape).name == "fast"
    assert table.resolve("auto", **shape, max_feature_bytes=5 * 8 * 200_000).name == "fast"
    assert table.resolve("auto", **shape, max_feature_bytes=5 * 8 * 200_000 - 1).name == "sliding"


def test_predict_positions_replay_the_trades(engine):
    X = make_gbm_prices(1_500, n_assets=2, random_state=11)
    fitted = HMASweep(lengths=[5, 12, 30], engine=engine).fit(X)
    positions = fitted.predict(X)
    assert positions.shape == X.shape and positions.dtype == np.int8
    for a in range(X.shape[1]):
        held = positions[:, a]
        warm = np.flatnonzero(held)
        assert set(np.unique(held[warm[0]:])) <= {-1, 1} and not held[:warm[0]].any()
        best = list(fitted.lengths_).index(fitted.best_length_[a])
        assert np.count_nonzero(np.diff(held[warm[0]:])) == fitted.n_trades_[best, a]
    assert fitted.score(X) == pytest.approx(fitted.best_pnl_.sum(), abs=1e-9)


@pytest.mark.parametrize("n_bars", [1, 5, 33])
def test_series_shorter_than_the_warm_up_book_nothing(engine, n_bars):
    X = make_gbm_prices(n_bars, random_state=0).reshape(n_bars, 1)
    fitted = HMASweep(lengths=[30, 60], engine=engine).fit(X)
    assert fitted.n_trades_.tolist() == [[0], [0]] and fitted.pnl_.tolist() == [[0.0], [0.0]]
    assert fitted.best_length_.tolist() == [30]
    assert not fitted.predict(X).any()


def test_grid_search_walk_forward_over_engines():
    X = make_gbm_prices(2_400, random_state=3)[:, None]
    engines = [e for e in ("numpy", "numba", "numba_parallel", "jax", "fast") if e in INSTALLED]
    search = GridSearchCV(HMASweep(lengths=[6, 14, 40]), {"engine": engines},
                          cv=TimeSeriesSplit(n_splits=3)).fit(X)
    scores = search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(scores, scores[0], rtol=0, atol=1e-6)
    assert np.all(search.cv_results_["mean_fit_time"] > 0)
    assert search.best_estimator_.engine_ in engines


def test_pipeline_from_log_prices():
    prices = make_gbm_prices(1_000, n_assets=2, random_state=4)
    pipe = make_pipeline(FunctionTransformer(np.exp), HMASweep(lengths=[6, 9], engine="numba"))
    pipe.fit(np.log(prices))
    direct = HMASweep(lengths=[6, 9], engine="numba").fit(prices)
    np.testing.assert_array_equal(pipe[-1].n_trades_, direct.n_trades_)
    np.testing.assert_array_equal(pipe.predict(np.log(prices)), direct.predict(prices))
    assert pipe.score(np.log(prices)) == pytest.approx(direct.score(prices), abs=1e-9)


def test_pickle_round_trip(engine):
    X = make_gbm_prices(800, n_assets=2, random_state=8)
    fitted = HMASweep(lengths=[4, 8], engine=engine).fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    assert_fitted_equal(fitted, restored, exact=("pnl_", "n_trades_", "best_length_", "engine_"))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_results_frame_is_tidy():
    pytest.importorskip("pandas")
    X = make_gbm_prices(600, n_assets=2, random_state=1)
    fitted = HMASweep(lengths=[3, 7, 11], engine="numba").fit(X)
    frame = fitted.results_frame()
    assert list(frame.columns) == ["asset", "length", "pnl", "n_trades"]
    assert len(frame) == 6
    row = frame[(frame.asset == 1) & (frame.length == 7)].iloc[0]
    assert row.n_trades == fitted.n_trades_[1, 1] and row.pnl == fitted.pnl_[1, 1]


def _bad_prices():
    good = make_gbm_prices(300, n_assets=2, random_state=2)
    for name, value in (("zero", 0.0), ("negative", -1.0), ("nan", np.nan), ("inf", np.inf)):
        bad = good.copy()
        bad[150, 1] = value
        yield pytest.param(bad, id=name)


@pytest.mark.parametrize("X", list(_bad_prices()))
def test_bad_prices_raise_a_clear_value_error(engine, X):
    before = X.copy()
    with pytest.raises(ValueError, match="positive|NaN|infinity"):
        HMASweep(lengths=[5], engine=engine).fit(X)
    np.testing.assert_array_equal(X, before)  # NaN-aware: the input is untouched


@pytest.mark.parametrize("lengths, error, match", [
    ([0, 5], ValueError, ">= 1"),
    ([-3], ValueError, ">= 1"),
    ([6.5], TypeError, "integers"),
    (["6"], TypeError, "integers"),
    ([True, 2], TypeError, "integers"),
    ([], ValueError, "non-empty"),
    ([[6, 8]], ValueError, "1-D"),
])
def test_bad_lengths_raise_before_any_kernel_runs(engine, lengths, error, match):
    X = make_gbm_prices(100, random_state=0)[:, None]
    with pytest.raises(error, match=match):
        HMASweep(lengths=lengths, engine=engine).fit(X)


def test_one_dimensional_input_gets_the_reshape_hint(engine):
    with pytest.raises(ValueError, match="Reshape your data"):
        HMASweep(lengths=[5], engine=engine).fit(make_gbm_prices(100))


@pytest.mark.parametrize("params, match", [
    ({"fee": np.nan}, "fee"), ({"fee": "0.1"}, "fee"),
    ({"n_jobs": 0}, "n_jobs"), ({"n_threads": 0}, "n_threads"),
    ({"engine": "gpu"}, "'engine' parameter of HMASweep must be a str among"),
])
def test_bad_parameters_raise(params, match):
    X = make_gbm_prices(100, random_state=0)[:, None]
    with pytest.raises(ValueError, match=match):
        HMASweep(lengths=[5], **params).fit(X)


def test_inputs_are_never_modified(engine):
    X = make_gbm_prices(500, n_assets=2, random_state=6)
    lengths = [9, 4, 17]
    X_before, lengths_before = X.copy(), list(lengths)
    fitted = HMASweep(lengths=lengths, engine=engine).fit(X)
    fitted.predict(X)
    fitted.score(X)
    np.testing.assert_array_equal(X, X_before)
    assert lengths == lengths_before
    assert fitted.lengths_.tolist() == lengths  # the caller's order is kept


def test_predict_and_score_check_the_number_of_series():
    fitted = HMASweep(lengths=[5], engine="numba").fit(make_gbm_prices(200, n_assets=2))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(make_gbm_prices(200, n_assets=3))


def test_jax_leaves_the_global_precision_alone():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    HMASweep(lengths=[6], engine="jax").fit(make_gbm_prices(400)[:, None])
    assert jax.config.jax_enable_x64 == before


def test_auto_rule():
    everything = TABLE.available()
    assert _auto_rule(everything, n_bars=150_000, n_assets=1, n_combos=80) == "fast"
    assert _auto_rule(everything, n_bars=150_000, n_assets=50, n_combos=2) == "sliding"
    assert _auto_rule(everything, n_bars=20_000, n_assets=8, n_combos=16) == "sliding"
    assert _auto_rule(everything, n_bars=150_000, n_assets=2, n_combos=80) == "fast"
    # tiny sweeps: fast's serial twins (least work, least to compile)
    assert _auto_rule(everything, n_bars=500, n_assets=1, n_combos=3) == "fast"
    assert _auto_rule(everything, n_bars=500, n_assets=100, n_combos=3) == "fast"
    fitted = HMASweep(lengths=[6, 8]).fit(make_gbm_prices(300)[:, None])
    assert fitted.engine_ == "fast"


# sklearn makes its check data non-negative by subtracting the minimum, which
# leaves a zero price, and prices must be strictly positive: these checks
# cannot pass on HMASweep directly.  test_sklearn_checks_on_positive_prices
# runs them on strictly positive prices (exp of that data) through a
# pipeline, except the two that judge the pipeline's own parameters, which
# test_fit_leaves_parameters_alone replays on HMASweep.
ZERO_PRICE_CHECKS = {
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_fit_returns_self", "check_estimators_nan_inf",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
    "check_fit_score_takes_y", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_readonly_memmap_input",
}
PIPELINE_PARAMETER_CHECKS = {"check_dont_overwrite_parameters", "check_estimators_overwrite_params"}
ZERO_PRICE_REASON = "sklearn's non-negative check data contains a zero price"


def _expected_failed_checks(estimator):
    expected = dict.fromkeys(ZERO_PRICE_CHECKS, ZERO_PRICE_REASON)
    # positions depend on the bars before them: a time series cannot be
    # predicted on a subset or a shuffle of its bars
    expected["check_methods_subset_invariance"] = "predict is path-dependent over bars"
    expected["check_methods_sample_order_invariance"] = "predict is path-dependent over bars"
    return expected


@parametrize_with_checks([HMASweep(lengths=[2, 3, 5], engine=name) for name in INSTALLED],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


class _ExpPrices(FunctionTransformer):
    """exp of sklearn's non-negative check data: strictly positive prices."""

    def __init__(self):
        super().__init__(np.exp, validate=True)


def _check_name(check):
    return getattr(check, "func", check).__name__


POSITIVE_PRICE_CASES = [
    pytest.param(estimator, check, id=f"{name}-{_check_name(check)}")
    for name in INSTALLED
    for estimator, check in estimator_checks_generator(
        make_pipeline(_ExpPrices(), HMASweep(lengths=[2, 3, 5], engine=name)))
    if _check_name(check) in ZERO_PRICE_CHECKS - PIPELINE_PARAMETER_CHECKS
]


@pytest.mark.parametrize("estimator, check", POSITIVE_PRICE_CASES)
def test_sklearn_checks_on_positive_prices(estimator, check):
    check(estimator)


def test_fit_leaves_parameters_alone(engine):
    estimator = HMASweep(lengths=np.array([3, 8]), fee=0.05, engine=engine, n_threads=1)
    params = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in estimator.get_params().items()}
    public_before = {k for k in vars(estimator) if not k.startswith("_")}
    estimator.fit(make_gbm_prices(300, n_assets=2, random_state=9))
    for key, value in estimator.get_params().items():
        assert np.array_equal(value, params[key]) if isinstance(value, np.ndarray) else value == params[key]
    added = {k for k in vars(estimator) if not k.startswith("_")} - public_before
    assert added and all(k.endswith("_") for k in added)


def test_demo_section_gates_every_engine():
    import io

    from skfast.backtest._demo import run_demo

    buffer = io.StringIO()
    rows = run_demo(quick=True, file=buffer)
    text = buffer.getvalue()
    assert {row["engine"] for row in rows} == set(INSTALLED)
    assert "PnL -5165.58 over 57,029 trades" in text
    assert max(row["speedup"] for row in rows) > 1.0


def test_lengths_longer_than_the_series_cost_nothing(engine):
    """A warm-up that outlasts the series books 0 trades without being computed.

    jax once convolved the whole window (13 minutes, 6.8 GB here); every
    engine now leaves such lengths out.
    """
    X = make_gbm_prices(400, random_state=3)[:, None]
    fitted = HMASweep(lengths=[5, 1_000_000], engine=engine).fit(X)
    assert fitted.n_trades_[1, 0] == 0 and fitted.pnl_[1, 0] == 0.0
    assert fitted.n_trades_[0, 0] > 0


def test_vectorised_tie_bounds_equal_the_scalar_bound():
    """tie_bounds (numpy, every combo at once) is bitwise the pandas oracle's tie_bound."""
    from skfast.backtest._exact import tie_bound, tie_bounds

    close = np.vstack([make_gbm_prices(500, s0=s0, random_state=i)
                       for i, s0 in enumerate((1e-3, 1.0, 1e6))])
    windows = hma_windows(np.r_[1, 2, 3, DEFAULT_LENGTHS, 5_000])
    expected = np.array([[tie_bound(w, float(np.max(np.abs(x)))) for x in close] for w in windows])
    assert np.array_equal(tie_bounds(close, windows), expected)


@pytest.mark.parametrize("n_lengths, n_assets, n_jobs", [(80, 1, 2), (7, 3, 2), (2, 5, 8), (1, 1, 4)])
def test_joblib_tasks_cover_each_combo_once_in_blocks_of_neighbours(n_lengths, n_assets, n_jobs):
    from skfast.backtest._hma import TASKS_PER_WORKER, sweep_tasks

    lengths = np.random.default_rng(0).permutation(np.arange(6, 6 + n_lengths))
    tasks = sweep_tasks(lengths, n_assets, n_jobs)
    seen = sorted((int(c), a) for a, combos in tasks for c in combos)
    assert seen == sorted((c, a) for c in range(n_lengths) for a in range(n_assets))
    for _, combos in tasks:  # a block is a run of neighbouring lengths
        assert np.all(np.diff(np.sort(lengths[combos])) == 1)
    costs = [lengths[combos].sum() for _, combos in tasks]
    assert costs == sorted(costs, reverse=True)
    assert len(tasks) <= max(n_assets, TASKS_PER_WORKER * n_jobs + n_assets)
