"""The hostile battery: every engine against the oracle on data drawn to break it.

Each case comes from ``skfast.utils._hostile`` (seeded), so a failure names
its kind and seed and reproduces exactly.
"""

import tracemalloc
import warnings
from fractions import Fraction
from itertools import combinations
from math import comb

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skfast import FastKMeans
from skfast._centring import centred_copy
from skfast.backtest import HMASweep
from skfast.backtest._exact import exact_direction, tie_bound
from skfast.backtest._grid import first_valid_bar, hma_windows, is_tiny
from skfast.backtest._hma import _normalised
from skfast.backtest._pandas import _ExactFeatures
from skfast.permutation import PermutationTest
from skfast.utils._hostile import (KMEANS_KINDS, kmeans_rounding_ties, PERMUTATION_KINDS, PRICE_KINDS,
                                   hostile_kmeans, hostile_permutation, hostile_prices)
from skfast.testing import assert_engines_agree

HMA_TABLE = HMASweep._engine_table
HMA_ENGINES = [e for e in HMA_TABLE.available() if e != "pandas"]
HOSTILE_LENGTHS = [1, 2, 3, 5, 8, 13, 21, 30]
needs_pandas = pytest.mark.skipif("pandas" not in HMA_TABLE.available(),
                                  reason="the HMA reference needs pandas")


# --- HMASweep: the tie rule -------------------------------------------------------


@needs_pandas
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", PRICE_KINDS)
def test_every_hma_engine_matches_the_oracle_on_hostile_prices(kind, seed):
    X = hostile_prices(kind, seed)
    fitted = assert_engines_agree(HMASweep(lengths=HOSTILE_LENGTHS), X, engines=HMA_ENGINES)
    positions = {name: est.predict(X) for name, est in fitted.items()}
    for name, pos in positions.items():
        np.testing.assert_array_equal(pos, positions["pandas"], err_msg=f"engine={name!r}")


@needs_pandas
@pytest.mark.parametrize("kind", ["tick_held", "integer"])
def test_parallel_kernels_settle_undecided_combos_on_the_spot(kind):
    """A sweep too large to be tiny: the parallel kernels settle inside their loop."""
    X = hostile_prices(kind, 0, n_bars=26_000)
    assert not is_tiny(X.shape[0], X.shape[1], len(HOSTILE_LENGTHS))
    assert_engines_agree(HMASweep(lengths=HOSTILE_LENGTHS), X, engines=HMA_ENGINES)


def test_a_late_tie_is_settled_from_its_block():
    """fast resumes an undecided combo at the block of its first tie, not at bar 0."""
    walk = 100.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0.0, 0.01, 7_000)))
    walk[5_000:5_300] = walk[5_000]  # the only exact ties, long after the first block
    X = walk[:, None]
    lengths = np.arange(6, 36)
    assert not is_tiny(X.shape[0], 1, lengths.size)
    assert_engines_agree(HMASweep(lengths=lengths), X,
                         engines=[e for e in HMA_ENGINES if e in ("numba", "fast", "numpy")])


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


# --- PermutationTest ---------------------------------------------------------------

PERM_TABLE = PermutationTest._engine_table
PERM_ENGINES = [e for e in PERM_TABLE.available() if e != "reference"]


def _mean_diff(a, b, axis):
    return a.mean(axis=axis) - b.mean(axis=axis)


