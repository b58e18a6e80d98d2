"""FastKMeans: a drop-in for ``sklearn.cluster.KMeans(algorithm="lloyd")``.

The estimator validates input, draws every random number (k-means++ through
scikit-learn's own ``kmeans_plusplus``, so a ``random_state`` gives the same
initial centres as ``KMeans``) and runs the Lloyd iteration control: the
convergence tests, the empty-cluster relocation and the final E-step.  The
engines only compute the per-iteration step over all samples.
"""

from numbers import Integral, Real
import warnings
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin,
                          TransformerMixin, _fit_context)
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils import assert_all_finite, check_array, check_random_state
from sklearn.utils.extmath import row_norms
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._engines import (N_THREADS_CONSTRAINT, Engine, EngineTable, GateSpec, blas_threads,
                        compute_threads, engine_run, numba_threads)
from .._base import DocLinkMixin
from .._base import is_dask_array as _is_dask_array
from .._centring import _BLOCK_ROWS as CENTRING_BLOCK_ROWS
from .._centring import centred_copy, centring_mean, centring_without_copy
from .._crossovers import load_crossovers
from ._contract import KMeansEngine
from ._sklearn_order import (accumulate_ranges, center_shift, same_labels,
                             sklearn_thread_count, thread_ranges)
from ._sparse import (centers_squared_norms, csr_parts, relocate_empty_clusters, sparse_tolerance,
                      static_ranges)

# --- engine table -----------------------------------------------------------

# Measured on the 2-core benchmark machine, 10 Lloyd iterations from the same
# k-means++ centres, blobs and standard normal data, 100,000-200,000 samples:
# with up to 8 clusters the blas engine's fused GEMM pass beats both the
# numba loop and the bounds on every cell (1.03-2.5x KMeans, against
# 0.62-2.2x for numba), since with so few centres the bounds skip little.
# Above, the bounds win on structured data (3.1x KMeans at d=64, K=256
# blobs) and lose on overlapping clusters, where auto runs blas instead
# when a probe on a subsample sees them scan nearly everything
# (_bounds_pay).
AUTO_DENSE_MAX_CLUSTERS = 8


def _auto_engine(available, *, n_samples, n_features, n_clusters, algorithm, sparse=False):
    """Pick the engine for ``engine="auto"`` from the data shape.

    ``algorithm="hamerly"`` (or ``"elkan"``) runs on the hamerly engine.
    Otherwise the blas engine's fused GEMM pass for few clusters
    (``n_clusters <= AUTO_DENSE_MAX_CLUSTERS``), where the bounds can skip
    little, and Hamerly's bounds above, where each skipped scan saves a row
    of distances (``fit`` runs blas instead when a probe on a subsample
    shows that they would not, :func:`_bounds_pay`).  Sparse data runs on numba's sparse pass
    (the bounds do not serve it yet).

    After :func:`skfast.tune` has run on this machine, the threshold is the
    crossover it measured (``kmeans_dense_max_clusters``) instead of
    ``AUTO_DENSE_MAX_CLUSTERS``; a corrupt or stale tuning file is ignored
    with a warning.
    """
    tuned = load_crossovers()
    max_clusters = (AUTO_DENSE_MAX_CLUSTERS if tuned is None
                    else tuned["kmeans_dense_max_clusters"])
    if algorithm == "hamerly" or (n_clusters > max_clusters and not sparse):
        return "hamerly"
    return "numba" if sparse else "blas"


def _gate_tolerance(X, y, oracle_fit):
    """Centres and inertia agree to 1e-8 (float64) or 1e-5 (float32 data: float32 centres).

    The absolute part scales with the data, so the gate means the same at
    any magnitude.
    """
    X = X.data if sp.issparse(X) else np.asarray(X)
    resolution = 1e-8 if X.dtype != np.float32 else 1e-5
    scale = float(np.max(np.abs(X))) if X.size else 1.0
    return resolution, resolution * (scale if scale > 0 else 1.0)


# Engines that take sparse X (CSR), with scikit-learn's sparse results bit for bit.
_SPARSE = frozenset({"sparse_lloyd_step", "sparse_inertia"})

