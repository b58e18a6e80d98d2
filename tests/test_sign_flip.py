"""PermutationTest's sign-flip designs (one sample, paired), as mne and scipy run them.

Gate 1 (code): every engine gives the reference loop's p-values exactly, on
friendly and hostile data, and exact mode equals a brute-force enumeration,
scipy's paired ``permutation_test`` and mne's ``permutation_t_test``.  Gate
2 (inference): null calibration, max-t family-wise error and power, each
within a stated binomial band.
"""

import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skfast.permutation import PermutationTest
from skfast.testing import assert_engines_agree, engine_params
from skfast.utils._hostile import SIGN_FLIP_KINDS, hostile_sign_flip

TABLE = PermutationTest._engine_table
INSTALLED = TABLE.available()
ALTERNATIVES = ("two-sided", "greater", "less")


@pytest.fixture(params=engine_params(TABLE))
def engine(request):
    return request.param


def _paired(n_pairs, n_features, shift=0.0, seed=0):
    """``(X, conditions, pairs)``: subjects with their own level, measured twice, rows shuffled."""
    rng = np.random.default_rng(seed)
    subject_level = rng.normal(size=(n_pairs, n_features)) * 3
    first = subject_level + rng.normal(size=(n_pairs, n_features))
    second = subject_level + rng.normal(size=(n_pairs, n_features)) + shift
    X = np.vstack([first, second])
    conditions = np.repeat(["before", "after"], n_pairs)  # "after" < "before": classes_[1] is before
    pairs = np.tile(np.arange(n_pairs) * 7 + 3, 2)  # any ids
    order = rng.permutation(2 * n_pairs)
    return X[order], conditions[order], pairs[order]


def _extremeness(value, alternative):
    return {"two-sided": np.abs(value), "greater": value, "less": -value}[alternative]


def _brute_force_pvalues(D, statistic, alternative):
    """Every one of the 2**n sign flips, counted by the documented tie rule.

    A flip counts when its extremeness reaches the observed one minus
    ``1e-9 * max(|observed|, s)``: for the mean, on the mean itself (``s``
    its null sd, ``sqrt(sum x**2) / n``); for t, on the mean of the column
    over its root mean square (``s = 1/sqrt(n)``), of which t is an
    increasing function.
    """
    n = D.shape[0]
    squares = (D**2).sum(axis=0)
    zero = squares == 0
    if statistic == "t":
        Z = D / np.where(zero, 1.0, np.sqrt(squares / n))
        scale = np.full(D.shape[1], 1 / np.sqrt(n))
    else:
        Z, scale = D, np.where(zero, 1.0, np.sqrt(squares) / n)
    observed = Z.mean(axis=0)
    threshold = _extremeness(observed, alternative) - 1e-9 * np.maximum(np.abs(observed), scale)
    count = np.zeros(D.shape[1])
    for signs in itertools.product([1.0, -1.0], repeat=n):
        count += _extremeness((np.asarray(signs)[:, None] * Z).mean(axis=0), alternative) >= threshold
    return count / 2**n


def _t_space_pvalues(D, alternative):
    """Every sign flip, scipy's one-sample t of each, ties within 1e-9 of |t|."""
    observed = _extremeness(stats.ttest_1samp(D, 0.0).statistic, alternative)
    count = np.zeros(D.shape[1])
    for signs in itertools.product([1.0, -1.0], repeat=D.shape[0]):
        t = stats.ttest_1samp(np.asarray(signs)[:, None] * D, 0.0).statistic
        count += _extremeness(t, alternative) >= observed - 1e-9 * np.abs(observed)
    return count / 2 ** D.shape[0]


# ---------------------------------------------------------------- gate 1: code
WORKLOADS = [
    (dict(n_samples=30, n_features=20), dict()),
    (dict(n_samples=30, n_features=20, shift=0.5), dict(statistic="t")),
    (dict(n_samples=30, n_features=20, shift=0.5), dict(statistic="t", correction="maxT")),
    (dict(n_samples=25, n_features=3, shift=-0.4), dict(alternative="less", correction="maxT")),
    (dict(n_samples=25, n_features=300, shift=0.3), dict(statistic="t", correction="fdr_bh")),
    (dict(n_samples=9, n_features=6, shift=0.8), dict(statistic="t", alternative="greater",
                                                      correction="maxT")),  # exact: 512 flips
    (dict(n_samples=9, n_features=6), dict()),
]


