"""PermutationTest: the two correctness gates of the talk, then sklearn behaviour.

Gate 1 (code): every engine gives exactly the reference loop's p-values on
18 workloads x 5 seeds.  Gate 2 (inference): under the null the rejection
rate sits in its binomial band, maxT holds the family-wise rate, and power
rises with the effect.
"""

import pickle
import warnings

import numpy as np
import pytest
from joblib import parallel_config
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfast._engines import numba_threads
from skfast.datasets._permutation import make_two_group_data
from skfast.permutation import PermutationTest
from skfast.permutation import _numpy as numpy_kernels
from skfast.permutation import _reference as reference_kernels
from skfast.permutation._permutation_test import TIE_RTOL, _auto_rule
from skfast.permutation._stream import STREAM_BLOCK, PermutationStream
from skfast.testing import assert_engines_agree, assert_fitted_equal, engine_params

TABLE = PermutationTest._engine_table
INSTALLED = TABLE.available()
SEEDS = range(5)


@pytest.fixture(params=engine_params(TABLE))
def engine(request):
    return request.param


@pytest.fixture(params=engine_params(TABLE, include_auto=False))
def kernel_engine(request):
    return request.param


def _mean_diff(a, b, axis):
    return a.mean(axis=axis) - b.mean(axis=axis)


def _welch_t(a, b, axis):
    return stats.ttest_ind(a, b, axis=axis, equal_var=False).statistic


# ---------------------------------------------------------------- gate 1: code
# (data, test): n, p, class-1 share, effect in noise sds, noise, offset; the
# test's options.  Kept small because the reference loops one relabelling at
# a time; n=12 is exhaustive (924 splits), the others draw 199 relabellings.
WORKLOADS = [
    (dict(n_samples=40, n_features=30), dict()),
    (dict(n_samples=40, n_features=30, effect=1.0), dict()),
    (dict(n_samples=40, n_features=30, effect=3.0), dict(statistic="welch_t")),
    (dict(n_samples=41, n_features=1, effect=0.5), dict()),
    (dict(n_samples=41, n_features=3, effect=0.5), dict(statistic="welch_t")),
    (dict(n_samples=60, n_features=20, balance=0.1), dict()),
    (dict(n_samples=60, n_features=20, balance=0.2, effect=1.0), dict(statistic="welch_t")),
    (dict(n_samples=50, n_features=25, distribution="t3"), dict()),
    (dict(n_samples=50, n_features=25, distribution="t3", effect=1.0),
     dict(statistic="welch_t", correction="maxT")),
    (dict(n_samples=50, n_features=25, distribution="discrete"), dict()),
    (dict(n_samples=50, n_features=25, distribution="discrete", effect=1.0),
     dict(statistic="welch_t")),
    (dict(n_samples=30, n_features=10, distribution="discrete", balance=0.5),
     dict(alternative="greater")),
    (dict(n_samples=30, n_features=10, effect=0.7), dict(alternative="less")),
    (dict(n_samples=30, n_features=10, effect=-0.7),
     dict(statistic="welch_t", alternative="less", correction="maxT")),
    (dict(n_samples=40, n_features=15, offset=1e6, effect=0.5), dict()),
    (dict(n_samples=40, n_features=15, offset=1e6), dict(statistic="welch_t")),
    (dict(n_samples=12, n_features=8, effect=1.0), dict(correction="maxT")),
    (dict(n_samples=12, n_features=8, distribution="discrete"),
     dict(statistic="welch_t", correction="fdr_bh")),
    (dict(n_samples=80, n_features=300, effect=0.3), dict(correction="maxT")),
]


@pytest.mark.parametrize("data, options", WORKLOADS, ids=[f"w{k:02d}" for k in range(len(WORKLOADS))])
def test_equivalence_gate(data, options):
    """Every installed engine reproduces the reference loop: p exactly, statistic to 1e-9."""
    assert len(WORKLOADS) >= 18
    for seed in SEEDS:
        X, y = make_two_group_data(**data, random_state=seed)
        test = PermutationTest(199, random_state=seed, **options)
        fitted = assert_engines_agree(test, X, y, engines=INSTALLED)
        assert {est.engine_ for est in fitted.values()} == set(INSTALLED)