def _welch_t(a, b, axis):
    return stats.ttest_ind(a, b, axis=axis, equal_var=False).statistic


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", PERMUTATION_KINDS)
def test_every_permutation_engine_matches_the_reference_on_hostile_data(kind, seed):
    X, y = hostile_permutation(kind, seed)
    for statistic in ("mean_diff", "welch_t"):
        for alternative, correction in (("two-sided", "maxT"), ("greater", None), ("less", None)):
            test = PermutationTest(199, statistic=statistic, alternative=alternative,
                                   correction=correction, random_state=seed)
            fitted = assert_engines_agree(test, X, y, engines=PERM_ENGINES)
            expected = fitted["reference"].statistic_
            assert np.all(np.isfinite(expected))
            # relative to the feature's scale: a statistic of exactly 0 in one
            # engine may be 1e-17 of the data's scale in another
            scale = np.abs(X).max(axis=0) if statistic == "mean_diff" else 1.0
            for name, est in fitted.items():
                assert np.all(np.abs(est.statistic_ - expected) <= 1e-10 * (np.abs(expected) + scale)), name


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's own moments on binary / 1e150 data
@pytest.mark.parametrize("kind", ["integer_ties", "binary", "tiny_group", "huge_scale"])
@pytest.mark.parametrize("statistic, function", [("mean_diff", _mean_diff), ("welch_t", _welch_t)])
def test_exact_mode_matches_scipy_on_hostile_data(kind, statistic, function):
    """n = 14: all 3,432 splits (91 for the tiny group), against scipy's exhaustive test."""
    X, y = hostile_permutation(kind, 4, n_samples=14, n_features=4)
    for alternative in ("greater", "less"):
        test = PermutationTest(5000, statistic=statistic, alternative=alternative).fit(X, y)
        expected = stats.permutation_test((X[y == 1], X[y == 0]), function, vectorized=True,
                                          axis=0, n_resamples=np.inf, alternative=alternative)
        assert test.exact_
        np.testing.assert_array_equal(test.pvalues_, expected.pvalue)


@pytest.mark.parametrize("n_small, n_large", [(2, 65), (3, 87)])
@pytest.mark.parametrize("small_first", [True, False])
def test_exact_mode_for_any_group_sizes(n_small, n_large, small_first):
    """Used to overflow int64 when class 1 was the large group."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(n_small), np.ones(n_large)] if small_first else np.r_[
        np.zeros(n_large), np.ones(n_small)]
    X = rng.normal(size=(y.size, 2))
    X[y == 1] += 0.5
    test = PermutationTest(200_000, alternative="greater").fit(X, y)
    assert test.exact_ and test.n_permutations_ == comb(y.size, n_small)
    # brute force: every subset of the class-1 size, the mean difference of each
    n1 = int(y.sum())
    observed = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
    if n1 == n_small:
        subsets = np.array(list(combinations(range(y.size), n1)))
        total = X.sum(axis=0)
        s1 = X[subsets].sum(axis=1)
    else:  # enumerate the complement, the small group
        subsets = np.array(list(combinations(range(y.size), n_small)))
        total = X.sum(axis=0)
        s1 = total - X[subsets].sum(axis=1)
    stats_all = s1 / n1 - (total - s1) / (y.size - n1)
    expected = (stats_all >= observed - 1e-9 * np.abs(observed)).mean(axis=0)
    np.testing.assert_allclose(test.pvalues_, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("engine", PERM_TABLE.available())
@pytest.mark.parametrize("statistic", ["mean_diff", "welch_t"])
def test_pvalues_do_not_depend_on_the_data_scale(engine, statistic):
    X, y = hostile_permutation("integer_ties", 2, n_samples=30)
    test = PermutationTest(199, statistic=statistic, correction="maxT", engine=engine,
                           random_state=0)
    reference = clone(test).fit(X, y)
    for factor in (1e-300, 1e-150, 1e150, 1e300):
        scaled = clone(test).fit(X * factor, y)
        np.testing.assert_array_equal(scaled.pvalues_, reference.pvalues_, err_msg=str(factor))
        np.testing.assert_array_equal(scaled.pvalues_corrected_, reference.pvalues_corrected_)
        expected = reference.statistic_ * (factor if statistic == "mean_diff" else 1.0)
        np.testing.assert_allclose(scaled.statistic_, expected, rtol=1e-12)


def test_tall_data_memory_is_bounded_by_the_batch():
    """n = 200,000: a batch holds a handful of relabellings, drawn without their block."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 2))
    y = np.arange(200_000) % 2
    fits = {}
    for batch_size in ("auto", 8):
        tracemalloc.start()
        fits[batch_size] = PermutationTest(99, engine="numpy", batch_size=batch_size,
                                           random_state=0).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # a batch: its rows of labels and uniforms, plus the working copy of X
        held = fits[batch_size].batch_size_ * 200_000 * 8 * 1.5 + X.nbytes
        assert peak <= 2 * held + 32 * 2**20, (batch_size, peak / 2**20)
    assert fits["auto"].batch_size_ <= 64 * 2**20 // (8 * 300_000)
    np.testing.assert_array_equal(fits["auto"].pvalues_, fits[8].pvalues_)


