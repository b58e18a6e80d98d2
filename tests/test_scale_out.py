"""Beyond one machine's memory: Dask arrays on a process cluster, memmaps in tiles.

The cluster is a real ``distributed.LocalCluster`` of two worker processes on
the loopback interface, started here, so every task and its inputs are
pickled and shipped to another process.
"""

import tracemalloc
import warnings

import numpy as np
import pytest

from sklearn.exceptions import ConvergenceWarning

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


def _traced_peak(fit):
    """``(fit(), peak bytes of this process's allocations while it ran)``."""
    tracemalloc.start()
    try:
        fitted = fit()
        return fitted, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_driver_never_holds_x(process_cluster):
    """X is drawn on the workers; the driver allocates a small part of its size."""
    n_samples, n_features = 60, 200_000
    X = da.random.RandomState(0).standard_normal((n_samples, n_features),
                                                 chunks=(n_samples, 25_000))
    y = np.arange(n_samples) % 2
    fitted, peak = _traced_peak(
        lambda: PermutationTest(99, correction="maxT", random_state=0).fit(X, y))
    assert fitted.pvalues_.shape == (n_features,)
    assert peak < X.nbytes / 4, (peak, X.nbytes)


def test_memmap_runs_in_tiles_with_the_in_memory_answer(tmp_path, monkeypatch):
    X, y = _data(n_features=50)
    path = tmp_path / "X.dat"
    on_disk = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    on_disk[:] = X
    on_disk.flush()
    fits = {}
    for statistic in ("mean_diff", "welch_t"):
        params = dict(n_permutations=199, statistic=statistic, correction="maxT",
                      random_state=1)
        fits[statistic] = (params, PermutationTest(**params).fit(X, y))  # not in tiles
    # tiles of 3 columns: many tiles, and a last one narrower than the others
    monkeypatch.setattr(_permutation_test, "TILE_BYTES", 3 * 8 * X.shape[0])
    for params, expected in fits.values():
        read_only = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
        _assert_same_test(PermutationTest(**params).fit(read_only, y), expected)
        # an in-memory X above the tile size takes the same tiles, also through joblib
        _assert_same_test(PermutationTest(**params).fit(X, y), expected)
        _assert_same_test(PermutationTest(**params, n_jobs=2).fit(X, y), expected)


@pytest.mark.parametrize("statistic", ["mean_diff", "welch_t"])
@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_in_memory_fit_makes_one_working_copy(engine, statistic):
    """Below the tile size: the centred float64 copy is the only array as large as X.

    (The reference engine, the readable oracle, copies each relabelling's
    groups as its formula reads.)
    Beyond it, a batch's relabellings and statistics and the engines'
    column tiles (``_counting.TILE_ELEMENTS``, 32 MiB) at most.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 20_000)).astype(np.float32)  # 24 MB, 48 MB in float64
    y = np.arange(300) % 2
    params = dict(n_permutations=19, statistic=statistic, correction="maxT", engine=engine,
                  random_state=0)
    PermutationTest(**params).fit(X[:, :50], y)  # compiled before the measure
    test, peak = _traced_peak(lambda: PermutationTest(**params).fit(X, y))
    working_copy = 8 * X.size
    batch = test.batch_size_ * (X.shape[0] + X.shape[1]) * 8 * 3
    assert peak < working_copy + batch + 40 * 2**20, (peak / working_copy, batch / 2**20)


def test_large_in_memory_x_holds_less_than_one_working_copy(monkeypatch):
    """X above the tile size (here 8 MiB, for 48 MB of X): tiles, allocations below X's size."""
    monkeypatch.setattr(_permutation_test, "TILE_BYTES", 8 * 2**20)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 12_000))
    y = np.arange(500) % 2
    test, peak = _traced_peak(
        lambda: PermutationTest(19, correction="maxT", random_state=0).fit(X, y))
    assert test.pvalues_.shape == (12_000,)
    assert peak < X.nbytes, (peak, X.nbytes)


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


# --- FastKMeans ----------------------------------------------------------------------

from skfast import FastKMeans  # noqa: E402
from skfast.utils._hostile import hostile_kmeans, kmeans_rounding_ties  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402


def _assert_same_kmeans(got, expected):
    np.testing.assert_array_equal(np.asarray(got.labels_.compute()), expected.labels_)
    assert got.n_iter_ == expected.n_iter_
    assert got.inertia_ == expected.inertia_
    np.testing.assert_array_equal(got.cluster_centers_, expected.cluster_centers_)
    assert got.engine_ == expected.engine_