@pytest.mark.parametrize("data, options", WORKLOADS, ids=[f"w{k}" for k in range(len(WORKLOADS))])
def test_every_engine_matches_the_reference(data, options):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        X = rng.standard_t(5, size=(data["n_samples"], data["n_features"])) + data.get("shift", 0)
        test = PermutationTest(199, design="one_sample", random_state=seed, **options)
        fitted = assert_engines_agree(test, X, engines=INSTALLED)
        assert {f.engine_ for f in fitted.values()} == set(INSTALLED)


@pytest.mark.parametrize("kind", SIGN_FLIP_KINDS)
@pytest.mark.parametrize("statistic", ["mean_diff", "t"])
def test_every_engine_matches_the_reference_on_hostile_data(kind, statistic):
    X = hostile_sign_flip(kind, seed=1, n_samples=16)
    for alternative, correction in [("two-sided", "maxT"), ("greater", None), ("less", "maxT")]:
        test = PermutationTest(199, design="one_sample", statistic=statistic,
                               alternative=alternative, correction=correction, random_state=0)
        assert_engines_agree(test, X, engines=INSTALLED)


@pytest.mark.parametrize("kind", SIGN_FLIP_KINDS)
@pytest.mark.parametrize("statistic", ["mean_diff", "t"])
def test_exact_mode_equals_brute_force_enumeration(kind, statistic):
    """2**10 flips, each statistic from its definition (scipy's t), on hostile data too."""
    X = hostile_sign_flip(kind, seed=2, n_samples=10, n_features=4)
    for alternative in ALTERNATIVES:
        test = PermutationTest(2**10, design="one_sample", statistic=statistic,
                               alternative=alternative).fit(X)
        assert test.exact_ and test.n_permutations_ == 2 ** X.shape[0]
        np.testing.assert_array_equal(test.pvalues_,
                                      _brute_force_pvalues(X, statistic, alternative))


@pytest.mark.parametrize("kind", ["integer_ties", "zero_differences", "offset", "huge_scale",
                                  "two_pairs"])