@pytest.mark.parametrize("statistic", ["mean_diff", "welch_t"])
def test_batch_statistics_match_reference(kernel_engine, statistic):
    """The kernels' whole (batch, features) block agrees, not only the counts."""
    kernels = TABLE[kernel_engine].load()
    X, y = make_two_group_data(33, 17, effect=0.5, distribution="t3", random_state=3)
    Xc = X - X.mean(axis=0)
    squares = statistic == "welch_t"
    group1 = PermutationStream(y.astype(float), 50, exact=False, entropy=1).rows(0, 50)
    var_floor = np.full(X.shape[1], 1e-12)
    expected = reference_kernels.batch_statistic(reference_kernels.prepare(Xc, squares), group1,
                                                 int(y.sum()), var_floor, statistic)
    got = kernels.batch_statistic(kernels.prepare(Xc, squares), group1, int(y.sum()), var_floor,
                                  statistic)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_exact_mode_matches_scipy():
    """6 vs 6: all 924 splits enumerated, p-values equal scipy's exhaustive test."""
    for distribution in ("normal", "discrete"):
        X, y = make_two_group_data(12, 5, effect=[0, 0.5, 1, 2, -3], distribution=distribution,
                                   random_state=1)
        for statistic, function in (("mean_diff", _mean_diff), ("welch_t", _welch_t)):
            for alternative in ("two-sided", "greater", "less"):
                test = PermutationTest(statistic=statistic, alternative=alternative).fit(X, y)
                expected = stats.permutation_test(
                    (X[y == 1], X[y == 0]), function, vectorized=True, axis=0,
                    n_resamples=np.inf, alternative=alternative)
                assert test.exact_ and test.n_permutations_ == 924
                np.testing.assert_array_equal(test.pvalues_, expected.pvalue)
                np.testing.assert_allclose(test.statistic_, expected.statistic, rtol=1e-12)


def test_exact_only_when_every_split_fits():
    X, y = make_two_group_data(12, 2, random_state=0)
    assert PermutationTest(924).fit(X, y).exact_
    test = PermutationTest(923, random_state=0).fit(X, y)
    assert not test.exact_ and test.n_permutations_ == 923
    assert np.all(test.pvalues_ >= 1 / 924)


# ----------------------------------------------------- gate 2: inference
def _band(rate, n_trials, z=3.29):
    """Two-sided 99.9% normal-approximation binomial band around ``rate``."""
    half = z * np.sqrt(rate * (1 - rate) / n_trials)
    return rate - half, rate + half


@pytest.mark.parametrize("statistic, balance", [("mean_diff", 0.5), ("welch_t", 0.3)])
def test_null_calibration(statistic, balance):
    """Type-I error at alpha=0.05 over 2000 null features: within [0.034, 0.066].

    With 999 relabellings ``p <= 0.05`` has level exactly 0.05; independent
    null features make the rejection count binomial(2000, 0.05), whose 99.9%
    band is 0.05 +/- 3.29 * sqrt(0.05 * 0.95 / 2000).
    """
    n_features = 2000
    X, y = make_two_group_data(40, n_features, balance=balance, distribution="t3",
                               random_state=7)
    test = PermutationTest(999, statistic=statistic, random_state=7).fit(X, y)
    low, high = _band(0.05, n_features)
    assert low <= test.get_support().mean() <= high
    # the p-values are uniform on their grid, not only at 0.05
    assert stats.kstest(test.pvalues_, "uniform").pvalue > 0.001


def test_maxT_controls_familywise_error():
    """maxT family-wise error over 300 null data sets of 40 features: at most 0.05 + band.

    Each data set rejects anything with probability at most 0.05 under the
    complete null, so the count over 300 data sets is at most binomial(300,
    0.05); its 99.9% one-sided upper limit is 0.05 + 3.09 * sqrt(0.05 * 0.95 / 300)
    = 0.089.  Without correction the family-wise rate is about 1 - 0.95**40 = 0.87.
    """
    n_sets = 300
    any_rejected, any_rejected_raw = 0, 0
    for seed in range(n_sets):
        X, y = make_two_group_data(20, 40, distribution="t3", random_state=seed)
        test = PermutationTest(199, statistic="welch_t", correction="maxT",
                               random_state=seed, engine="numpy").fit(X, y)
        any_rejected += test.get_support().any()
        any_rejected_raw += (test.pvalues_ <= 0.05).any()
        assert np.all(test.pvalues_corrected_ >= test.pvalues_)
    assert any_rejected / n_sets <= 0.05 + 3.09 * np.sqrt(0.05 * 0.95 / n_sets)
    assert any_rejected_raw / n_sets > 0.6