# --- FastKMeans ----------------------------------------------------------------------

KMEANS_ENGINES = FastKMeans._engine_table.available()
# Kinds whose answer scikit-learn decides without distance near-ties.
KMEANS_DEFINED = [k for k in KMEANS_KINDS if k not in ("integer_grid", "few_distinct")]
KMEANS_TIES = ["integer_grid", "few_distinct"]


def _kmeans_pair(kind, seed, init, engine):
    X, n_clusters, weight = hostile_kmeans(kind, seed)
    options = dict(n_clusters=n_clusters, init=init, n_init=1, random_state=seed)
    with warnings.catch_warnings(record=True) as expected_warnings:
        warnings.simplefilter("always")
        expected = KMeans(**options).fit(X, sample_weight=weight)
    with warnings.catch_warnings(record=True) as got_warnings:
        warnings.simplefilter("always")
        got = FastKMeans(**options, engine=engine).fit(X, sample_weight=weight)
    kinds = lambda caught: sorted({type(w.message).__name__ for w in caught})  # noqa: E731
    return X, expected, got, kinds(expected_warnings), kinds(got_warnings)


def _assert_same_as_sklearn(X, expected, got, expected_warnings, got_warnings):
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    assert got.n_iter_ == expected.n_iter_
    np.testing.assert_allclose(got.inertia_, expected.inertia_, rtol=1e-6)
    # float32 data: scikit-learn sums its centres in float32, skfast in float64
    atol = 1e-5 * np.abs(X).max() if X.dtype == np.float32 else 1e-12 * np.abs(X).max()
    np.testing.assert_allclose(got.cluster_centers_, expected.cluster_centers_, rtol=1e-6,
                               atol=atol)
    assert got_warnings == expected_warnings


@pytest.mark.parametrize("engine", KMEANS_ENGINES)
@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("kind", KMEANS_DEFINED)
def test_every_kmeans_engine_matches_sklearn_on_hostile_data(kind, init, engine):
    for seed in range(4):
        if kind == "two_weighted" and init == "random":
            continue  # scikit-learn cannot draw more random centres than weighted samples
        _assert_same_as_sklearn(*_kmeans_pair(kind, seed, init, engine))


@pytest.mark.parametrize("engine", KMEANS_ENGINES)
@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("kind", KMEANS_TIES)
def test_every_kmeans_engine_matches_sklearn_on_exact_distance_ties(kind, init, engine):
    """Integer grids and duplicated centres: ties that scikit-learn's GEMM expression decides."""
    for seed in range(6):
        _assert_same_as_sklearn(*_kmeans_pair(kind, seed, init, engine))


def test_more_clusters_than_distinct_points_stops_as_sklearn_does():
    """sklearn 1.9 leaves the extra clusters empty (on the heaviest centre) and stops."""
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], [5, 7], axis=0)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        expected = KMeans(4, n_init=1, random_state=0).fit(X)
    for engine in KMEANS_ENGINES:
        with pytest.warns(ConvergenceWarning, match="distinct clusters"):
            got = FastKMeans(4, n_init=1, random_state=0, engine=engine).fit(X)
        np.testing.assert_array_equal(got.labels_, expected.labels_)
        assert got.n_iter_ == expected.n_iter_
        np.testing.assert_array_equal(got.cluster_centers_, expected.cluster_centers_)