_ENGINES = EngineTable(
    "FastKMeans",
    (
        Engine("reference", "skfast.cluster._reference", capabilities=_SPARSE,
               description="explicit loops over samples and clusters; the oracle"),
        Engine("numpy", "skfast.cluster._numpy", capabilities=_SPARSE,
               description="|c|^2 - 2 X C^T by KMeans' own GEMM call per 256 rows, sparse one-hot update"),
        Engine("numba", "skfast.cluster._numba", compiled_parallel=True,
               blas_between_regions=True, capabilities=_SPARSE,
               description="fused assignment and accumulation, parallel over sample blocks"),
        Engine("jax", "skfast.cluster._jax", requires=("jax",), extra="jax",
               description="jit-compiled array program (CPU or GPU)"),
        Engine("blas", "skfast.cluster._blas", compiled_parallel=True,
               capabilities=frozenset({"CentredInPass"}) | _SPARSE,
               description=("one GEMM per chunk of rows (float32 unless tiny), checked against "
                            "its rounding; "
                            "argmin and update fused with it")),
        Engine("hamerly", "skfast.cluster._hamerly", compiled_parallel=True,
               blas_between_regions=True, capabilities=frozenset({"BoundedStep"}) | _SPARSE,
               description="Hamerly's distance bounds skip most scans; the rest go through BLAS"),
    ),
    _auto_engine,
    contract=KMeansEngine,
    gate=GateSpec(oracle="reference", exact=("labels_", "n_iter_"),
                  close=("inertia_", "cluster_centers_"), rtol=1e-8, atol=1e-8,
                  tolerance=_gate_tolerance),
)

_ALGORITHMS = ("lloyd", "elkan", "hamerly")


# --- the Lloyd iteration control, shared by every engine ---------------------




def _relocate_empty_clusters(X, sample_weight, centers_old, sums, weights, labels, offset=None):
    """Give each empty cluster the sample farthest from its centre, as scikit-learn.

    The farthest samples are found with the same ``argpartition`` call that
    scikit-learn uses, so ties among distances resolve identically; when
    every sample sits on its centre nothing moves, as in scikit-learn.  Labels
    are left untouched: the moved sample counts for its new cluster from the
    next assignment on.  With ``offset`` the samples are ``X - offset`` (X
    centred in the engine's pass), centred here as the centred copy holds them.
    """
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return
    if offset is not None:
        X = X - offset
    # In X's dtype, as scikit-learn computes them.
    distances = ((X - centers_old[labels].astype(X.dtype, copy=False)) ** 2).sum(axis=1)
    farthest = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
    if np.max(distances) == 0:
        # More clusters than distinct points: scikit-learn (1.9) leaves the
        # empty clusters empty, since moving a duplicate point would help nothing.
        return
    for new_cluster, far in zip(empty, farthest):
        weight = sample_weight[far].astype(sums.dtype)
        old_cluster = labels[far]
        point = X[far].astype(sums.dtype) * weight
        sums[old_cluster] -= point
        sums[new_cluster] = point
        weights[new_cluster] = weight
        weights[old_cluster] -= weight


def _cluster_means(sums, weights, dtype):
    """Weighted means; a cluster with no weight sits on the heaviest cluster's mean.

    As scikit-learn (1.9) does: a cluster still empty after the relocation
    (more clusters than distinct points, or weight on fewer samples than
    clusters) is placed on the mean of the cluster with the largest weight
    (the first of them), not at the origin.
    """
    centers = sums.copy()
    filled = weights > 0
    # Multiply by the reciprocal, as scikit-learn does, for bitwise-equal centres
    # (in float32 for float32 sums, as its Cython computes them).
    centers[filled] *= (weights.dtype.type(1.0) / weights[filled])[:, None]
    if not filled.all():
        centers[~filled] = centers[np.argmax(weights)]
    return centers.astype(dtype, copy=False)


def _lloyd_single(step, assign, inertia, X, sample_weight, centers, *, max_iter, tol, verbose,
                  relocate=_relocate_empty_clusters):
    """One Lloyd run from ``centers``; returns labels, inertia, centers, n_iter.

    ``step`` is the engine's ``lloyd_step`` or a bound-accelerated stand-in
    with the same signature and results (``BoundedStep``); ``assign(X,
    centers)`` is the final E-step (through the bounds, for a bounded step);
    ``inertia(X, sample_weight, centers, labels)`` the engine's.  Sparse
    input brings its own ``relocate`` (``_sparse``).
    """
    labels_old = np.full(X.shape[0], -1, dtype=np.int32)
    strict_convergence = False
    sample_weight_x = sample_weight.astype(X.dtype, copy=False)
    ranges = thread_ranges(X.shape[0]) if X.dtype == np.float32 else None
    for i in range(max_iter):
        labels, sums, weights = step(X, sample_weight, centers)
        if sums.dtype != X.dtype:
            # float32 data: sums added in float32 as KMeans adds them (an
            # engine may return them so already, fused with its pass)
            sums, weights = accumulate_ranges(X, sample_weight_x, labels, centers.shape[0],
                                              ranges)
        if verbose:
            print(f"Iteration {i}, inertia {inertia(X, sample_weight, centers, labels)}.")
        relocate(X, sample_weight_x, centers, sums, weights, labels)
        centers_new = _cluster_means(sums, weights, X.dtype)
        shift = center_shift(centers_new, centers)
        centers = centers_new
        if same_labels(labels, labels_old):  # KMeans' strict convergence
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict_convergence = True
            break
        center_shift_total = (shift**2).sum()
        if center_shift_total <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift "
                      f"{center_shift_total} within tolerance {tol}.")
            break
        labels_old = labels
    if not strict_convergence:
        # The last update moved the centres: reassign so labels match them
        # (through the bounds, when the step keeps them).
        labels = assign(X, centers)
    return labels, inertia(X, sample_weight, centers, labels), centers, i + 1