def test_power_rises_with_effect():
    """Share of 300 shifted features detected: strictly rising with the shift, > 0.8 at 1 sd."""
    power = []
    for effect in (0.0, 0.3, 0.6, 1.0):
        X, y = make_two_group_data(40, 300, effect=effect, random_state=11)
        power.append(PermutationTest(199, random_state=11).fit(X, y).get_support().mean())
    assert np.all(np.diff(power) > 0), power
    assert power[0] < 0.1 and power[-1] > 0.8, power


# ----------------------------------------------------------- determinism
def test_same_pvalues_across_jobs_batches_engines():
    X, y = make_two_group_data(50, 12, effect=0.4, random_state=0)
    base = PermutationTest(1000, correction="maxT", random_state=42, engine="numpy",
                           batch_size=1000).fit(X, y)
    variants = [dict(batch_size=7), dict(batch_size=STREAM_BLOCK), dict(batch_size=300, n_jobs=2),
                dict(n_jobs=3, batch_size=64)]
    variants += [dict(engine=name, n_jobs=2, batch_size=100) for name in INSTALLED]
    for variant in variants:
        other = clone(base).set_params(**variant).fit(X, y)
        assert_fitted_equal(base, other, exact=["pvalues_", "pvalues_corrected_"],
                            context=f"{variant}: ")
    again = clone(base).fit(X, y)
    assert_fitted_equal(base, again, exact=["pvalues_", "statistic_", "pvalues_corrected_"])
    assert not np.array_equal(clone(base).set_params(random_state=43).fit(X, y).pvalues_,
                              base.pvalues_)


def test_dask_cluster_gives_identical_pvalues():
    distributed = pytest.importorskip("distributed")
    X, y = make_two_group_data(40, 10, effect=0.5, random_state=0)
    local = PermutationTest(600, batch_size=128, random_state=0, engine="numpy").fit(X, y)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), parallel_config(backend="dask"):
        remote = clone(local).set_params(n_jobs=2).fit(X, y)
        ran_on_cluster = any("_run_batches" in prefix for prefix in cluster.scheduler.task_prefixes)
    assert ran_on_cluster
    np.testing.assert_array_equal(remote.pvalues_, local.pvalues_)


def test_stream_is_independent_of_slicing():
    group1 = np.r_[np.ones(7), np.zeros(13)]
    stream = PermutationStream(group1, 1000, exact=False, entropy=[1, 2])
    whole = stream.rows(0, 1000)
    pieces = np.concatenate([stream.rows(a, b) for a, b in [(0, 5), (5, 300), (300, 1000)]])
    np.testing.assert_array_equal(whole, pieces)
    assert np.all(whole.sum(axis=1) == 7)
    # 1000 draws among C(20, 7) = 77520 splits repeat about 6 times (99th percentile 13);
    # a stream that reused blocks would repeat hundreds of times.
    assert len({row.tobytes() for row in whole}) > 975


@pytest.fixture(params=["numpy", "compiled"])
def small_block_path(request, monkeypatch):
    """Blocks of statistics and relabellings counted and drawn in numpy, or compiled."""
    from skfast.permutation import _counting, _stream

    limit = 2**62 if request.param == "numpy" else 0
    monkeypatch.setattr(_counting, "NUMPY_MAX_ENTRIES", limit)
    monkeypatch.setattr(_stream, "NUMPY_MAX_ENTRIES", limit)
    return request.param


def test_small_batches_drawn_in_numpy_are_the_compiled_rows():
    """The numpy draw (small batches: nothing to compile) gives the kernel's rows bit for bit."""
    from skfast.permutation._stream import _draw_groups, _draw_groups_numpy

    rng = np.random.default_rng(3)
    for n_samples, n_drawn, n_rows in [(40, 20, 256), (7, 1, 50), (501, 250, 30), (2, 1, 9)]:
        uniforms = rng.random((n_rows, n_drawn))
        uniforms[0] = np.nextafter(1.0, 0.0)  # u * (n - i) rounds up to n - i
        for drawn_label in (0.0, 1.0):
            compiled, numpy = np.empty((2, n_rows, n_samples))
            _draw_groups(n_samples, drawn_label, uniforms, compiled)
            _draw_groups_numpy(n_samples, drawn_label, uniforms, numpy)
            assert np.array_equal(compiled, numpy)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_counting_matches_the_numpy_formula(alternative, small_block_path):
    from skfast.permutation._counting import count_extreme

    rng = np.random.default_rng(0)
    T = rng.standard_normal((300, 41))
    threshold = rng.uniform(0.0, 1.5, 41)
    extremeness = {"two-sided": np.abs(T), "greater": T, "less": -T}[alternative]
    for n_threads in (1, 2):
        with numba_threads(n_threads):
            counts, maxima = count_extreme(T, threshold, alternative, need_max=True)
        assert np.array_equal(counts, (extremeness >= threshold).sum(axis=0))
        assert np.array_equal(maxima, extremeness.max(axis=1))