@pytest.mark.parametrize("engine", ["numba", "hamerly"])
@pytest.mark.parametrize("kind", ["blobs", "integer_grid", "duplicates", "few_distinct",
                                  "constant_column", "two_weighted"])
def test_fast_kmeans_on_worker_processes_is_the_in_memory_fit(process_cluster, kind, engine):
    """Row chunks of 1,500 (and uneven ones) on two workers: the engine's in-memory fit bit for bit."""
    if kind == "blobs":
        rng = np.random.default_rng(0)
        X = rng.normal(size=(9000, 4)) + rng.integers(0, 5, size=(9000, 1)) * 3.0
        n_clusters, weight = 5, None
    else:
        X, n_clusters, weight = hostile_kmeans(kind, 1, n_samples=9000)
    init = X[np.random.default_rng(2).choice(X.shape[0], n_clusters, replace=False)]
    params = dict(n_clusters=n_clusters, init=init, n_init=1, engine=engine, max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # few distinct points
        expected = FastKMeans(**params).fit(X, sample_weight=weight)
        for chunks in (1500, (4000, 10, X.shape[0] - 4010)):
            got = FastKMeans(**params).fit(da.from_array(X, chunks=(chunks, -1)),
                                           sample_weight=weight)
            _assert_same_kmeans(got, expected)
    labels = got.predict(da.from_array(X, chunks=(2000, -1)))
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), expected.predict(X))
    distances = got.transform(da.from_array(X, chunks=(2000, -1)))
    np.testing.assert_allclose(distances.compute(), expected.transform(X), rtol=1e-12)


@pytest.mark.parametrize("engine", ["numba", "hamerly"])
def test_near_ties_in_a_chunk_are_settled_where_they_sit_in_x(process_cluster, engine):
    """Rows decided by the last bit, in chunks that cut scikit-learn's 256-row calls anywhere.

    Also the unpickled centres on a worker, whose unaligned buffer made
    numpy's ``@`` leave BLAS (``_ties.blas_ready``): 96 of 1,064 labels moved.
    """
    X, centers = kmeans_rounding_ties(256 * 4 + 40, np.float64)
    params = dict(n_clusters=10, init=centers, n_init=1, max_iter=1, engine=engine)
    expected = FastKMeans(**params).fit(X)
    sklearn = KMeans(10, init=centers, n_init=1, max_iter=1).fit(X)
    np.testing.assert_array_equal(expected.labels_, sklearn.labels_)
    for chunks in (300, (1000, 60, 4)):
        got = FastKMeans(**params).fit(da.from_array(X, chunks=(chunks, -1)))
        _assert_same_kmeans(got, expected)
        np.testing.assert_array_equal(
            got.predict(da.from_array(X, chunks=(chunks, -1))).compute(), expected.predict(X))


@pytest.mark.parametrize("engine", ["numba", "auto"])
@pytest.mark.parametrize("kind", ["blobs", "integer_grid", "two_weighted", "rounding_ties",
                                  "relocation"])