def test_counting_on_the_normalised_mean_is_counting_on_t(kind):
    """The p-values of t are those of scipy's t of every flip, where no near-tie blurs them."""
    X = hostile_sign_flip(kind, seed=3, n_samples=9, n_features=4)
    X = X[:, ~np.all(X == 0, axis=0)]
    for alternative in ALTERNATIVES:
        test = PermutationTest(2**9, design="one_sample", statistic="t",
                               alternative=alternative).fit(X)
        np.testing.assert_array_equal(test.pvalues_, _t_space_pvalues(X, alternative))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_paired_exact_mode_equals_scipy(alternative, engine):
    X, conditions, pairs = _paired(11, 5, shift=[0.8, 0, 0, -0.5, 0], seed=1)
    test = PermutationTest(10_000, design="paired", alternative=alternative, engine=engine)
    test.fit(X, conditions, groups=pairs)
    assert test.exact_ and test.n_permutations_ == 2**11
    before, after = (X[conditions == c][np.argsort(pairs[conditions == c])]
                     for c in ("before", "after"))
    expected = stats.permutation_test(
        (before, after), lambda a, b, axis: np.mean(a - b, axis=axis),
        permutation_type="samples", n_resamples=np.inf, vectorized=True,
        alternative=alternative)
    np.testing.assert_array_equal(test.pvalues_, expected.pvalue)
    np.testing.assert_allclose(test.statistic_, (before - after).mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("n_samples", [6, 10, 12])
def test_exact_max_t_equals_mne(n_samples):
    mne = pytest.importorskip("mne")
    rng = np.random.default_rng(n_samples)
    X = rng.normal(size=(n_samples, 8)) + np.r_[1.0, 0.6, np.zeros(6)]
    # mne takes its exact branch when n_permutations exceeds 2**(n - 1) - 1;
    # n_permutations="all" (mne 1.13) draws all but one of them instead
    T, expected, _ = mne.stats.permutation_t_test(X, n_permutations=2**n_samples, verbose=False)
    test = PermutationTest(2**n_samples, design="one_sample", statistic="t",
                           correction="maxT").fit(X)
    np.testing.assert_array_equal(test.pvalues_corrected_, expected)
    np.testing.assert_allclose(test.statistic_, T, rtol=1e-12)


def test_one_sample_t_statistic_is_scipys():
    X = hostile_sign_flip("offset", seed=0, n_samples=40)
    test = PermutationTest(99, design="one_sample", statistic="t", random_state=0).fit(X)
    np.testing.assert_allclose(test.statistic_, stats.ttest_1samp(X, 0).statistic, rtol=1e-12)
    X = hostile_sign_flip("constant_columns", seed=0)  # columns 0, 2, 4 constant 2.5
    X[:, 0] = 0.0
    t = PermutationTest(99, design="one_sample", statistic="t", random_state=0).fit(X)
    assert t.statistic_[0] == 0 and np.isinf(t.statistic_[2]) and t.pvalues_[0] == 1


def test_pvalues_do_not_depend_on_engine_batches_or_jobs():
    X, conditions, pairs = _paired(40, 30, shift=0.3)
    base = PermutationTest(999, design="paired", statistic="t", correction="maxT",
                           random_state=3, engine="numpy").fit(X, conditions, groups=pairs)
    for options in (dict(engine="numba", batch_size=7), dict(engine="reference", batch_size=256),
                    dict(n_jobs=2, batch_size=100)):
        other = PermutationTest(999, design="paired", statistic="t", correction="maxT",
                                random_state=3, **options).fit(X, conditions, groups=pairs)
        np.testing.assert_array_equal(other.pvalues_, base.pvalues_)
        np.testing.assert_array_equal(other.pvalues_corrected_, base.pvalues_corrected_)


def test_paired_is_one_sample_of_the_differences():
    X, conditions, pairs = _paired(30, 10, shift=0.4, seed=5)
    paired = PermutationTest(499, design="paired", random_state=0).fit(X, conditions,
                                                                       groups=pairs)
    order = np.lexsort((conditions, pairs))  # each pair's "after", then "before"
    D = X[order][1::2] - X[order][0::2]  # classes_[1] ("before") minus classes_[0]
    one = PermutationTest(499, design="one_sample", random_state=0).fit(D)
    assert list(paired.classes_) == ["after", "before"]
    np.testing.assert_array_equal(paired.pvalues_, one.pvalues_)
    np.testing.assert_array_equal(paired.statistic_, one.statistic_)


def test_memmap_and_in_memory_agree_bitwise(tmp_path):
    X, conditions, pairs = _paired(20, 50, shift=0.3, seed=2)
    on_disk = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=X.shape)
    on_disk[:] = X
    for statistic in ("mean_diff", "t"):
        test = PermutationTest(299, design="paired", statistic=statistic, correction="maxT",
                               random_state=1)
        a = test.fit(X, conditions, groups=pairs)
        a = (a.pvalues_.copy(), a.pvalues_corrected_.copy(), a.statistic_.copy())
        b = test.fit(on_disk, conditions, groups=pairs)
        for left, right in zip(a, (b.pvalues_, b.pvalues_corrected_, b.statistic_)):
            np.testing.assert_array_equal(left, right)


# ------------------------------------------------------------ gate 2: inference
def _band(rate, n_trials, confidence=0.999):
    low, high = stats.binom.interval(confidence, n_trials, rate)
    return low / n_trials, high / n_trials


@pytest.mark.parametrize("statistic", ["mean_diff", "t"])
def test_null_calibration(statistic):
    """Null features (t3 noise, symmetric) rejected at 5% within the 99.9% binomial band."""
    X = np.random.default_rng(4).standard_t(3, size=(30, 2000))
    test = PermutationTest(999, design="one_sample", statistic=statistic, random_state=0).fit(X)
    low, high = _band(0.05, X.shape[1])
    assert low <= np.mean(test.pvalues_ <= 0.05) <= high


def test_max_t_controls_familywise_error():
    """100 null data sets of 20 features: any rejection after max-t within the band of 5%."""
    rng = np.random.default_rng(5)
    rejected = [PermutationTest(199, design="one_sample", statistic="t", correction="maxT",
                                random_state=k).fit(rng.normal(size=(20, 20))).get_support().any()
                for k in range(100)]
    low, high = _band(0.05, 100)
    assert low <= np.mean(rejected) <= high


def test_power_matches_the_one_sample_t_test():
    """Shift 0.5 sd, n = 30: rejections at 5% near the t-test's, within its binomial band."""
    X = np.random.default_rng(6).normal(size=(30, 1000)) + 0.5
    test = PermutationTest(999, design="one_sample", statistic="t", random_state=0).fit(X)
    t_power = np.mean(stats.ttest_1samp(X, 0).pvalue <= 0.05)
    low, high = _band(t_power, X.shape[1])
    assert low <= np.mean(test.pvalues_ <= 0.05) <= high