# auto on dense data with many clusters: before the run, Hamerly's bounds
# take PROBE_ITERATIONS steps on an evenly spaced subsample of at least
# PROBE_MIN_ROWS rows (PROBE_ROWS_PER_CLUSTER per cluster), from the run's
# first centres.  If the last step still scanned more than DENSE_SCAN_SHARE
# of the sample-centre pairs, the run is the blas engine's: its float32 GEMM
# prices a pair at a fraction of a bounded scan's cost.  Step 1 scans
# everything (it sets the bounds).  Measured on the kinds of
# benchmarks/kmeans_kinds.py (10 iterations, interleaved, both dtypes): at
# 2 features and 100 clusters the fourth step scans 31-36% of the pairs on
# every kind and blas is 1.07-1.29x faster than the bounds (4.5x on the
# heavy-tailed kind in float32); load_digits scaled up scans 50% and blas is
# 2.3x faster; overlapping data at 64-256 features scans everything (blas
# 2.4-4.2x faster); blobs at 50-256 clusters scan 0-4%, and the bounds are
# 1.4-2.2x faster than blas.  From centres drawn among the samples the
# bounds of blobs still scanned everything at step 3 (the centres move far)
# and 40-50% at step 4, on the subsample as on all of X: hence four.  The
# probe only chooses the engine: the run itself is one engine's from its
# first step, and both give the exact labels (the tie rule).
PROBE_ITERATIONS = 4
PROBE_MIN_ROWS = 2048
PROBE_ROWS_PER_CLUSTER = 8
DENSE_SCAN_SHARE = 0.2