@pytest.mark.parametrize("scale", [1e-36, 1.0, 1e20])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_single_precision_products_give_the_double_precision_counts(scale, alternative,
                                                                    small_block_path):
    """The float32 product's error bound holds, and the checked counts are float64's.

    Thresholds are put right at the statistics' values (plus the tie
    tolerance), so that many entries fall inside the margin and are
    recomputed in float64.
    """
    rng = np.random.default_rng(1)
    n_samples, n_features, n_group1 = 61, 37, 23
    X = rng.standard_t(2, (n_samples, n_features)) * scale
    X -= X.mean(axis=0)
    group1 = PermutationStream(np.r_[np.ones(n_group1), np.zeros(n_samples - n_group1)], 400,
                               exact=False, entropy=7).rows(0, 400)
    operands = numpy_kernels.prepare(X, False)
    abs_sums = operands[-1].get()
    assert abs_sums is not None
    X32 = X.astype(np.float32)
    n_group0 = n_samples - n_group1
    contrast = group1 * (1.0 / n_group1 + 1.0 / n_group0) - 1.0 / n_group0
    exact = contrast @ X
    rough = (contrast.astype(np.float32) @ X32).astype(np.float64)
    k = n_samples + 4
    bound = ((k * 2.0**-24 / (1 - k * 2.0**-24)) * max(1 / n_group1, 1 / n_group0) * abs_sums
             + 4 * k * 2.0**-149)
    assert np.all(np.abs(rough - exact) <= bound)
    extremeness = {"two-sided": np.abs(exact), "greater": exact, "less": -exact}[alternative]
    threshold = extremeness[rng.integers(0, 400, n_features), np.arange(n_features)]
    threshold -= TIE_RTOL * np.abs(threshold)
    counts, _ = numpy_kernels.batch_counts(operands, group1, n_group1, threshold, None,
                                           "mean_diff", alternative, need_max=False)
    assert np.array_equal(counts, (extremeness >= threshold).sum(axis=0))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_numpy_recheck_sums_in_the_compiled_order(alternative):
    """Small blocks re-check in numpy with the kernel's bits: thresholds sit on the sums."""
    from skfast.permutation import _counting

    rng = np.random.default_rng(1)
    n_samples, n_features, n_group1 = 61, 37, 23
    X = rng.standard_t(2, (n_samples, n_features))
    X -= X.mean(axis=0)
    group1 = PermutationStream(np.r_[np.ones(n_group1), np.zeros(n_samples - n_group1)], 400,
                               exact=False, entropy=7).rows(0, 400)
    weight1, weight0 = 1 / n_group1 + 1 / (n_samples - n_group1), 1 / (n_samples - n_group1)
    XT = np.ascontiguousarray(X.T)
    in_order = np.cumsum((group1[:, None, :] * weight1 - weight0) * XT, axis=2)[..., -1]
    sign = _counting.ALTERNATIVE_SIGN[alternative]
    extremeness = np.abs(in_order) if sign == 0.0 else sign * in_order
    threshold = extremeness[rng.integers(0, 400, n_features), np.arange(n_features)]
    T32 = (group1 * weight1 - weight0).astype(np.float32) @ X.astype(np.float32)
    low, high = threshold - 10.0, threshold + 10.0  # every entry is re-checked
    margin = np.full(n_features, 10.0)  # every entry a candidate for its row's maximum
    # X read a column at a time: as X itself, and as a transposed copy viewed back
    columns = XT.T
    numpy, numpy_maxima = _counting._count_checked_numpy(T32, group1, weight1, weight0, X, 0,
                                                         low, high, threshold, sign, margin, True)
    compiled, compiled_maxima = _counting._count_checked(T32, group1, weight1, weight0, columns, 0,
                                                         low, high, threshold, sign, margin,
                                                         True, 7)
    assert np.array_equal(numpy, compiled.sum(axis=0))
    assert np.array_equal(numpy, (extremeness >= threshold).sum(axis=0))
    assert np.array_equal(numpy_maxima, compiled_maxima)
    assert np.array_equal(numpy_maxima, extremeness.max(axis=1))