# ------------------------------------------------------------ scikit-learn
def test_paired_design_in_pipeline_and_cross_val_score():
    X, conditions, pairs = _paired(40, 20, shift=np.r_[np.full(3, 1.5), np.zeros(17)], seed=7)
    pipe = make_pipeline(PermutationTest(199, design="paired", random_state=0),
                         LogisticRegression())
    pipe.fit(X, conditions, permutationtest__groups=pairs)
    assert pipe[0].get_support()[:3].all()
    # GroupKFold keeps each pair in one fold; the pair ids go to the test's fit
    scores = cross_val_score(pipe, X, conditions, groups=pairs, cv=GroupKFold(4),
                             params={"permutationtest__groups": pairs})
    assert scores.shape == (4,) and np.all(np.isfinite(scores))


def test_one_sample_design_ignores_y_in_a_pipeline():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(40, 6)) + np.r_[2.0, np.zeros(5)]
    y = rng.integers(0, 2, 40)
    selector = PermutationTest(99, design="one_sample", random_state=0)
    np.testing.assert_array_equal(selector.fit(X, y).pvalues_, selector.fit(X).pvalues_)
    assert selector.classes_ is None
    assert make_pipeline(selector, LogisticRegression()).fit(X, y)[0].get_support()[0]


@pytest.mark.parametrize("design, statistic, fit_kwargs, match", [
    ("one_sample", "welch_t", {}, "not a statistic of design='one_sample'"),
    ("two_sample", "t", {}, "not a statistic of design='two_sample'"),
    ("paired", "t", {}, "design='paired' needs groups"),
    ("two_sample", "mean_diff", {"groups": np.arange(20) % 10}, "groups is used by"),
    ("paired", "t", {"groups": np.arange(20) % 9}, "one sample of each condition"),
    ("paired", "t", {"groups": np.arange(19)}, "groups has 19 entries"),
])
def test_bad_designs_are_clear_errors(design, statistic, fit_kwargs, match):
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) // 10
    with pytest.raises(ValueError, match=match):
        PermutationTest(9, design=design, statistic=statistic).fit(X, y, **fit_kwargs)


def test_paired_needs_two_conditions():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="exactly 2 classes, got 3"):
        PermutationTest(9, design="paired").fit(X, np.arange(20) % 3, groups=np.arange(20) // 2)


def test_inputs_are_never_modified(engine):
    X, conditions, pairs = _paired(15, 4, shift=0.5)
    X.flags.writeable = False
    before = X.copy()
    PermutationTest(99, design="paired", statistic="t", engine=engine,
                    random_state=0).fit(X, conditions, groups=pairs)
    PermutationTest(99, design="one_sample", statistic="t", engine=engine, random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)


def test_dask_array_gives_the_in_memory_answer():
    da = pytest.importorskip("dask.array")
    X, conditions, pairs = _paired(25, 40, shift=0.3, seed=9)
    test = PermutationTest(199, design="paired", statistic="t", correction="maxT", random_state=2)
    expected = test.fit(X, conditions, groups=pairs)
    expected = (expected.pvalues_.copy(), expected.pvalues_corrected_.copy(),
                expected.statistic_.copy())
    chunked = test.fit(da.from_array(X, chunks=(10, 7)), conditions, groups=pairs)
    for left, right in zip(expected, (chunked.pvalues_, chunked.pvalues_corrected_,
                                      chunked.statistic_)):
        np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize("design", ["one_sample", "two_sample"])
def test_single_precision_max_t_gives_the_double_precision_maxima(design):
    """Blocks above the numpy path's size: the compiled float32 kernel's maxima, re-checked."""
    rng = np.random.default_rng(11)
    X = rng.standard_t(4, size=(60, 3000)) + 0.1
    X[:, :50] = np.round(X[:, :50])  # near-ties among the candidates for a row's maximum
    y = np.arange(60) % 2
    statistic = "t" if design == "one_sample" else "mean_diff"
    test = PermutationTest(299, design=design, statistic=statistic, correction="maxT",
                           random_state=0)
    fitted = assert_engines_agree(test, X, None if design == "one_sample" else y,
                                  engines=["numpy", "numba"])
    assert fitted["numpy"].batch_size_ * 2048 > 2**16  # the compiled kernel ran