def test_float32_centring_is_sklearns():
    """k-means++ sees the same centred data as KMeans: numpy's float32 mean, subtracted in float32."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(600_000, 3)) * 50 + 1e4).astype(np.float32)
    centred, mean = centred_copy(X)[:2]
    np.testing.assert_array_equal(mean, X.mean(axis=0))
    np.testing.assert_array_equal(centred, X - X.mean(axis=0))


@pytest.mark.parametrize("engine", KMEANS_ENGINES)
@pytest.mark.parametrize("factor", [2.0**-700, 1e-160, 1e160, 2.0**700])
def test_kmeans_at_extreme_scales_solves_the_rescaled_problem(engine, factor):
    """sklearn overflows at 1e160 (one cluster, infinite inertia); skfast rescales by 2**k."""
    X, n_clusters, _ = hostile_kmeans("duplicates", 0)
    expected = KMeans(n_clusters, n_init=1, random_state=0).fit(X)
    got = FastKMeans(n_clusters, n_init=1, random_state=0, engine=engine).fit(X * factor)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    assert got.n_iter_ == expected.n_iter_
    np.testing.assert_allclose(got.cluster_centers_ / factor, expected.cluster_centers_,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got.predict(X * factor), expected.labels_)
    np.testing.assert_allclose(got.transform(X * factor) / factor, expected.transform(X),
                               rtol=1e-9, atol=1e-12)


# --- subnormal inputs (XLA flushes them to zero) --------------------------------------


@pytest.mark.parametrize("engine", PERM_TABLE.available())
def test_permutation_on_subnormal_data_gives_the_unscaled_pvalues(engine):
    X, y = hostile_permutation("integer_ties", 3, n_samples=30)
    test = PermutationTest(199, statistic="welch_t", engine=engine, random_state=0)
    expected = clone(test).fit(X, y).pvalues_
    np.testing.assert_array_equal(clone(test).fit(X * 2.0**-1060, y).pvalues_, expected)


@pytest.mark.parametrize("engine", KMEANS_ENGINES)
def test_kmeans_on_subnormal_data_gives_sklearns_labels(engine):
    X, n_clusters, _ = hostile_kmeans("integer_grid", 1)
    expected = KMeans(n_clusters, n_init=1, random_state=0).fit(X)
    got = FastKMeans(n_clusters, n_init=1, random_state=0, engine=engine).fit(X * 2.0**-1060)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    assert got.n_iter_ == expected.n_iter_


@pytest.mark.parametrize("engine", [e for e in KMEANS_ENGINES if e != "reference"])
def test_float32_at_large_n_gives_sklearns_labels_and_centres(engine):
    """300,000 float32 samples far from the origin: sums added in float32 as KMeans adds them."""
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(300_000, 3)) * 20 + rng.integers(0, 6, size=(300_000, 1)) * 50
         + 1e3).astype(np.float32)
    # two OpenMP threads: with more, KMeans adds its per-thread sums in
    # completion order and its own centres vary from run to run
    with threadpool_limits(2, user_api="openmp"):
        expected = KMeans(8, n_init=1, max_iter=20, random_state=0).fit(X)
        got = FastKMeans(8, n_init=1, max_iter=20, random_state=0, engine=engine).fit(X)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    assert got.n_iter_ == expected.n_iter_
    np.testing.assert_array_equal(got.cluster_centers_, expected.cluster_centers_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 2, 3, 17, 64])
def test_centring_mean_is_numpys_bit_for_bit(dtype, n_features):
    rng = np.random.default_rng(n_features)
    for n_samples in (1, 255, 4097, 100_000):
        X = (rng.normal(size=(n_samples, n_features)) * 50 + 1e4).astype(dtype)
        np.testing.assert_array_equal(centred_copy(X)[1], X.mean(axis=0))


@pytest.mark.parametrize("engine", ["numba", "blas", "hamerly", "auto"])
def test_float32_sums_keep_sklearn_s_thread_ranges_under_an_openmp_blas(engine, monkeypatch):
    """An OpenMP build of OpenBLAS in the process (faiss's wheel loads one): limiting BLAS
    threads then limits OpenMP's, which scikit-learn's thread count reads; the float32
    sums must keep the ranges KMeans used (read when the fit starts), or labels move."""
    from contextlib import ExitStack

    from sklearn.cluster import KMeans
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    from threadpoolctl import threadpool_limits

    from skfast import _engines

    if _openmp_effective_n_threads() < 2:
        pytest.skip("one OpenMP thread: every range is the same")
    original = _engines.blas_threads

    def blas_and_openmp_threads(n_threads):
        stack = ExitStack()
        stack.enter_context(original(n_threads))
        stack.enter_context(threadpool_limits(1, user_api="openmp"))
        return stack

    monkeypatch.setattr(_engines, "blas_threads", blas_and_openmp_threads)
    from sklearn.cluster import kmeans_plusplus

    X = np.random.default_rng(0).standard_normal((100_000, 10))
    init = kmeans_plusplus(X, 5, random_state=0)[0].astype(np.float32)
    X = X.astype(np.float32)  # where one range instead of two moved 26 labels
    params = dict(n_clusters=5, init=init, n_init=1, max_iter=10, tol=0.0)
    expected = KMeans(**params).fit(X)
    got = FastKMeans(engine=engine, **params).fit(X)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    assert got.n_iter_ == expected.n_iter_


@pytest.mark.parametrize("engine", KMEANS_ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_near_ties_in_sklearns_last_short_chunk_are_settled_by_a_call_of_its_size(engine,
                                                                                dtype):
    """OpenBLAS's small-matrix kernel rounds otherwise: 40 rows are settled by a 40-row call.

    1,064 rows: scikit-learn's last GEMM call has 40 rows; settled in a
    256-row call, 15 of its labels (float32) came out otherwise.
    """
    X, centers = kmeans_rounding_ties(256 * 4 + 40, dtype)
    expected = KMeans(10, init=centers, n_init=1, max_iter=1).fit(X)
    got = FastKMeans(10, init=centers, n_init=1, max_iter=1, engine=engine).fit(X)
    expected.cluster_centers_ = got.cluster_centers_ = centers
    np.testing.assert_array_equal(got.predict(X), expected.predict(X))



def test_unaligned_centres_are_settled_by_blas():
    """Centres in unaligned memory (unpickled on a Dask worker) settle as aligned ones.

    numpy's ``@`` leaves BLAS for its own loop on an unaligned operand: 99 of
    these 1,064 labels moved before ``_ties.blas_ready``.
    """
    from skfast.cluster._ties import settle

    X, centers = kmeans_rounding_ties(256 * 4 + 40, np.float64)
    buffer = np.empty(centers.nbytes + 8, dtype=np.uint8)[1:1 + centers.nbytes]
    unaligned = buffer.view(centers.dtype).reshape(centers.shape)
    unaligned[...] = centers
    assert not unaligned.flags.aligned
    rows = np.arange(X.shape[0])
    expected, got = np.zeros(rows.size, np.int32), np.zeros(rows.size, np.int32)
    settle(X, centers, rows, expected)
    settle(X, unaligned, rows, got)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [64, 256])
def test_near_ties_are_settled_at_their_slot_of_sklearns_call(dtype, n_features):
    """A row's values are scikit-learn's only at its own slot of a call of its size.

    OpenBLAS's Haswell sgemm rounds the rows of a call by their position
    (tiles of twelve, the first six otherwise than the last six): settled
    packed at the front of a call, one of 1,000,000 float32 blobs at
    (256 features, 50 clusters) took the other centre.  Every row is
    settled here, in random order (several per slot), in whole X and in
    chunks of a larger X, and by the numpy engine: each label is KMeans'.
    """
    from skfast.cluster import _numpy
    from skfast.cluster._ties import rows_of_larger_x, settle

    X, centers = kmeans_rounding_ties(256 * 4 + 40, dtype, n_features=n_features)
    expected = KMeans(10, init=centers, n_init=1, max_iter=1).fit(X)
    expected.cluster_centers_ = centers
    expected = expected.predict(X)
    rows = np.random.default_rng(0).permutation(X.shape[0])
    got = np.zeros(X.shape[0], np.int32)
    settle(X, centers, rows, got)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(_numpy.assign_labels(X, centers), expected)
    for first, last in ((0, 300), (300, 1000), (1000, 1064)):
        with rows_of_larger_x(first, X.shape[0]):
            got = np.zeros(last - first, np.int32)
            settle(X[first:last], centers, rows[rows < last - first], got)
            np.testing.assert_array_equal(got, expected[first:last])
            np.testing.assert_array_equal(_numpy.assign_labels(X[first:last], centers),
                                          expected[first:last])
