"""FastKMeans: equivalence gate, drop-in parity with scikit-learn, recovery, API."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfast import FastKMeans
from skfast._engines import Engine, EngineTable
from skfast.cluster._kmeans import AUTO_DENSE_MAX_CLUSTERS, _ENGINES
from skfast.datasets import KMEANS_SCENARIOS, make_kmeans_scenario
from skfast.testing import assert_engines_agree, assert_fitted_equal, assert_same_answer, engine_params

INSTALLED = _ENGINES.available()
FAST_ENGINES = [e for e in INSTALLED if e != "reference"]
SEEDS = (0, 1, 2)


@pytest.fixture(params=engine_params(_ENGINES, include_auto=False))
def engine(request):
    return request.param


# --- the equivalence gate ----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", KMEANS_SCENARIOS)
def test_equivalence_gate(scenario, seed):
    """Every engine and algorithm reproduces the reference oracle exactly."""
    X, _ = make_kmeans_scenario(scenario, random_state=seed)
    base = FastKMeans(n_clusters=4, random_state=seed)
    fitted = assert_engines_agree(base, X, engines=FAST_ENGINES)
    assert {est.cluster_centers_.dtype for est in fitted.values()} == {X.dtype}


def test_equivalence_with_sample_weight_and_empty_cluster_relocation(engine):
    """Weighted data and a forced empty cluster follow the reference too."""
    X, _ = make_kmeans_scenario("separated", random_state=3)
    weights = np.random.default_rng(3).uniform(0.1, 3.0, X.shape[0])
    # A centre far from every point empties at the first step and is relocated.
    init = np.vstack([X[:3], np.full(X.shape[1], 1e3)])
    ref = FastKMeans(4, init=init, engine="reference").fit(X, sample_weight=weights)
    est = FastKMeans(4, init=init, engine=engine).fit(X, sample_weight=weights)
    assert_same_answer(ref, est, X)
    assert np.unique(est.labels_).size == 4


# --- drop-in parity with scikit-learn ----------------------------------------------


@pytest.mark.parametrize("init_kind", ["k-means++", "random", "array"])
@pytest.mark.parametrize("weighted", [False, True])
def test_drop_in_for_sklearn_kmeans(engine, init_kind, weighted):
    X, _ = make_kmeans_scenario("overlapping", n_samples=500, random_state=7)
    weights = np.random.default_rng(7).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    init = X[[3, 50, 100, 200]].copy() if init_kind == "array" else init_kind
    params = dict(n_clusters=4, init=init, n_init="auto" if init_kind != "random" else 3,
                  max_iter=100, tol=1e-4, random_state=11)
    ours = FastKMeans(engine=engine, **params).fit(X, sample_weight=weights)
    theirs = KMeans(algorithm="lloyd", **params).fit(X, sample_weight=weights)
    assert_same_answer(theirs, ours, X)
    assert np.array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(ours.score(X), theirs.score(X), rtol=1e-8)


def test_drop_in_float32_keeps_dtype(engine):
    X, _ = make_kmeans_scenario("float32", random_state=5)
    ours = FastKMeans(4, random_state=5, engine=engine).fit(X)
    theirs = KMeans(4, random_state=5).fit(X)
    assert ours.cluster_centers_.dtype == np.float32
    assert ours.transform(X).dtype == np.float32
    assert np.array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-5)


# --- statistics before speed --------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_recovers_well_separated_clusters(seed):
    X, y = make_kmeans_scenario("separated", random_state=seed)
    labels = FastKMeans(n_clusters=4, n_init=10, random_state=seed).fit(X).labels_
    assert adjusted_rand_score(y, labels) >= 0.99


def test_hamerly_computes_far_fewer_distances_at_low_dimension():
    X, _ = make_kmeans_scenario("overlapping", n_samples=5000, n_features=2, n_clusters=4,
                                random_state=0)
    lloyd = FastKMeans(32, random_state=0, engine="numba").fit(X)
    hamerly = FastKMeans(32, random_state=0, engine="hamerly").fit(X)
    assert np.array_equal(lloyd.labels_, hamerly.labels_) and lloyd.n_iter_ == hamerly.n_iter_
    assert hamerly.n_distance_evaluations_ < 0.5 * lloyd.n_distance_evaluations_


@pytest.mark.parametrize("n_features, n_clusters", [(2, 16), (64, 80)])
def test_hamerly_kept_block_sums_equal_a_fresh_recomputation(n_features, n_clusters):
    """Kept block sums are bitwise those recomputed from scratch, iteration after iteration.

    (2, 16) scans in the compiled loop, (64, 80) through BLAS; a fresh
    ``BoundedStep`` sums every block from scratch with the same block layout.
    """
    from skfast.cluster._kmeans import _cluster_means
    from skfast.cluster._hamerly import BoundedStep

    X, _ = make_kmeans_scenario("overlapping", n_samples=6_000, n_features=n_features,
                                n_clusters=4, random_state=0)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    centers = X[:n_clusters].copy()
    kept = BoundedStep(X)
    for _ in range(6):
        labels, sums, sample_weights = kept(X, weights, centers)
        fresh_labels, fresh_sums, fresh_weights = BoundedStep(X)(X, weights, centers)
        assert np.array_equal(labels, fresh_labels)
        assert np.array_equal(sums, fresh_sums) and np.array_equal(sample_weights, fresh_weights)
        centers = _cluster_means(sums, sample_weights, X.dtype)


def test_hamerly_float32_kept_sums_are_kmeans_float32_sums():
    """On float32 data the kept sums are float32, over scikit-learn's thread ranges.

    So they are bitwise ``accumulate_ranges`` of the labels (KMeans' order),
    iteration after iteration, and the fit does not add them again.
    """
    from skfast.cluster._hamerly import BoundedStep
    from skfast.cluster._kmeans import _cluster_means
    from skfast.cluster._sklearn_order import accumulate_ranges, thread_ranges

    X, _ = make_kmeans_scenario("overlapping", n_samples=12_000, n_features=16,
                                n_clusters=6, random_state=0)
    X = X.astype(np.float32)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    centers = X[:6].copy()
    kept = BoundedStep(X)
    for _ in range(6):
        labels, sums, sample_weights = kept(X, weights, centers)
        assert sums.dtype == np.float32 and sample_weights.dtype == np.float32
        expected_sums, expected_weights = accumulate_ranges(
            X, weights.astype(np.float32), labels, 6, thread_ranges(X.shape[0]))
        assert np.array_equal(sums, expected_sums)
        assert np.array_equal(sample_weights, expected_weights)
        centers = _cluster_means(sums, sample_weights, X.dtype)


def test_centred_copy_is_thread_independent_and_leaves_x_alone():
    from skfast._engines import numba_threads
    from skfast._centring import centred_copy

    X = np.random.default_rng(0).normal(5.0, 2.0, (10_000, 7))
    before = X.copy()
    results = []
    for n_threads in (1, 2):
        with numba_threads(n_threads):
            results.append(centred_copy(X))
    for one, two in zip(*results):
        assert np.array_equal(one, two)
    centred, mean, squared_norms, mean_variance = results[0]
    assert np.array_equal(X, before)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(centred, X - X.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(squared_norms, (centred**2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(mean_variance, np.var(X, axis=0).mean(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(4096, 7), (300, 1), (50, 64), (2, 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_block_centring_in_numpy_is_bitwise_the_compiled_pass(shape, dtype):
    """Small data is centred in numpy for every engine (nothing to compile): the same bits."""
    from skfast import _centring

    X = (np.random.default_rng(sum(shape)).standard_t(3, shape) * 1e3 + 7.0).astype(dtype)
    centred, mean, squared_norms, mean_variance = _centring.centred_copy(X)
    compiled = np.empty_like(X)
    compiled_norms = np.empty(shape[0])
    _centring._subtract(X, _centring.column_means(X), compiled, compiled_norms, shape[0], 1)
    assert np.array_equal(mean, _centring.column_means(X))
    assert np.array_equal(centred, compiled) and np.array_equal(squared_norms, compiled_norms)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_centring_without_copy_is_the_centred_copys_bits(dtype):
    from skfast import _centring

    X = (np.random.default_rng(5).standard_t(3, (9_000, 6)) * 1e3 + 7.0).astype(dtype)
    _, mean, squared_norms, mean_variance = _centring.centred_copy(X)
    got = _centring.centring_without_copy(X)
    assert np.array_equal(got[0], mean) and np.array_equal(got[1], squared_norms)
    assert got[2] == mean_variance
    with pytest.raises(ValueError, match="more than 4096 rows"):
        _centring.centring_without_copy(X[:4096])


@pytest.mark.parametrize("n_samples", [50, 6_000])  # numpy's mean, the compiled one
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_finite_check_on_the_means_pass_raises_sklearns_errors(bad, n_samples):
    from sklearn.utils.validation import check_array

    X = np.random.default_rng(0).standard_normal((n_samples, 3))
    X[n_samples // 2, 1] = bad
    with pytest.raises(ValueError) as expected:
        check_array(X, estimator=KMeans(), input_name="X")
    message = str(expected.value).replace("KMeans", "FastKMeans")
    for data in (X, sp.csr_matrix(X)):
        with pytest.raises(ValueError) as got:
            FastKMeans(2, n_init=1, random_state=0).fit(data)
        assert str(got.value) == message


def test_finite_values_whose_column_sum_overflows_still_fit():
    """A mean beyond the float range is no infinity in X: the fit goes on (rescaled)."""
    X = np.random.default_rng(0).uniform(0.5, 1.0, (6_000, 2)) * 1.7e308
    fitted = FastKMeans(2, n_init=1, random_state=0).fit(X)
    assert np.isfinite(fitted.cluster_centers_).all()
    expected = FastKMeans(2, n_init=1, random_state=0).fit(X / 2.0**10)
    assert np.array_equal(fitted.labels_, expected.labels_)


def _fit_with_copy(monkeypatch, estimator, X, sample_weight=None):
    """``estimator`` fitted on the centred copy: the in-pass centring turned off."""
    from skfast.cluster import _kmeans

    with monkeypatch.context() as patch:
        patch.setattr(_kmeans.FastKMeans, "_centres_in_pass", lambda *args: False)
        return estimator.fit(X, sample_weight=sample_weight)


@pytest.mark.parametrize("engine", ["blas", "auto"])
@pytest.mark.parametrize("kind", ["offset_integers", "far_from_origin", "empty_cluster"])
def test_blas_centring_in_its_pass_gives_the_copys_bits_and_makes_no_copy(kind, engine,
                                                                         monkeypatch):
    """Explicit init on blas (or auto's probe picking it): no centred copy, the same results.

    Integer data far from 0 (exact ties, settled from centred rows), data
    whose mean dwarfs its spread, and zero weights that empty a cluster
    (the relocation centres the rows it reads).
    """
    from skfast._centring import centred_copy
    from skfast.cluster import _kmeans

    rng = np.random.default_rng(11)
    n, n_features, n_clusters = 6_000, 16, 12
    sample_weight = None
    if kind == "offset_integers":
        X = rng.integers(-3, 4, (n, n_features)).astype(float) + 40.0
    elif kind == "far_from_origin":
        X = rng.standard_normal((n, n_features)) + 1e4
    else:
        X = rng.standard_normal((n, n_features))
        sample_weight = np.where(np.arange(n) % 7 == 0, 0.0, 1.0)
    init = np.ascontiguousarray(X[rng.choice(n, n_clusters, replace=False)])
    if kind == "empty_cluster":
        init[0] = 1e3  # nothing is nearest: an empty cluster from the first step
    before = X.copy()
    copies = []
    with monkeypatch.context() as patch:
        patch.setattr(_kmeans, "centred_copy",
                      lambda *args, **kwargs: copies.append(1) or centred_copy(*args, **kwargs))
        in_pass = FastKMeans(n_clusters, init=init, n_init=1, max_iter=8, tol=0.0,
                             engine=engine).fit(X, sample_weight=sample_weight)
    assert in_pass.engine_ == "blas" and not copies
    assert np.array_equal(X, before)
    copied = _fit_with_copy(monkeypatch, FastKMeans(n_clusters, init=init, n_init=1,
                                                     max_iter=8, tol=0.0, engine=engine),
                            X, sample_weight)
    for name in ("labels_", "cluster_centers_", "inertia_", "n_iter_"):
        assert np.array_equal(getattr(in_pass, name), getattr(copied, name)), name
    sklearn = KMeans(n_clusters, init=init, n_init=1, max_iter=8, tol=0.0).fit(
        X, sample_weight=sample_weight)
    assert np.array_equal(in_pass.labels_, sklearn.labels_)
    assert in_pass.n_iter_ == sklearn.n_iter_


def test_centring_in_the_pass_only_where_nothing_else_reads_centred_x():
    """k-means++, float32 data, tiny products and the bounds all get the centred copy."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6_000, 16))
    init = X[:12].copy()

    def in_pass(estimator, data):
        return estimator._centres_in_pass(data, estimator._resolve_engine(data)[0],
                                          estimator.engine == "auto", True)

    assert in_pass(FastKMeans(12, init=init, engine="blas"), X)
    assert not in_pass(FastKMeans(12, init=init, engine="blas"), X.astype(np.float32))
    assert not in_pass(FastKMeans(12, init=init, engine="numba"), X)
    assert not in_pass(FastKMeans(12, init=init, engine="hamerly"), X)
    assert not in_pass(FastKMeans(2, init=init[:2], engine="blas"), X[:, :4])  # dgemm from X
    assert not in_pass(FastKMeans(12, init=init, engine="blas"), X[:4_000])  # one block
    assert not FastKMeans(12, engine="blas")._centres_in_pass(X, _ENGINES["blas"], False,
                                                                False)  # k-means++


def test_elkan_is_accepted_and_runs_the_bounds():
    X, _ = make_kmeans_scenario("separated", random_state=0)
    est = FastKMeans(4, random_state=0, algorithm="elkan").fit(X)
    assert est.engine_ == "hamerly"
    ref = FastKMeans(4, random_state=0).fit(X)
    assert np.array_equal(est.labels_, ref.labels_)


# --- scikit-learn API ----------------------------------------------------------------


# The one expected failure (dense and sparse), shared with sklearn.cluster.KMeans
# (which marks it the same way): k-means++ draws its random numbers per sample,
# so a weight of 2 and a repeated row consume the random state differently and
# start from different centres.  Matching KMeans' random stream exactly is the
# contract.
_WEIGHTS_ARE_NOT_REPEATS = ("k-means++ consumes random_state per sample, exactly as KMeans: "
                            "weights are not equivalent to repeated rows (sklearn marks KMeans "
                            "the same way)")
_XFAIL = {f"check_sample_weight_equivalence_on_{kind}_data": _WEIGHTS_ARE_NOT_REPEATS
          for kind in ("dense", "sparse")}


@parametrize_with_checks([FastKMeans(engine=e) for e in INSTALLED],
                         expected_failed_checks=lambda est: _XFAIL)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_pipeline_gridsearch_clone_pickle():
    X, _ = make_kmeans_scenario("separated", random_state=0)
    pipe = make_pipeline(StandardScaler(), FastKMeans(n_clusters=4, random_state=0))
    labels = pipe.fit_predict(X)
    assert labels.shape == (X.shape[0],)

    search = GridSearchCV(FastKMeans(n_clusters=4, random_state=0),
                          {"engine": list(INSTALLED)}, cv=3).fit(X)
    assert set(search.cv_results_["param_engine"]) == set(INSTALLED)
    scores = search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(scores, scores[0], rtol=1e-8)  # same answer, every engine

    est = FastKMeans(n_clusters=4, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(est))
    assert np.array_equal(restored.predict(X), est.labels_)
    assert clone(est).get_params() == est.get_params()


def test_results_do_not_depend_on_threads(engine):
    # Enough samples for several parallel blocks; the slow oracle gets fewer.
    n_samples = 2_000 if engine == "reference" else 20_000
    X, _ = make_kmeans_scenario("overlapping", n_samples=n_samples, random_state=1)
    one = FastKMeans(8, random_state=1, engine=engine, n_threads=1).fit(X)
    two = FastKMeans(8, random_state=1, engine=engine, n_threads=2).fit(X)
    assert_fitted_equal(one, two, exact=("labels_", "n_iter_", "inertia_", "cluster_centers_"))


def test_idle_numba_threads_sleep_unless_the_user_chose():
    # Spinning OpenMP threads made numba kernels 50-100x slower on a busy machine.
    import os
    import subprocess
    import sys

    code = "import os, skfast; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    default = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                            capture_output=True, text=True, check=True).stdout.strip()
    assert (default, chosen) == ("PASSIVE", "ACTIVE")


def test_numba_thread_count_is_restored():
    import numba

    before = numba.get_num_threads()
    FastKMeans(3, engine="numba", n_threads=1, random_state=0).fit(np.random.rand(50, 2))
    assert numba.get_num_threads() == before


def test_jax_leaves_global_x64_setting_alone():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    X, _ = make_kmeans_scenario("separated", random_state=0)
    est = FastKMeans(4, random_state=0, engine="jax").fit(X)
    assert est.cluster_centers_.dtype == np.float64
    assert jax.config.jax_enable_x64 == before


# --- engines ---------------------------------------------------------------------------


def test_engine_recorded(engine):
    est = FastKMeans(3, engine=engine, random_state=0).fit(np.random.rand(40, 2))
    assert est.engine_ == engine


@pytest.mark.parametrize(("shape", "expected"), [
    ((100_000, 10, 5), "blas"),
    ((200_000, 2, 100), "hamerly"),
    ((100_000, 64, 256), "hamerly"),
    ((1_000_000, 256, 50), "hamerly"),
    ((100_000, 128, 4), "blas"),
    ((100_000, 2, 16), "hamerly"),
])
def test_auto_follows_the_documented_rule(shape, expected):
    n_samples, n_features, n_clusters = shape
    chosen = _ENGINES.resolve("auto", n_samples=n_samples, n_features=n_features,
                              n_clusters=n_clusters, algorithm="lloyd")
    assert chosen.name == expected
    assert (n_clusters <= AUTO_DENSE_MAX_CLUSTERS) == (expected == "blas")
    assert _ENGINES.resolve("auto", n_samples=10, n_features=2, n_clusters=2,
                            algorithm="hamerly").name == "hamerly"


@pytest.mark.parametrize("structured", [False, True])
def test_auto_leaves_the_bounds_for_the_gemm_pass_when_they_skip_little(structured):
    """Unstructured data: the probe sees the bounds scan most pairs, so auto runs blas; same answer."""
    from skfast.cluster import _kmeans

    rng = np.random.default_rng(0)
    if structured:  # twelve tight, far-apart clusters: the bounds skip nearly every scan
        X = (rng.standard_normal((12, 16)) * 10)[rng.integers(0, 12, 3_000)]
        X += 0.1 * rng.standard_normal(X.shape)
        n_clusters = 12
    else:
        X, n_clusters = rng.standard_normal((4_000, 48)), 24
    expected = KMeans(n_clusters, n_init=1, random_state=0).fit(X)
    auto = FastKMeans(n_clusters, random_state=0).fit(X)
    assert auto.engine_ == ("hamerly" if structured else "blas")
    assert np.array_equal(auto.labels_, expected.labels_) and auto.n_iter_ == expected.n_iter_
    np.testing.assert_allclose(auto.cluster_centers_, expected.cluster_centers_, rtol=1e-8,
                               atol=1e-10)
    # the probe decides from its last step, and not for algorithm="elkan"
    assert _kmeans.PROBE_ITERATIONS >= 2
    assert FastKMeans(n_clusters, algorithm="elkan", random_state=0).fit(X).engine_ == "hamerly"


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("by_row", [False, True])
@pytest.mark.parametrize("n_samples", [5_000, 2_049, 255])
def test_blas_gives_the_numba_engines_bits_and_sklearns_labels(n_samples, by_row, single,
                                                                monkeypatch):
    """Blocks that split scikit-learn's 256-row chunks change no bit; labels are KMeans'.

    Both orientations of the values (centre-major, row-major: ``_blas._by_row``),
    float64 data with its GEMM in float64 and in float32 (``_single_precision``).
    """
    from skfast.cluster import _blas, _numba

    monkeypatch.setattr(_blas, "_by_row", lambda dtype, n_features, n_clusters: by_row)
    monkeypatch.setattr(_blas, "_single_precision",
                        lambda dtype, n_features, n_clusters: single or dtype == np.float32)

    rng = np.random.default_rng(1)
    X = np.ascontiguousarray(rng.integers(-3, 4, (n_samples, 7)).astype(float))  # exact ties
    centers = X[rng.choice(n_samples, 9, replace=False)] + 0.5
    weights = rng.uniform(0.5, 2.0, n_samples)
    for data, middle in ((X, centers), (X.astype(np.float32), centers.astype(np.float32))):
        got = _blas.lloyd_step(data, weights, middle)
        for got_part, want in zip(got, _numba.lloyd_step(data, weights, middle)):
            assert np.array_equal(got_part, want)
        sklearn = KMeans(9, init=middle, n_init=1, max_iter=1).fit(data)
        sklearn.cluster_centers_ = middle  # KMeans.predict: its chunked GEMM on these centres
        assert np.array_equal(got[0], sklearn.predict(data))


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("by_row", [False, True])
@pytest.mark.parametrize("kind", ["beyond_float32", "one_far_centre", "tiny_and_huge_columns"])
def test_blas_product_defers_what_it_cannot_resolve(kind, by_row, single, monkeypatch):
    """Rows the GEMM's rounding cannot order go to scikit-learn's expression, and only those.

    ``beyond_float32``: clusters 1e-9 apart around +-1, with 1e-11 noise;
    ``one_far_centre``: an outlying centre, whose rounding bound must not
    widen every other row's (the bounds are per row and per centre, from
    the row norms); ``tiny_and_huge_columns``: features of 1e-30 beside
    features of 1e6.
    """
    from skfast.cluster import _blas

    monkeypatch.setattr(_blas, "_by_row", lambda dtype, n_features, n_clusters: by_row)
    monkeypatch.setattr(_blas, "_single_precision",
                        lambda dtype, n_features, n_clusters: single or dtype == np.float32)
    rng = np.random.default_rng(3)
    n = 3_000
    if kind == "beyond_float32":
        X = (rng.choice([-1.0, 1.0], (n, 3)) + 1e-9 * rng.integers(0, 4, (n, 3))
             + 1e-11 * rng.standard_normal((n, 3)))
    elif kind == "one_far_centre":
        X = rng.standard_normal((n, 4))
        X[0], X[1] = 1e7, -1e7  # far, and leaving the mean near 0
    else:
        X = np.hstack([1e-30 * rng.standard_normal((n, 2)), 1e6 * rng.integers(0, 2, (n, 2))])
    X = np.ascontiguousarray(X - X.mean(axis=0))
    centers = np.ascontiguousarray(X[rng.choice(n, 6, replace=False)])
    if kind == "one_far_centre":
        centers[0] = X[0]
    labels, _, _, settled = _blas._run(X, np.ones(n), centers)
    sklearn = KMeans(6, init=centers, n_init=1, max_iter=1).fit(X)
    sklearn.cluster_centers_ = centers
    assert np.array_equal(labels, sklearn.predict(X))
    # the far centre's bound is its own: ordinary rows stay on the fast path
    assert settled < n // 10 if kind == "one_far_centre" else settled > 0

def test_unknown_engine_lists_valid_ones():
    with pytest.raises(ValueError, match="'engine' parameter of FastKMeans") as error:
        FastKMeans(engine="cuda").fit(np.random.rand(10, 2))
    assert all(repr(name) in str(error.value) for name in _ENGINES.names)
    with pytest.raises(ValueError, match="valid engines are 'auto', 'reference', 'numpy'"):
        _ENGINES.resolve("cuda")


def test_missing_optional_engine_names_the_extra():
    table = EngineTable("Demo", (Engine("ghost", "skfast.nonexistent",
                                        requires=("no_such_package_xyz",), extra="ghost"),),
                        lambda available, **shape: "ghost")
    with pytest.raises(ImportError, match=r"pip install 'skfast\[ghost\]'"):
        table.resolve("ghost")
    with pytest.raises(ImportError, match="no_such_package_xyz"):
        table.resolve("auto")  # auto never swaps in another engine silently


def test_hamerly_algorithm_needs_the_hamerly_engine():
    with pytest.raises(ValueError, match="algorithm='hamerly' runs on engine='hamerly'"):
        FastKMeans(2, algorithm="hamerly", engine="numpy").fit(np.random.rand(10, 2))


# --- sparse input ------------------------------------------------------------------------

SPARSE_ENGINES = [e for e in INSTALLED if _ENGINES[e].provides("sparse_lloyd_step")] + ["auto"]


def _hostile_sparse(kind, dtype, seed):
    """Sparse data drawn to break an engine: ties, duplicates, empty rows, tiny counts."""
    rng = np.random.default_rng(seed)
    X = sp.random(600, 30, density=0.1, format="csr", random_state=seed,
                  dtype=np.float64)
    if kind == "integer_counts":  # word counts: exact ties everywhere
        X.data = rng.integers(1, 4, X.data.size).astype(np.float64)
    elif kind == "duplicates":  # every row three times, and some empty rows
        X = sp.vstack([X[:150]] * 3 + [sp.csr_matrix((150, 30))], format="csr")
    elif kind == "tfidf":  # rows of unit norm, as TfidfVectorizer gives
        X.data = rng.exponential(size=X.data.size)
        X = sp.csr_matrix(X.multiply(1 / np.maximum(sp.linalg.norm(X, axis=1), 1e-12)[:, None]))
    return X.astype(dtype)


@pytest.mark.parametrize("kind", ["integer_counts", "duplicates", "tfidf"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_sparse_input_gives_sklearns_results_bit_for_bit(kind, dtype, init):
    """Every sparse engine: KMeans' labels, n_iter_, centres, inertia and warnings, exactly."""
    X = _hostile_sparse(kind, dtype, seed=3)
    weight = np.random.default_rng(0).integers(0, 3, X.shape[0]).astype(float)
    for n_clusters in (4, 12):
        with warnings.catch_warnings(record=True) as expected_warnings:
            warnings.simplefilter("always")
            expected = KMeans(n_clusters, init=init, n_init=2, random_state=0).fit(
                X, sample_weight=weight)
        for engine in SPARSE_ENGINES:
            with warnings.catch_warnings(record=True) as got_warnings:
                warnings.simplefilter("always")
                fit = FastKMeans(n_clusters, init=init, n_init=2, random_state=0,
                                 engine=engine).fit(X, sample_weight=weight)
            assert np.array_equal(fit.labels_, expected.labels_), engine
            assert fit.n_iter_ == expected.n_iter_, engine
            assert np.array_equal(fit.cluster_centers_, expected.cluster_centers_), engine
            assert fit.inertia_ == expected.inertia_, engine
            assert ([type(w.message) for w in got_warnings]
                    == [type(w.message) for w in expected_warnings]), engine
            assert np.array_equal(fit.predict(X[::7]), expected.predict(X[::7]))
            assert fit.score(X[::7]) == expected.score(X[::7])
            np.testing.assert_array_equal(fit.transform(X[::7]), expected.transform(X[::7]))


def test_sparse_input_in_any_format_leaves_x_alone():
    X = _hostile_sparse("integer_counts", np.float64, seed=0)
    before = X.copy()
    csr = FastKMeans(5, random_state=0).fit(X)
    for other in (X.tocsc(), X.tocoo(), sp.csr_array(X)):
        assert np.array_equal(FastKMeans(5, random_state=0).fit(other).labels_, csr.labels_)
    assert (X != before).nnz == 0 and csr.engine_ == "numba"


def test_sparse_input_on_an_engine_without_it_names_those_with_it():
    if "jax" not in INSTALLED:
        pytest.skip("jax is not installed")
    with pytest.raises(TypeError, match="engine='jax' does not accept sparse input.*'numba'"):
        FastKMeans(2, engine="jax").fit(sp.csr_matrix(np.eye(4)))


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(("X", "error", "match"), [
    ([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]], ValueError, "NaN"),
    ([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]], ValueError, "infinity"),
    (np.empty((0, 2)), ValueError, "0 sample"),
    ([[1.0, 2.0]], ValueError, "n_samples=1 should be >= n_clusters=2"),
    ([["a", "b"], ["c", "d"]], ValueError, "could not convert|numeric"),
    (np.array([[1 + 1j, 2], [3, 4]]), ValueError, "[Cc]omplex"),
])
def test_bad_input_is_a_clear_error(engine, X, error, match):
    with pytest.raises(error, match=match):
        FastKMeans(n_clusters=2, engine=engine).fit(X)


@pytest.mark.parametrize(("params", "match"), [
    ({"n_clusters": 0}, "'n_clusters' parameter of FastKMeans must be an int in the range"),
    ({"n_clusters": 2.5}, "'n_clusters' parameter of FastKMeans must be an int"),
    ({"max_iter": 0}, "'max_iter' parameter of FastKMeans must be an int in the range"),
    ({"n_init": 0}, "'n_init' parameter of FastKMeans must be a str among {'auto'} or an int"),
    ({"tol": -1.0}, "'tol' parameter of FastKMeans must be a float in the range"),
    ({"init": "kmeans"}, "'init' parameter of FastKMeans must be"),
    ({"init": np.zeros((3, 2))},
     r"The shape of the initial centers \(3, 2\) does not match the number of clusters 2"),
    ({"algorithm": "full"}, "'algorithm' parameter of FastKMeans must be a str among"),
    ({"engine": "gpu"}, "'engine' parameter of FastKMeans must be a str among"),
    ({"n_threads": 0},
     "'n_threads' parameter of FastKMeans must be None, a int among {-1} or an int in the range"),
])
def test_bad_parameters_are_clear_errors(params, match):
    with pytest.raises(ValueError, match=match):
        FastKMeans(**{"n_clusters": 2, **params}).fit(np.random.rand(20, 2))


def test_bad_sample_weight_and_predict_shape(engine):
    X = np.random.rand(20, 3)
    with pytest.raises(ValueError, match="sample_weight"):
        FastKMeans(2, engine=engine).fit(X, sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        FastKMeans(2, engine=engine).fit(X, sample_weight=np.ones(5))
    est = FastKMeans(2, engine=engine, random_state=0).fit(X)
    with pytest.raises(ValueError, match="3 features"):
        est.predict(np.random.rand(4, 2))


def test_inputs_are_never_modified(engine):
    X, _ = make_kmeans_scenario("separated", random_state=0)
    init = X[:4].copy()
    weights = np.ones(X.shape[0])
    X_before, init_before, w_before = X.copy(), init.copy(), weights.copy()
    FastKMeans(4, init=init, engine=engine, copy_x=False).fit(X, sample_weight=weights)
    assert np.array_equal(X, X_before)
    assert np.array_equal(init, init_before)
    assert np.array_equal(weights, w_before)


def test_same_labels_is_array_equal():
    from skfast.cluster._sklearn_order import same_labels

    labels = np.arange(1_000, dtype=np.int32) % 7
    changed = labels.copy()
    changed[-1] += 1
    assert same_labels(labels, labels.copy()) and not same_labels(labels, changed)
    assert not same_labels(labels, labels[:-1])
    assert not same_labels(labels, np.full(1_000, -1, dtype=np.int32))
