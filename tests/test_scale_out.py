"""Beyond one machine's memory: Dask arrays on a process cluster, memmaps in tiles.

The cluster is a real ``distributed.LocalCluster`` of two worker processes on
the loopback interface, started here, so every task and its inputs are
pickled and shipped to another process.
"""

import tracemalloc

import numpy as np
import pytest

from skfast.permutation import PermutationTest
from skfast.permutation import _permutation_test

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def process_cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _data(seed=0, n_samples=40, n_features=37):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    X[:, 3] = 1.0  # a constant feature
    X[:, 4] = np.round(X[:, 4])  # ties
    X[: n_samples // 2, 5] += 1.5  # a real difference
    y = np.arange(n_samples) % 2
    return X, y


def _assert_same_test(got, expected):
    np.testing.assert_array_equal(got.pvalues_, expected.pvalues_)
    np.testing.assert_array_equal(got.statistic_, expected.statistic_)
    if expected.correction is not None:
        np.testing.assert_array_equal(got.pvalues_corrected_, expected.pvalues_corrected_)
    np.testing.assert_array_equal(got.get_support(), expected.get_support())
    assert (got.engine_, got.n_permutations_, got.exact_) == (
        expected.engine_, expected.n_permutations_, expected.exact_)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("statistic, correction", [("mean_diff", "maxT"), ("welch_t", "maxT"),
                                                   ("welch_t", "fdr_bh"), ("mean_diff", None)])
def test_permutation_test_on_worker_processes_is_the_in_memory_fit(process_cluster, engine,
                                                                   statistic, correction):
    """Chunks of 10, 1, 20 and 6 columns (and rows cut in three) on two workers."""
    X, y = _data()
    params = dict(n_permutations=299, statistic=statistic, correction=correction,
                  random_state=0, engine=engine)
    expected = PermutationTest(**params).fit(X, y)
    chunked = da.from_array(X, chunks=(15, (10, 1, 20, 6)))
    _assert_same_test(PermutationTest(**params).fit(chunked, y), expected)


@pytest.mark.parametrize("design", ["one_sample", "paired"])
@pytest.mark.parametrize("statistic", ["mean_diff", "t"])
def test_sign_flips_on_worker_processes_are_the_in_memory_fit(process_cluster, design, statistic):
    """The sign-flip designs' chunks on two workers: the in-memory p-values bit for bit."""
    X, y = _data(n_samples=40)
    fit_params = dict(groups=np.arange(40) // 2) if design == "paired" else {}
    params = dict(n_permutations=299, design=design, statistic=statistic, correction="maxT",
                  random_state=0)
    expected = PermutationTest(**params).fit(X, y, **fit_params)
    chunked = da.from_array(X, chunks=(15, (10, 1, 20, 6)))
    _assert_same_test(PermutationTest(**params).fit(chunked, y, **fit_params), expected)


def test_exact_mode_on_worker_processes(process_cluster):
    X, y = _data(n_samples=10, n_features=9)
    params = dict(n_permutations=999, correction="maxT", random_state=0)
    expected = PermutationTest(**params).fit(X, y)
    assert expected.exact_
    _assert_same_test(PermutationTest(**params).fit(da.from_array(X, chunks=(10, 4)), y),
                      expected)


def test_the_driver_never_holds_x(process_cluster):
    """X is drawn on the workers; the driver allocates a small part of its size."""
    n_samples, n_features = 60, 200_000
    X = da.random.RandomState(0).standard_normal((n_samples, n_features),
                                                 chunks=(n_samples, 25_000))
    y = np.arange(n_samples) % 2
    tracemalloc.start()
    try:
        fitted = PermutationTest(99, correction="maxT", random_state=0).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fitted.pvalues_.shape == (n_features,)
    assert peak < X.nbytes / 4, (peak, X.nbytes)


def test_memmap_runs_in_tiles_with_the_in_memory_answer(tmp_path, monkeypatch):
    X, y = _data(n_features=50)
    path = tmp_path / "X.dat"
    on_disk = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    on_disk[:] = X
    on_disk.flush()
    # tiles of 3 columns: many tiles, and a last one narrower than the others
    monkeypatch.setattr(_permutation_test, "TILE_BYTES", 3 * 8 * X.shape[0] * 4)
    for statistic in ("mean_diff", "welch_t"):
        params = dict(n_permutations=199, statistic=statistic, correction="maxT",
                      random_state=1)
        expected = PermutationTest(**params).fit(X, y)
        read_only = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
        _assert_same_test(PermutationTest(**params).fit(read_only, y), expected)


def test_bad_out_of_core_input_is_refused_clearly(process_cluster):
    X, y = _data()
    X[2, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PermutationTest(99).fit(da.from_array(X, chunks=(40, 10)), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PermutationTest(99).fit(da.from_array(X[:30]), y)
    with pytest.raises(ValueError, match="2D"):
        PermutationTest(99).fit(da.from_array(X[:, 0]), y)


@pytest.mark.parametrize("engine", ["fast", "numba"])
def test_hma_sweep_under_the_dask_backend_is_the_default_fit(process_cluster, engine):
    """(series, block of lengths) tasks on worker processes: the same trades and PnL."""
    from joblib import parallel_config

    from skfast.backtest import HMASweep
    from skfast.utils._hostile import hostile_prices

    X = np.column_stack([hostile_prices("tick_held", seed, n_bars=3_000)[:, 0]
                         for seed in range(3)])
    lengths = np.arange(6, 40)
    expected = HMASweep(lengths=lengths, engine=engine).fit(X)
    with parallel_config(backend="dask"):
        got = HMASweep(lengths=lengths, engine=engine, n_jobs=2).fit(X)
    np.testing.assert_array_equal(got.n_trades_, expected.n_trades_)
    np.testing.assert_array_equal(got.pnl_, expected.pnl_)


@pytest.mark.parametrize("kind", ["huge", "tiny", "tiny_group"])
def test_hostile_data_on_worker_processes_is_the_in_memory_fit(process_cluster, kind):
    """Extreme scales and a group of two, chunked over columns, on the workers."""
    X, y = _data(seed=2)
    if kind == "huge":
        X = X * 1e150
    elif kind == "tiny":
        X = X * 1e-150
    else:
        y = np.zeros(X.shape[0], dtype=int)
        y[[3, 17]] = 1
    for statistic in ("mean_diff", "welch_t"):
        params = dict(n_permutations=199, statistic=statistic, correction="maxT",
                      random_state=3)
        expected = PermutationTest(**params).fit(X, y)
        _assert_same_test(PermutationTest(**params).fit(da.from_array(X, chunks=(40, 7)), y),
                          expected)