def test_exact_stream_enumerates_every_split_once():
    group1 = np.r_[np.ones(4), np.zeros(5)]
    stream = PermutationStream(group1, 126, exact=True)
    rows = np.concatenate([stream.rows(a, min(a + 10, 126)) for a in range(0, 126, 10)])
    assert len({row.tobytes() for row in rows}) == 126 and np.all(rows.sum(axis=1) == 4)
    assert np.array_equal(rows[0], np.r_[np.ones(4), np.zeros(5)])  # lexicographic


# ------------------------------------------------------------- statistics
def test_welch_zero_variance_is_finite_and_quiet():
    X, y = make_two_group_data(30, 3, random_state=0)
    X[:, 0] = 5.0  # constant feature
    X[:, 1] = y  # constant within each group, different between groups
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test = PermutationTest(199, statistic="welch_t", random_state=0).fit(X, y)
    assert np.all(np.isfinite(test.statistic_))
    assert test.statistic_[0] == 0 and test.pvalues_[0] == 1
    assert test.statistic_[1] > 1e6 and test.pvalues_[1] == 1 / 200


def test_fdr_bh_uses_scipy():
    X, y = make_two_group_data(30, 20, effect=np.linspace(0, 2, 20), random_state=0)
    test = PermutationTest(199, correction="fdr_bh", random_state=0).fit(X, y)
    np.testing.assert_array_equal(test.pvalues_corrected_,
                                  stats.false_discovery_control(test.pvalues_, method="bh"))
    np.testing.assert_array_equal(test.get_support(), test.pvalues_corrected_ <= 0.05)
    assert not hasattr(PermutationTest(9).fit(X, y), "pvalues_corrected_")


def test_classes_and_direction():
    X, y = make_two_group_data(40, 2, effect=[3.0, 0.0], random_state=0)
    labels = np.where(y == 1, "treated", "control")
    test = PermutationTest(99, alternative="greater", random_state=0).fit(X, labels)
    assert test.classes_.tolist() == ["control", "treated"]
    assert test.statistic_[0] > 2 and test.pvalues_[0] == 0.01


def test_auto_rule():
    engines = ("reference", "numpy", "numba")
    assert _auto_rule(engines, n_samples=500, n_features=4, n_permutations=9999) == "numba"
    assert _auto_rule(engines, n_samples=500, n_features=2000, n_permutations=9999) == "numpy"
    assert _auto_rule(("reference", "numpy"), n_samples=500, n_features=4,
                      n_permutations=99) == "numpy"
    X, y = make_two_group_data(20, 3, random_state=0)
    assert PermutationTest(9).fit(X, y).engine_ == _auto_rule(INSTALLED, n_samples=20,
                                                              n_features=3, n_permutations=9)


def test_auto_batch_size_respects_memory_cap():
    X, y = make_two_group_data(20, 5000, random_state=0)
    test = PermutationTest(5000, engine="numpy", random_state=0).fit(X, y)
    held = min(5000, numpy_kernels.FEATURE_TILE)
    assert STREAM_BLOCK <= test.batch_size_ and test.batch_size_ * 8 * (20 + 3 * held) <= 64 * 2**20