def _bounds_pay(bounded, X, squared_norms, sample_weight, centers, offset=None):
    """Whether Hamerly's bounds skip enough scans on X (``X - offset``) to beat the blas pass.

    ``bounded``: the hamerly kernels.  Consumes no randomness and changes
    nothing the fit returns.
    """
    n_rows = max(PROBE_MIN_ROWS, PROBE_ROWS_PER_CLUSTER * centers.shape[0])
    stride = max(1, X.shape[0] // n_rows)
    # in float64 whatever X's dtype: the share the bounds skip hardly depends
    # on it, and float32's wide near-tie margin would send many rows of the
    # probe to scikit-learn's expression
    rows = np.ascontiguousarray(X[::stride] if offset is None else X[::stride] - offset,
                                dtype=np.float64)
    weights = np.ascontiguousarray(sample_weight[::stride], dtype=np.float64)
    probe = bounded.BoundedStep(rows, np.ascontiguousarray(squared_norms[::stride]))
    centers = np.array(centers, dtype=np.float64)
    scanned = 1.0
    # BLAS on one thread: the probe's products are small, and OpenBLAS
    # workers left spinning after them slowed the run's first steps by more
    # than the probe itself took
    with blas_threads(1):
        for _ in range(PROBE_ITERATIONS):
            scanned, centers = _probe_step(probe, rows, weights, centers)
    return scanned <= DENSE_SCAN_SHARE


def _probe_step(probe, rows, weights, centers):
    """One step of the probe: the share of pairs it scanned, and the next centres."""
    before = probe.distance_evaluations
    _, sums, cluster_weights = probe(rows, weights, centers)
    # a new array: the step keeps the previous centres to measure shifts;
    # an empty cluster keeps its centre
    filled = cluster_weights > 0
    next_centers = centers.copy()
    next_centers[filled] = (sums[filled] / cluster_weights[filled, None]).astype(centers.dtype)
    return (probe.distance_evaluations - before) / (rows.shape[0] * centers.shape[0]), next_centers


def _dense_operations(dense, n_threads, squared_norms, X=None, mean=None):
    """``(step, assign, inertia)`` of the blas engine inside another engine's fit.

    Each call limits the threads for blas itself (BLAS one thread inside its
    parallel pass), not for the engine whose context the fit holds.  With
    ``mean``, X is the uncentred data (:func:`_in_pass_operations`).
    """
    kernels = dense.load()
    if mean is None:
        operations = (partial(kernels.lloyd_step, squared_norms=squared_norms),
                      partial(kernels.assign_labels, squared_norms=squared_norms),
                      kernels.inertia)
    else:
        operations = _in_pass_operations(kernels, X, mean, squared_norms)
    step_of, assign_of, inertia_of = operations

    def step(X, sample_weight, centers):
        with compute_threads(n_threads, dense):
            return step_of(X, sample_weight, centers)

    def assign(X, centers):
        with compute_threads(n_threads, dense):
            return assign_of(X, centers)

    return step, assign, inertia_of


def _in_pass_operations(kernels, X, mean, squared_norms):
    """``(step, assign, inertia)`` of ``X - mean`` centred inside the pass (``CentredInPass``)."""
    in_pass = kernels.CentredInPass(X, mean, squared_norms)
    return in_pass, in_pass.assign, in_pass.inertia


def _sparse_operations(kernels, X, sample_weight):
    """``(step, assign, inertia)`` of a sparse engine, in the dense path's signatures.

    ``sample_weight`` in X's dtype: KMeans adds the weights of sparse data
    in X's dtype.
    """
    parts = csr_parts(X)
    lloyd_ranges, inertia_ranges = thread_ranges(X.shape[0]), static_ranges(X.shape[0])

    def step(X, _, centers):
        return kernels.sparse_lloyd_step(*parts, sample_weight, centers,
                                         centers_squared_norms(centers), lloyd_ranges)

    def assign(X, centers):
        return kernels.sparse_lloyd_step(*parts, sample_weight, centers,
                                         centers_squared_norms(centers), lloyd_ranges,
                                         update_centers=False)[0]

    def inertia(X, _, centers, labels):
        return kernels.sparse_inertia(*parts, sample_weight, centers,
                                      centers_squared_norms(centers), labels, inertia_ranges)

    return step, assign, inertia


# Beyond these magnitudes squared distances (and scikit-learn's own) leave
# the normal float range: the data is rescaled by a power of two first.
_LARGEST_SAFE, _SMALLEST_SAFE = 2.0**400, 2.0**-400


def _safe_bounds(dtype):
    return (_LARGEST_SAFE, _SMALLEST_SAFE) if dtype == np.float64 else (2.0**50, 2.0**-50)


def _needs_rescaling(squared_norms, dtype):
    """Whether centred rows this large (or this small) may put squared distances out of range.

    All-zero norms are ambiguous (identical rows, or squares that
    underflowed): the data's own magnitude then decides.
    """
    largest = float(squared_norms.max()) if squared_norms.size else 0.0
    high, low = _safe_bounds(dtype)
    return not np.isfinite(largest) or largest > high**2 or largest < low**2


def _power_of_two_scale(*arrays):
    """1.0 for data of ordinary magnitude, else the power of two bringing its largest |value| to ~1.

    Multiplying by a power of two is exact, so the scaled problem has the
    same labels, iterations and (rescaled) centres; scikit-learn itself
    overflows there (1e160: infinite distances, one cluster).  The bounds
    keep squared distances far inside the range of the data's dtype.
    """
    largest = max((max(float(a.max()), -float(a.min())) if a.size else 0.0) for a in arrays)
    high, low = _safe_bounds(np.result_type(*arrays))
    if largest == 0.0 or low <= largest <= high:
        return 1.0
    # capped: a subnormal maximum would need a factor beyond the float range,
    # and 2**1000 already brings it far inside the safe bounds
    return float(np.ldexp(1.0, min(-int(np.frexp(largest)[1]), 1000)))


def _predict_chunk(estimator, chunk, block_info=None):
    """``predict`` of one chunk of a Dask array, its near ties settled where they sit in X."""
    from ._ties import rows_of_larger_x

    (first_row, _), n_total = block_info[0]["array-location"][0], block_info[0]["shape"][0]
    with rows_of_larger_x(first_row, n_total):
        return estimator.predict(chunk)


def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether two labelings are equal up to a permutation of the label values."""
    pairs = np.unique(labels1.astype(np.int64) * n_clusters + labels2)
    return pairs.size == np.unique(labels1).size == np.unique(labels2).size


# --- the estimator ------------------------------------------------------------


class FastKMeans(DocLinkMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin,
                 BaseEstimator):
    """K-means clustering (Lloyd), identical to scikit-learn's and faster.

    Same parameters, attributes and results as
    ``sklearn.cluster.KMeans(algorithm="lloyd")`` for the same data,
    initialisation and ``random_state``; the per-iteration work runs on the
    engine chosen by ``engine``.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random"}, callable or array-like of shape \
(n_clusters, n_features), default="k-means++"
        Initialisation, as in ``KMeans``; k-means++ is scikit-learn's own
        implementation, so the same ``random_state`` gives the same centres.
    n_init : "auto" or int, default="auto"
        Number of initialisations; the run with the lowest inertia is kept.
        ``"auto"``: 1 for k-means++ or an array, 10 for random or a callable.
    max_iter : int, default=300
        Maximum number of Lloyd iterations per run.
    tol : float, default=1e-4
        Convergence tolerance on the squared centre shift, relative to the
        mean feature variance of X.
    verbose : int, default=0
        Print the inertia at every iteration when > 0.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation.
    copy_x : bool, default=True
        Accepted for compatibility with ``KMeans``.  skfast never modifies
        ``X``: the centred working copy is always a copy, and with explicit
        initial centres on float64 data the ``blas`` engine, where it copies
        the rows into float32 anyway, makes none (its pass centres each row
        as it reads it, with the copy's bits).
    algorithm : {"lloyd", "hamerly", "elkan"}, default="lloyd"
        Every choice computes Lloyd's iterations and returns Lloyd's labels,
        centres and ``n_iter_``.  ``"hamerly"`` insists on Hamerly's distance
        bounds (``engine="hamerly"``), which skip most distance computations
        once the centres settle; ``"elkan"`` is accepted for compatibility
        with ``KMeans`` and does the same.  With ``"lloyd"``, ``engine="auto"``
        may still choose the bounds where the shape favours them.
    engine : {"auto", "reference", "numpy", "numba", "jax", "blas", "hamerly"}, default="auto"
        Compute engine.  ``"auto"`` picks the blas engine (one fused float32
        GEMM pass per chunk of rows, near ties settled by scikit-learn's own
        expression) for few clusters (``n_clusters <= 8``) and
        the hamerly engine (bounds, with BLAS or loops for the remaining
        scans) above, unless four steps of the bounds on a subsample of X
        (from the first centres) still scan over 20% of the sample-centre
        pairs, when the run is blas'; numba's sparse pass for sparse X.  See
        :attr:`engine_` for the engine that ran.
    n_threads : int or None, default=None
        Threads for BLAS or numba during fit and predict; None uses every core.
        Results do not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Cluster centres, in the dtype of X.
    labels_ : ndarray of shape (n_samples,), dtype int32
        Label of each training sample.
    inertia_ : float
        Weighted sum of squared distances of samples to their closest centre.
    n_iter_ : int
        Number of iterations of the kept run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when X has string column names.
    n_distance_evaluations_ : int
        Sample-to-centre distances computed by the kept run's Lloyd steps:
        ``n_samples * n_clusters * n_iter_`` for ``"lloyd"``, far fewer for
        ``"hamerly"`` once the centres settle.
    engine_ : str
        The engine that ran.

    See Also
    --------
    sklearn.cluster.KMeans : The estimator this one reproduces.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast import FastKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = FastKMeans(n_clusters=2, random_state=0).fit(X)
    >>> km.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> km.predict([[0, 0], [12, 3]])
    array([1, 0], dtype=int32)
    >>> km.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> km.engine_
    'blas'
    """

    _engine_table = _ENGINES

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions(set(_ALGORITHMS))],
        "engine": [StrOptions(set(_ENGINES.names))],
        "n_threads": N_THREADS_CONSTRAINT,
    }

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="lloyd", engine="auto",
                 n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.engine = engine
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        table = self._engine_table
        tags.input_tags.sparse = self.engine == "auto" or (
            self.engine in table.names and table[self.engine].provides("sparse_lloyd_step"))
        return tags

    # -- validation --------------------------------------------------------

    def _resolve_engine(self, X, fitting=False):
        algorithm = "hamerly" if self.algorithm in ("hamerly", "elkan") else "lloyd"
        if algorithm == "hamerly" and self.n_clusters == 1:
            algorithm = "lloyd"  # as KMeans: bounds have nothing to skip
        if fitting and algorithm != "hamerly" and self.algorithm in ("hamerly", "elkan"):
            warnings.warn(f"algorithm={self.algorithm!r} doesn't make sense for a single "
                          "cluster. Using 'lloyd' instead.", RuntimeWarning, stacklevel=3)
        engine = self._engine_table.resolve(
            self.engine, n_samples=X.shape[0], n_features=X.shape[1],
            n_clusters=self.n_clusters, algorithm=algorithm, sparse=sp.issparse(X))
        if algorithm == "hamerly" and engine.name != "hamerly":
            raise ValueError(
                f"algorithm={self.algorithm!r} runs on engine='hamerly' (or 'auto'), "
                f"not engine={engine.name!r}.")
        return engine, algorithm

    def _check_sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return np.ones(X.shape[0], dtype=X.dtype)
        if np.isscalar(sample_weight):
            sample_weight = np.full(X.shape[0], sample_weight)
        sample_weight = check_array(sample_weight, ensure_2d=False, dtype=X.dtype,
                                    input_name="sample_weight", copy=True)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected "
                             f"({X.shape[0]},).")
        if np.any(sample_weight < 0) or not np.any(sample_weight > 0):
            raise ValueError("sample_weight must be non-negative and its weights not all zero.")
        return sample_weight

    def _init_centroids(self, X, x_squared_norms, init, random_state, sample_weight,
                        init_size=None, n_centroids=None):
        """Initial centres, consuming ``random_state`` exactly as ``KMeans`` does.

        ``KMeans._init_centroids``' signature, so code (and scikit-learn's
        tests) that call it on ``KMeans`` work here; ``init_size`` draws
        that many samples first, as there.
        """
        n_clusters = self.n_clusters if n_centroids is None else n_centroids
        if init_size is not None and init_size < X.shape[0]:
            chosen = random_state.randint(0, X.shape[0], init_size)
            X, x_squared_norms = X[chosen], x_squared_norms[chosen]
            sample_weight = sample_weight[chosen]
        if isinstance(init, str) and init == "k-means++":
            centers, _ = kmeans_plusplus(X, n_clusters, sample_weight=sample_weight,
                                         x_squared_norms=x_squared_norms,
                                         random_state=random_state)
        elif isinstance(init, str) and init == "random":
            seeds = random_state.choice(X.shape[0], size=n_clusters, replace=False,
                                        p=sample_weight / sample_weight.sum())
            centers = X[seeds]
            if sp.issparse(centers):
                centers = centers.toarray()
        elif callable(init):
            centers = check_array(init(X, n_clusters, random_state=random_state),
                                  dtype=X.dtype, order="C", input_name="init")
            self._check_center_shape(X, centers, n_clusters)
        else:
            centers = init
        return np.ascontiguousarray(centers, dtype=X.dtype)

    def _check_center_shape(self, X, centers, n_clusters=None):
        # scikit-learn's wording, which its tests match
        n_clusters = self.n_clusters if n_clusters is None else n_clusters
        if centers.shape[0] != n_clusters:
            raise ValueError(f"The shape of the initial centers {centers.shape} does not match "
                             f"the number of clusters {n_clusters}.")
        if centers.shape[1] != X.shape[1]:
            raise ValueError(f"The shape of the initial centers {centers.shape} does not match "
                             f"the number of features of the data {X.shape[1]}.")

    def _centred(self, X, engine, init, init_is_array, mean):
        """Dense X centred (and, at extreme magnitudes, rescaled by a power of two).

        ``mean``: X's centring mean (:func:`~skfast._centring.centring_mean`).

        Returns ``(X_centred, X_mean, scale, init, tol, squared_norms)``.
        """
        # Centring makes the |c|^2/2 - x.c identity accurate for data far from 0.
        scale = 1.0
        with numba_threads(self.n_threads):
            # an engine that compiles nothing is not made to compile the centring
            compiled = engine.compiled_parallel
            centred = centred_copy(X, compiled, mean)
            if _needs_rescaling(centred[2], X.dtype):
                # Squared distances would overflow (or underflow): scale by a
                # power of two, which is exact, so labels, iterations and
                # centres are those of the same problem at a representable scale.
                scale = _power_of_two_scale(X)
                if scale != 1.0:
                    X = X * X.dtype.type(scale)
                    if init_is_array:
                        init *= X.dtype.type(scale)
                    centred = centred_copy(X, compiled)
        X, X_mean, centred_norms, mean_variance = centred
        if init_is_array:
            init -= X_mean
        # As scikit-learn: tol is relative to the mean feature variance.
        return X, X_mean, scale, init, mean_variance * self.tol, centred_norms

    def _finite_mean(self, X, engine):
        """The centring mean of dense X (None for sparse X), and X checked finite as ``KMeans`` checks it.

        A column of finite values has a finite mean unless its sum
        overflows, and a NaN or an infinity makes the mean non-finite: only
        then does scikit-learn's own check run (its error, or nothing when
        every value is finite after all).  This spares the pass over X that
        ``check_array`` spends on the check (its sum).
        """
        if sp.issparse(X):
            assert_all_finite(X, estimator_name=type(self).__name__, input_name="X")
            return None
        with numba_threads(self.n_threads):
            mean = centring_mean(X, engine.compiled_parallel)
        if not np.isfinite(mean).all():
            assert_all_finite(X, estimator_name=type(self).__name__, input_name="X")
        return mean

    def _centres_in_pass(self, X, engine, probe, init_is_array):
        """Whether the fit can leave X uncopied: the blas pass centres each row as it reads it.

        Only when nothing else reads centred X: the initial centres are
        given (k-means++ and ``"random"`` draw rows of the centred data, a
        callable init is handed it), the engine is blas or auto's probe may
        pick it (the bounds, if it does not, get the copy after all), and the
        blas pass copies the rows anyway (``CentredInPass.serves``).
        """
        blas = self._engine_table["blas"]
        if not (init_is_array and not sp.issparse(X) and (engine.name == blas.name or probe)
                and blas.provides("CentredInPass") and X.shape[0] > CENTRING_BLOCK_ROWS):
            return False
        return blas.load().CentredInPass.serves(X.dtype, X.shape[1], self.n_clusters)

    def _check_sparse_engine(self, engine):
        if not engine.provides("sparse_lloyd_step"):
            accepting = [e.name for e in self._engine_table.engines
                         if e.provides("sparse_lloyd_step")]
            raise TypeError(
                f"engine={engine.name!r} does not accept sparse input; the engines that do: "
                + ", ".join(repr(name) for name in ["auto", *accepting])
                + ". Or pass X.toarray().")

    # -- fit -----------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 stays float32, other dtypes become float64.
            Sparse matrices are converted to CSR and clustered as
            ``KMeans`` clusters them (not centred), with its results bit for
            bit, on the ``reference``, ``numpy``, ``numba`` and ``hamerly``
            engines (``jax``: ``TypeError``).  A ``dask.array`` (float32
            stays float32, on the numba engine) chunked over rows is fitted
            on the Dask workers by the numba or hamerly engine (``auto``: the one its rule picks for the shape,
            numba in place of blas), with that engine's in-memory labels,
            ``n_iter_``, inertia and centres bit for bit from the same
            initial centres; ``init="k-means++"`` (or ``"random"``) then
            runs on 100,000 rows drawn with ``random_state``, as
            ``MiniBatchKMeans`` runs its init; ``labels_`` is a Dask array,
            and of the samples only their squared norms (8 bytes each) and
            the init's rows come to this process (:mod:`skfast.cluster._dask`).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : FastKMeans
            Fitted estimator.
        """
        if _is_dask_array(X):
            from ._dask import fit_dask

            return fit_dask(self, X, sample_weight)
        with sklearn_thread_count():  # read as KMeans reads it, before any limit
            return self._fit(X, sample_weight)

    def _fit(self, X, sample_weight):
        # The centred working copy made below is always a new array (or the
        # blas pass centres each row as it reads it, and no copy is made), so
        # the caller's X never changes (copy_x=False is accepted but cannot opt out).
        # the finite check rides on the mean's pass (_finite_mean), not a pass of its own
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          order="C", accept_large_sparse=False, ensure_all_finite=False)
        engine, algorithm = self._resolve_engine(X, fitting=True)
        X_mean = self._finite_mean(X, engine)
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")
        random_state = check_random_state(self.random_state)
        sample_weight = self._check_sample_weight(sample_weight, X)
        n_init = self._n_init = self._effective_n_init()

        init = self.init
        init_is_array = not isinstance(init, str) and not callable(init)
        if init_is_array:
            init = check_array(init, dtype=X.dtype, copy=True, order="C", input_name="init")
            self._check_center_shape(X, init)

        # auto on dense data with many clusters: the bounds, unless a probe
        # shows that they would skip little (_bounds_pay)
        probe = (self.engine == "auto" and algorithm == "lloyd" and not sp.issparse(X)
                 and engine.provides("BoundedStep"))
        in_pass = self._centres_in_pass(X, engine, probe, init_is_array)
        if sp.issparse(X):
            # As KMeans: sparse data is neither centred nor rescaled.
            self._check_sparse_engine(engine)
            scale, X_mean = 1.0, np.zeros(X.shape[1], dtype=X.dtype)
            tol = sparse_tolerance(X, self.tol)
        elif in_pass:
            # Nothing needs X centred but the blas pass, which centres each
            # row as it reads it: no working copy (CentredInPass).
            with numba_threads(self.n_threads):
                X_mean, centred_norms, mean_variance = centring_without_copy(X, X_mean)
            in_pass = not _needs_rescaling(centred_norms, X.dtype)
            if in_pass:
                scale, tol = 1.0, mean_variance * self.tol
                init -= X_mean
        if not (sp.issparse(X) or in_pass):
            X, X_mean, scale, init, tol, centred_norms = self._centred(X, engine, init,
                                                                      init_is_array, X_mean)
        # Only k-means++ needs the squared norms (computed as KMeans does).
        x_squared_norms = (row_norms(X, squared=True)
                           if isinstance(init, str) and init == "k-means++" else None)
        weights64 = sample_weight.astype(np.float64)

        best = None
        dense = None
        with engine_run(self, engine) as (kernels, _):
            for _ in range(n_init):
                centers = self._init_centroids(X, x_squared_norms, init, random_state,
                                               sample_weight)
                if probe:
                    probe = False
                    if not _bounds_pay(kernels, X, centred_norms, sample_weight, centers,
                                       X_mean if in_pass else None):
                        dense = self._engine_table["blas"]
                    elif in_pass:
                        # the bounds run after all: they read the centred copy
                        in_pass = False
                        with numba_threads(self.n_threads):
                            X = centred_copy(X, engine.compiled_parallel, X_mean)[0]
                if sp.issparse(X):
                    step, assign, inertia_of = _sparse_operations(kernels, X, sample_weight)
                    relocate = relocate_empty_clusters
                elif dense is not None:
                    step, assign, inertia_of = _dense_operations(
                        dense, self.n_threads, centred_norms, X, X_mean if in_pass else None)
                    relocate = partial(_relocate_empty_clusters,
                                       offset=X_mean if in_pass else None)
                elif in_pass:  # the fit's own engine is blas
                    step, assign, inertia_of = _in_pass_operations(kernels, X, X_mean,
                                                                   centred_norms)
                    relocate = partial(_relocate_empty_clusters, offset=X_mean)
                elif engine.provides("BoundedStep"):
                    # carries per-sample distance bounds across iterations
                    step = kernels.BoundedStep(X, centred_norms)
                    assign = lambda X, centers, step=step: step.assign(X, centers).copy()  # noqa: E731
                    inertia_of, relocate = kernels.inertia, _relocate_empty_clusters
                else:
                    step = partial(kernels.lloyd_step, squared_norms=centred_norms)
                    assign = partial(kernels.assign_labels, squared_norms=centred_norms)
                    inertia_of, relocate = kernels.inertia, _relocate_empty_clusters
                if self.verbose:
                    print("Initialization complete")
                labels, inertia, centers, n_iter = _lloyd_single(
                    step, assign, inertia_of, X, weights64, centers, max_iter=self.max_iter,
                    tol=tol, verbose=self.verbose, relocate=relocate)
                # Keep a new run only if it is better *and* a different clustering:
                # the same partition can differ in inertia by round-off alone.
                if best is None or (inertia < best[1] and not _is_same_clustering(
                        labels, best[0], self.n_clusters)):
                    evaluations = getattr(step, "distance_evaluations",
                                          X.shape[0] * self.n_clusters * n_iter)
                    best = (labels, inertia, centers, n_iter, evaluations)
        if dense is not None:
            self.engine_ = dense.name  # the probe chose the dense pass

        labels, inertia, centers, n_iter, evaluations = best
        distinct = np.count_nonzero(np.bincount(labels, minlength=self.n_clusters))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning, stacklevel=2)
        self.cluster_centers_ = (centers + X_mean) / X.dtype.type(scale)
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = labels
        with np.errstate(over="ignore"):  # an inertia beyond the float range is inf
            self.inertia_ = float(np.float64(inertia) / scale / scale)
        self.n_iter_ = n_iter
        self.n_distance_evaluations_ = evaluations
        return self

    def _effective_n_init(self):
        init = self.init
        if self.n_init == "auto":
            return 1 if (isinstance(init, str) and init == "k-means++") or (
                not isinstance(init, str) and not callable(init)) else 10
        if not isinstance(init, str) and not callable(init) and self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={self.n_init}.",
                RuntimeWarning, stacklevel=3)
            return 1
        return self.n_init

    # -- prediction --------------------------------------------------------------

    def _check_test_data(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=False, reset=False)

    def _predict_with_engine(self, X, sample_weight=None):
        """Labels of X (and the weighted inertia when ``sample_weight`` is given)."""
        engine, _ = self._resolve_engine(X)
        kernels = engine.load()
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        if sp.issparse(X):
            self._check_sparse_engine(engine)
            weights = (np.ones(X.shape[0], dtype=X.dtype) if sample_weight is None
                       else sample_weight.astype(X.dtype))
            step, assign, inertia_of = _sparse_operations(kernels, X, weights)
            with compute_threads(self.n_threads, engine):
                labels = assign(X, centers)
                return labels, (None if sample_weight is None
                                else inertia_of(X, None, centers, labels))
        scale = _power_of_two_scale(X, centers)
        if scale != 1.0:
            X, centers = X * X.dtype.type(scale), centers * X.dtype.type(scale)
        with compute_threads(self.n_threads, engine):
            labels = kernels.assign_labels(X, centers)
            if sample_weight is None:
                return labels, None
            inertia = kernels.inertia(X, sample_weight.astype(np.float64), centers, labels)
        with np.errstate(over="ignore"):
            return labels, float(np.float64(inertia) / scale / scale)

    def predict(self, X):
        """Index of the closest cluster centre for each sample in X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int32
            Cluster index of each sample (a Dask array for a Dask array,
            computed chunk by chunk on the workers).
        """
        if _is_dask_array(X):  # chunk by chunk, on the workers: a Dask array of labels
            return X.rechunk({1: -1}).map_blocks(partial(_predict_chunk, self), drop_axis=1,
                                                 dtype=np.int32)
        X = self._check_test_data(X)
        return self._predict_with_engine(X)[0]

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int32
            Cluster index of each sample.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Euclidean distance from each sample to every cluster centre.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
            Distances in the dtype of X (a Dask array for a Dask array).
        """
        if _is_dask_array(X):  # chunk by chunk, on the workers
            return X.rechunk({1: -1}).map_blocks(
                self.transform, chunks=(X.chunks[0], (self.cluster_centers_.shape[0],)),
                dtype=X.dtype if X.dtype == np.float32 else np.float64)
        X = self._check_test_data(X)
        if sp.issparse(X):
            return euclidean_distances(X, self.cluster_centers_)
        scale = _power_of_two_scale(X, self.cluster_centers_)
        if scale == 1.0:
            return euclidean_distances(X, self.cluster_centers_)
        dtype = X.dtype.type
        return euclidean_distances(X * dtype(scale), self.cluster_centers_ * dtype(scale)) / dtype(scale)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of X to the cluster centres.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
            Distances in the dtype of X (a Dask array for a Dask array).
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Minus the (weighted) inertia of X on the fitted centres, as ``KMeans``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        score : float
            ``-inertia``: higher is better.
        """
        X = self._check_test_data(X)
        sample_weight = self._check_sample_weight(sample_weight, X)
        return -self._predict_with_engine(X, sample_weight)[1]