def test_float32_fit_on_worker_processes_is_the_in_memory_float32_fit(process_cluster, kind,
                                                                        engine):
    """Float32 stays float32: sums in scikit-learn's thread ranges, chained over the chunks.

    The numba engine (``auto`` runs it on float32 Dask input): hamerly's
    bounded step moved last-bit labels of ``rounding_ties`` at chunk cuts in
    float32, and is refused there.
    """
    weight = None
    if kind == "blobs":
        rng = np.random.default_rng(0)
        X = rng.normal(size=(4000, 4)) + rng.integers(0, 5, size=(4000, 1)) * 3.0
        n_clusters = 5
    elif kind == "rounding_ties":  # the last float32 bit decides, at every chunk cut
        X, init = kmeans_rounding_ties(256 * 4 + 40, np.float32)
        n_clusters = 10
    elif kind == "relocation":  # two centres on one point: a cluster empties
        X = np.repeat(np.random.default_rng(3).normal(size=(3, 2)), 3000, axis=0)
        n_clusters, init = 4, X[[0, 1, 3000, 6000]]
    else:
        X, n_clusters, weight = hostile_kmeans(kind, 1, n_samples=9000)
    X = X.astype(np.float32)
    if kind not in ("rounding_ties", "relocation"):
        init = X[np.random.default_rng(2).choice(X.shape[0], n_clusters, replace=False)]
    params = dict(n_clusters=n_clusters, init=init, n_init=1, engine=engine, max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = FastKMeans(**{**params, "engine": "numba"}).fit(X, sample_weight=weight)
        assert expected.cluster_centers_.dtype == np.float32
        # uneven chunks; the tie rows also in chunks that cut every 256-row call
        for chunks in ([(300, 700, X.shape[0] - 1000)]
                       + ([300] if kind == "rounding_ties" else [])):
            got = FastKMeans(**params).fit(da.from_array(X, chunks=(chunks, -1)),
                                           sample_weight=weight)
            _assert_same_kmeans(got, expected)
            assert got.cluster_centers_.dtype == np.float32
    labels = got.predict(da.from_array(X, chunks=(2000, -1)))
    np.testing.assert_array_equal(labels.compute(), expected.predict(X))


@pytest.mark.parametrize("engine", ["numba", "hamerly"])
def test_fast_kmeans_warns_and_relocates_as_in_memory(process_cluster, engine):
    X = np.repeat(np.random.default_rng(3).normal(size=(3, 2)), 3000, axis=0)
    init = X[[0, 1, 3000, 6000]]  # two centres on one point: one cluster empties
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        expected = FastKMeans(4, init=init, n_init=1, engine=engine).fit(X)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        got = FastKMeans(4, init=init, n_init=1, engine=engine).fit(
            da.from_array(X, chunks=(2500, 2)))
    _assert_same_kmeans(got, expected)


def test_fast_kmeans_auto_on_dask_runs_the_in_memory_rule_s_bounds_or_loops(process_cluster):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6000, 3)) + rng.integers(0, 4, size=(6000, 1)) * 4.0
    for k in (3, 12):  # the rule's numba, then hamerly
        init = X[:k]
        got = FastKMeans(k, init=init, n_init=1).fit(da.from_array(X, chunks=(2000, 3)))
        expected = FastKMeans(k, init=init, n_init=1, engine=got.engine_).fit(X)
        _assert_same_kmeans(got, expected)
        assert got.engine_ == ("numba" if k == 3 else "hamerly")


@pytest.mark.parametrize("params, X_kind, match", [
    (dict(engine="blas"), "float64", "runs engine='numba'"),
    (dict(engine="numba", algorithm="elkan"), "float64", "runs engine='numba'"),
    (dict(), "nan", "NaN"),
    (dict(engine="hamerly"), "float32", "float32 Dask array"),
])
def test_fast_kmeans_refuses_what_a_dask_fit_cannot_do_clearly(params, X_kind, match):
    X = np.random.default_rng(0).normal(size=(300, 3))
    if X_kind == "float32":
        X = X.astype(np.float32)
    elif X_kind == "nan":
        X[7, 1] = np.nan
    params = {"init": X[:3], "n_init": 1, **params}
    with pytest.raises(ValueError, match=match):
        FastKMeans(3, **params).fit(da.from_array(X, chunks=(100, 3)))


@pytest.mark.parametrize("init, n_init", [("k-means++", "auto"), ("random", 3)])
def test_fast_kmeans_init_on_dask_draws_on_a_subsample(process_cluster, monkeypatch, init,
                                                       n_init):
    """k-means++ / random on a seeded subsample: reproducible, scikit-learn's partition on blobs."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from skfast.cluster import _dask

    monkeypatch.setattr(_dask, "DASK_INIT_SIZE", 2_000)
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(4, 3)) * 10
    X = centres[rng.integers(0, 4, 12_000)] + rng.normal(size=(12_000, 3))
    chunked = da.from_array(X, chunks=(3_000, 3))
    fits = [FastKMeans(4, init=init, n_init=n_init, random_state=0).fit(chunked)
            for _ in range(2)]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    expected = KMeans(4, random_state=0).fit(X)
    assert adjusted_rand_score(expected.labels_, fits[0].labels_.compute()) == 1.0
    assert fits[0]._n_init == (1 if init == "k-means++" else 3)


def test_fast_kmeans_driver_never_holds_x(process_cluster):
    """X (96 MB) drawn on the workers: the driver holds the rows' norms, 8 bytes a sample."""
    n_samples, n_features = 400_000, 30
    X = da.random.RandomState(1).standard_normal((n_samples, n_features),
                                                 chunks=(50_000, n_features))
    init = np.random.default_rng(0).normal(size=(6, n_features))
    fitted, peak = _traced_peak(lambda: FastKMeans(6, init=init, n_init=1, max_iter=5).fit(X))
    assert isinstance(fitted.labels_, da.Array) and fitted.labels_.shape == (n_samples,)
    assert peak < X.nbytes / 8, (peak, X.nbytes)