def test_verbose_reports_progress(capsys):
    X, y = make_two_group_data(20, 3, random_state=0)
    PermutationTest(1000, batch_size=100, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "batch 10/10" in out and "1000 of 1000" in out


def test_jax_leaves_global_precision_alone():
    if "jax" not in INSTALLED:
        pytest.skip("jax not installed")
    import jax

    before = jax.config.jax_enable_x64
    X, y = make_two_group_data(20, 3, random_state=0)
    PermutationTest(99, engine="jax", random_state=0).fit(X, y)
    assert jax.config.jax_enable_x64 == before


# ------------------------------------------------------------ scikit-learn
@parametrize_with_checks([PermutationTest(99, engine=name, random_state=0) for name in INSTALLED]
                         + [PermutationTest(99, design="one_sample", statistic="t", engine=name,
                                            random_state=0) for name in INSTALLED])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_pipeline_and_grid_search_over_engine():
    effect = np.r_[np.full(3, 1.5), np.zeros(27)]
    X, y = make_two_group_data(80, 30, effect=effect, random_state=0)
    pipe = make_pipeline(PermutationTest(199, random_state=0), LogisticRegression())
    assert pipe.fit(X, y).score(X, y) > 0.8
    assert pipe[0].get_support()[:3].all()
    search = GridSearchCV(pipe, {"permutationtest__engine": list(INSTALLED)}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    np.testing.assert_array_equal(scores, scores[0])  # same selection whatever the engine


def test_clone_and_pickle(engine):
    X, y = make_two_group_data(30, 6, effect=[2, 0, 0, 0, 0, 0], random_state=0)
    test = PermutationTest(99, engine=engine, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(test))
    assert_fitted_equal(test, restored, exact=["pvalues_", "statistic_", "classes_", "engine_"])
    np.testing.assert_array_equal(restored.transform(X), test.transform(X))
    assert clone(test).get_params() == test.get_params() and not hasattr(clone(test), "pvalues_")


BAD_INPUTS = [
    ("one class", lambda X, y: (X, np.zeros_like(y)), ValueError, "exactly 2 classes, got 1"),
    ("three classes", lambda X, y: (X, np.arange(len(y)) % 3), ValueError, "got 3 classes"),
    ("continuous y", lambda X, y: (X, np.linspace(0, 1, len(y))), ValueError, "Unknown label"),
    ("NaN", lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y),
     ValueError, "NaN"),
    ("inf", lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), y),
     ValueError, "infinity"),
    ("no feature", lambda X, y: (X[:, :0], y), ValueError, "0 feature"),
    ("one sample in a class", lambda X, y: (X, np.r_[1, np.zeros(len(y) - 1, int)]), ValueError,
     "at least 2 samples"),
    ("1-D X", lambda X, y: (X[:, 0], y), ValueError, "2D array"),
    ("sparse X", lambda X, y: (__import__("scipy.sparse").sparse.csr_matrix(X), y), TypeError,
     "(?i)sparse"),
]


@pytest.mark.parametrize("make_bad, error, match", [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(engine, make_bad, error, match):
    X, y = make_two_group_data(20, 4, random_state=0)
    X_bad, y_bad = make_bad(X, y)
    with pytest.raises(error, match=match):
        PermutationTest(9, engine=engine).fit(X_bad, y_bad)


@pytest.mark.parametrize("params, match", [
    (dict(n_permutations=0), "n_permutations"),
    (dict(n_permutations=2.5), "n_permutations"),
    (dict(statistic="median"), "statistic"),
    (dict(alternative="two_sided"), "alternative"),
    (dict(correction="bonferroni"), "correction"),
    (dict(engine="cuda"), "engine"),
    (dict(batch_size=0), "batch_size"),
    (dict(n_threads=0), "n_threads"),
])
def test_bad_parameters_are_clear_errors(params, match):
    X, y = make_two_group_data(20, 4, random_state=0)
    with pytest.raises(ValueError, match=match):
        PermutationTest(**{"n_permutations": 9, **params}).fit(X, y)


def test_inputs_are_never_modified(engine):
    X, y = make_two_group_data(30, 5, effect=1.0, random_state=0)
    for X_in in (X.copy(), np.asfortranarray(X), X.astype(np.float32)):
        y_in = y.copy()
        X_in.flags.writeable = False  # a write would raise
        X_before = X_in.copy()
        PermutationTest(99, statistic="welch_t", engine=engine, random_state=0).fit(X_in, y_in)
        np.testing.assert_array_equal(X_in, X_before)
        np.testing.assert_array_equal(y_in, y)


def test_float32_input_gives_the_float64_answer():
    X, y = make_two_group_data(30, 5, effect=1.0, random_state=0)
    X32 = X.astype(np.float32)
    a = PermutationTest(199, random_state=0).fit(X32, y)
    b = PermutationTest(199, random_state=0).fit(X32.astype(np.float64), y)
    assert_fitted_equal(a, b, exact=["pvalues_", "statistic_"])
    assert a.transform(X32).dtype == np.float32


@pytest.mark.parametrize("shape", [(40, 50), (500, 3), (500, 4), (40, 1), (4096, 7), (3, 2),
                                   (200, 9000)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_data_centring_in_numpy_is_bitwise_the_compiled_one(shape, dtype, monkeypatch):
    """Data of one row block is centred in numpy (nothing to compile): the same bits."""
    from skfast import _centring

    rng = np.random.default_rng(sum(shape))
    X = (rng.standard_t(3, size=shape) * 1e3 + 7.0).astype(dtype)
    X[:, 0] = X[0, 0]  # a constant column
    monkeypatch.setattr(_centring, "_TILE_ELEMENTS", 3 * shape[0])  # several column tiles
    for a, b in zip(_centring._centre_columns_in_numpy(X), _centring._centre_columns_compiled(X)):
        assert np.array_equal(a, b)
