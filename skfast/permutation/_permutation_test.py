"""``PermutationTest``: per-feature two-group permutation test, streamed in batches."""

from __future__ import annotations

import time
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy.stats import false_discovery_control
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import ClassifierTags, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from .._base import DocLinkMixin
from .._base import is_dask_array as _is_dask_array
from .._centring import centre_columns
from .._engines import (N_JOBS_CONSTRAINT, N_THREADS_CONSTRAINT, Engine, EngineTable, GateSpec,
                        compute_threads, effective_n_threads, engine_run, numba_threads)
from .._crossovers import load_crossovers
from ._contract import PermutationEngine
from ._counting import NUMPY_MAX_ENTRIES, blocked_column_sums
from ._stream import STREAM_BLOCK, PermutationStream, SignFlipStream

__all__ = ["PermutationTest"]

#: Relative tie tolerance: a relabelling counts as at least as extreme as the
#: observed data when its extremeness is within ``TIE_RTOL * max(|t|, scale)``
#: of the observed one (``scale``: the statistic's null standard deviation for
#: the mean difference, 1 for Welch's t).  Engines differ by rounding errors of
#: about 1e-15 relative, so with this margin rounding never decides a tie and
#: the counts, hence the p-values, are identical across engines.
TIE_RTOL = 1e-9

#: Welch's squared standard error is floored at this fraction of its typical
#: null value ``var(x) * (1/n1 + 1/n0)``, so a group without spread gives a
#: large but finite t instead of a division by zero.
SE_FLOOR_REL = 1e-12

#: The statistics each design offers (``statistic``), the default first.
_DESIGN_STATISTICS = {"two_sample": ("mean_diff", "welch_t"),
                      "one_sample": ("mean_diff", "t"), "paired": ("mean_diff", "t")}

#: ``batch_size="auto"`` keeps one batch's working set (relabellings plus the
#: block of statistics and its temporaries) under this many bytes.
BATCH_BYTES = 64 * 2**20

# Measured (2-core AMD EPYC, OpenBLAS, R=10000): numba's loops beat the
# matrix product up to 16 features at n=500 (0.047 s vs 0.058 s at p=16) and
# lose from 64 (0.069 s vs 0.061 s); at n=50 they tie near p=16.  jax on a CPU
# wins only a few small cells, by milliseconds of fixed cost, and loses the
# large ones (benchmarks/results/bench.json, section "permutation").  The GPU threshold (work
# n * p * R in multiply-adds) follows the talk's decision map, where a GPU won
# only for massive R x p; no GPU was available to measure it here.
_NUMBA_MAX_FEATURES = 16
_JAX_GPU_MIN_WORK = 5e11


def _auto_rule(available, *, n_samples, n_features, n_permutations):
    """Pick the engine for ``engine="auto"`` from the shape of the problem.

    numba for thin data (few features), where a matrix product is dominated by
    packing overhead; jax when a GPU is present and the problem is large
    enough to amortise transfers; numpy's BLAS product otherwise.

    "Few features" means ``n_features <= _NUMBA_MAX_FEATURES``, or, after
    :func:`skfast.tune` has run on this machine, ``<=`` the crossover it
    measured (``permutation_numba_max_features``); a corrupt or stale tuning
    file is ignored with a warning.
    """
    if "jax" in available and n_samples * n_features * n_permutations >= _JAX_GPU_MIN_WORK:
        import jax

        if jax.default_backend() != "cpu":
            return "jax"
    tuned = load_crossovers()
    max_features = (_NUMBA_MAX_FEATURES if tuned is None
                    else tuned["permutation_numba_max_features"])
    if "numba" in available and n_features <= max_features:
        return "numba"
    return "numpy"


def null_scale(X, y, statistic):
    """Null standard deviation of the statistic per feature (1 for Welch's t)."""
    X = np.asarray(X, dtype=np.float64)
    if statistic == "welch_t":
        return np.ones(X.shape[1])
    labels = np.asarray(y)
    n_group1 = int(np.sum(labels == np.max(labels)))
    return X.std(axis=0) * np.sqrt(1 / n_group1 + 1 / (len(labels) - n_group1))


def _gate_tolerance(X, y, oracle_fit):
    if oracle_fit.design != "two_sample":
        # Sign flips: the data bound the mean of any flip (twice them, the
        # paired differences); t is scale-free.
        if oracle_fit.statistic == "t":
            return TIE_RTOL, np.full(oracle_fit.n_features_in_, TIE_RTOL)
        return TIE_RTOL, TIE_RTOL * 2 * np.max(np.abs(np.asarray(X, dtype=np.float64)), axis=0)
    return _two_sample_gate_tolerance(X, y, oracle_fit)


def _two_sample_gate_tolerance(X, y, oracle_fit):
    """Statistics agree to ``TIE_RTOL`` of ``|t|`` plus the feature's scale.

    The scale is the null standard deviation of the statistic plus, for the
    mean difference, the column's largest magnitude: a constant column has
    no null spread, and its statistic, exactly 0 in one engine, may be 1e-17
    of the data in another.  The p-values, the gate's exact part, do not
    depend on this: ties are decided with the same margin.
    """
    scale = null_scale(X, y, oracle_fit.statistic)
    if oracle_fit.statistic == "mean_diff":
        scale = scale + np.max(np.abs(np.asarray(X, dtype=np.float64)), axis=0)
    return TIE_RTOL, TIE_RTOL * scale


_ENGINES = EngineTable(
    "PermutationTest",
    (
        Engine("reference", "skfast.permutation._reference",
               description="one permutation at a time (the talk's loop)"),
        Engine("numpy", "skfast.permutation._numpy", compiled_parallel=True,
               blas_between_regions=True,
               description="batched contrast matrix T = W @ X (BLAS), compiled counting"),
        Engine("numba", "skfast.permutation._numba", compiled_parallel=True,
               description="compiled dot-product loops, parallel over relabellings (thin X)"),
        Engine("jax", "skfast.permutation._jax", requires=("jax",), extra="jax",
               description="jit-compiled batched W @ X with fused counting (GPU if present)"),
    ),
    _auto_rule,
    contract=PermutationEngine,
    gate=GateSpec(oracle="reference", exact=("pvalues_", "pvalues_corrected_", "exact_",
                                              "n_permutations_"),
                  close=("statistic_",), rtol=TIE_RTOL, tolerance=_gate_tolerance),
)


class PermutationTest(DocLinkMixin, SelectorMixin, BaseEstimator):
    """Permutation test of every feature (two groups, one sample or pairs), usable as a feature selector.

    ``fit(X, y)`` tests each column of ``X`` for a difference between the two
    classes of ``y`` by relabelling the samples: the null distribution of the
    statistic is built from ``n_permutations`` random relabellings that keep
    the group sizes, streamed in batches so that the ``(n_permutations,
    n_features)`` matrix of null statistics never exists.  When every
    distinct relabelling fits in the budget they are all enumerated and the
    p-value is exact.  ``get_support`` marks the features whose p-value
    (corrected, if ``correction`` is set) is at most ``alpha`` and
    ``transform`` keeps them.

    The one-sample and paired designs test instead whether each feature's
    mean is zero, by flipping the signs of whole rows (a sign-flip test, as
    :func:`mne.stats.permutation_t_test` runs it): ``fit(X)`` for one
    sample, ``fit(X, y, groups=pair_ids)`` for two paired conditions.

    Parameters
    ----------
    n_permutations : int, default=9999
        Number of random relabellings (sign flips).  When the number of
        distinct ones, ``C(n_samples, n_group1)`` (``2**n`` for sign flips
        of ``n`` samples or pairs), is at most this, all of them are
        enumerated instead (``exact_`` is then True).
    design : {"two_sample", "one_sample", "paired"}, default="two_sample"
        ``"two_sample"``: two independent groups, the classes of ``y``;
        relabellings reassign samples to groups.  ``"one_sample"``: H0 is
        a mean of zero per feature; relabellings flip the signs of whole
        rows, and ``y`` is ignored (pass paired differences here to test
        them directly).  ``"paired"``: ``y`` holds two conditions and
        ``groups`` (a ``fit`` argument) the pair of every sample; the test
        is the one-sample test of the within-pair differences, condition
        ``classes_[1]`` minus ``classes_[0]``.  The names follow
        :func:`scipy.stats.ttest_1samp` / :func:`~scipy.stats.ttest_rel`
        and the ``permutation_type`` of :func:`scipy.stats.permutation_test`
        (``"samples"`` for pairs).
    statistic : {"mean_diff", "welch_t", "t"}, default="mean_diff"
        ``"mean_diff"``: mean of class 1 minus mean of class 0; in the
        sign-flip designs, the mean (of the differences, when paired).
        ``"welch_t"`` (two groups): Welch's t, the mean difference over
        ``sqrt(var1/n1 + var0/n0)`` (sample variances).  The squared
        denominator is floored at ``1e-12 * var(x) * (1/n1 + 1/n0)``, so a
        group without spread gives a large finite t, and a constant feature
        gets statistic 0 and p-value 1, without warnings.  ``"t"``
        (sign-flip designs): the one-sample t, ``mean / (sd / sqrt(n))``,
        mne's statistic; ``statistic_`` is infinite for a constant feature
        that is not zero, 0 for a feature of zeros (p-value 1).
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"two-sided"`` compares absolute values of the statistic;
        ``"greater"`` (``"less"``) counts relabellings whose statistic is at
        least (at most) the observed one.
    correction : {None, "maxT", "fdr_bh"}, default=None
        Multiple-testing correction used by the selection and stored in
        ``pvalues_corrected_``.  ``"maxT"``: Westfall-Young single-step
        max-statistic adjustment (family-wise error control under subset
        pivotality), computed in the same pass over the relabellings; it
        compares statistics across features, so with ``"mean_diff"`` the
        features should share a scale (prefer ``"welch_t"``).  ``"fdr_bh"``:
        Benjamini-Hochberg false discovery rate, by
        :func:`scipy.stats.false_discovery_control`.
    alpha : float, default=0.05
        Features with a (corrected) p-value ``<= alpha`` are selected.  With
        random relabellings a p-value is a multiple of
        ``1 / (n_permutations + 1)``, and this rule then has level exactly
        ``alpha`` when ``alpha * (n_permutations + 1)`` is an integer.
    batch_size : int or "auto", default="auto"
        Relabellings processed together.  Peak extra memory grows as
        ``batch_size * (n_samples + n_features)``; ``"auto"`` keeps a batch's
        working set (relabellings, their random draws, statistics and
        temporaries) under 64 MiB, the numpy engine holding statistics for
        2048 features at a time; on tall data (n_samples = 1e6) that is a
        few relabellings per batch, and a batch draws only its own.
        Results do not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the relabellings.  For a fixed seed the p-values are
        bit-identical whatever ``engine``, ``n_jobs`` or ``batch_size``.
    engine : {"auto", "reference", "numpy", "numba", "jax"}, default="auto"
        Compute engine; all give the same p-values.  ``"auto"`` picks numba
        for a handful of features, jax when a GPU is present and the problem
        is large, numpy otherwise.
    n_jobs : int or None, default=None
        Workers running batches concurrently through joblib (threads by
        default; ``joblib.parallel_config(backend="dask")`` sends them to a
        Dask cluster).  None means 1 unless in a joblib context.
    n_threads : int or None, default=None
        Threads used by BLAS or numba, shared among the ``n_jobs`` workers.
        None means every available core.
    verbose : int, default=0
        When positive, print progress over the batches.

    Attributes
    ----------
    statistic_ : ndarray of shape (`n_features_in_`,)
        Observed statistic, class 1 (``classes_[1]``) minus class 0 (the
        mean or t of the data, or of the paired differences, in the
        sign-flip designs).
    pvalues_ : ndarray of shape (`n_features_in_`,)
        Uncorrected p-values: ``(1 + count) / (1 + n_permutations)`` for
        random relabellings, ``count / n_permutations_`` when exact (the
        observed labelling is then among those counted).
    pvalues_corrected_ : ndarray of shape (`n_features_in_`,)
        p-values after ``correction``; only set when ``correction`` is not None.
    n_permutations_ : int
        Number of relabellings used: ``n_permutations``, or the number of
        distinct relabellings when ``exact_``.
    exact_ : bool
        Whether every distinct relabelling was enumerated.
    classes_ : ndarray of shape (2,) or None
        The two classes (conditions when paired), sorted; None for one sample.
    engine_ : str
        The engine that ran.
    batch_size_ : int
        The batch size that ran.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    scipy.stats.permutation_test : One statistic at a time, any statistic.
    sklearn.feature_selection.SelectFdr : Selection from parametric p-values.

    Notes
    -----
    A relabelling counts as at least as extreme as the observed data when its
    extremeness (``|T|``, ``T`` or ``-T``) is at least the observed one minus
    ``1e-9 * max(|t|, s)``, ``s`` being the null standard deviation of the
    mean difference (1 for Welch's t).  Like the ``100 * eps`` relative
    tolerance of :func:`scipy.stats.permutation_test`, this keeps rounding
    errors from deciding ties (discrete data, symmetric designs); the larger
    margin is what makes the counts identical across engines whose rounding
    differs.  Features are centred before testing, which changes no
    statistic but keeps the sums small, and each is scaled by a power of two
    that brings its largest value near 1: exact, so p-values are the same
    for data of any magnitude (1e-300 to 1e300 and beyond) and nothing
    overflows or underflows; ``statistic_`` is reported on the data's scale.
    Exact mode works for any group sizes.

    Random relabellings come in blocks of 256, block ``k`` drawn from child
    ``k`` of one :class:`numpy.random.SeedSequence` seeded from
    ``random_state``, so any worker can produce any batch by itself.  Exact
    mode enumerates the splits in lexicographic order.  All computation is in
    float64 whatever the input dtype.

    For the two-sided alternative with unequal group sizes, the exact p-value
    counts ``|T| >= |t|``; :func:`scipy.stats.permutation_test` instead
    doubles the smaller one-sided p-value.  The two agree for equal groups,
    and always for sign flips, whose null distribution is symmetric.

    Sign flips.  A random flip changes the sign of each sample (pair) with
    probability 1/2, independently, from the same seeded blocks as the
    relabellings; exact mode enumerates all ``2**n`` flips, the observed
    data among them, so an exact p-value is at least ``2**-n``.  The data
    are not centred (H0 is a mean of zero) but scaled by powers of two as
    above.  The one-sample t of flipped data is an increasing function of
    the flipped mean of the column divided by its root mean square, the same
    function for every feature, so counts and max-T maxima are computed (and
    ties decided, with ``s = 1/sqrt(n)``) on that normalised mean: the
    p-values are those of the exact t, also where ``t`` itself is ill
    conditioned (nearly constant flipped values).  ``correction="maxT"``
    with ``statistic="t"`` is :func:`mne.stats.permutation_t_test`'s max-t
    correction; for one-sided alternatives mne compares with the maxima of
    ``|t|`` (conservative), this uses the maxima of ``t`` (or ``-t``).

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.permutation import PermutationTest
    >>> rng = np.random.default_rng(3)
    >>> y = np.repeat([0, 1], 30)
    >>> X = rng.standard_normal((60, 4))
    >>> X[y == 1, 0] += 2.0  # only feature 0 differs between the classes
    >>> test = PermutationTest(n_permutations=999, random_state=0).fit(X, y)
    >>> test.pvalues_.round(3)
    array([0.001, 0.788, 0.597, 0.225])
    >>> test.get_support()
    array([ True, False, False, False])
    >>> test.transform(X).shape
    (60, 1)

    A paired design: each of 20 subjects measured in two conditions.

    >>> subject = np.tile(np.arange(20), 2)
    >>> condition = np.repeat(["rest", "task"], 20)
    >>> X = rng.standard_normal((40, 3)) + rng.standard_normal((20, 3))[subject]
    >>> X[condition == "task", 1] += 1.5  # feature 1 rises in the task
    >>> paired = PermutationTest(999, design="paired", statistic="t", random_state=0)
    >>> paired.fit(X, condition, groups=subject).get_support()
    array([False,  True, False])
    """

    _engine_table = _ENGINES

    _parameter_constraints: dict = {
        "n_permutations": [Interval(Integral, 1, None, closed="left")],
        "design": [StrOptions(set(_DESIGN_STATISTICS))],
        "statistic": [StrOptions({"mean_diff", "welch_t", "t"})],
        "alternative": [StrOptions({"two-sided", "greater", "less"})],
        "correction": [None, StrOptions({"maxT", "fdr_bh"})],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "engine": [StrOptions(set(_ENGINES.names))],
        "n_jobs": N_JOBS_CONSTRAINT,
        "n_threads": N_THREADS_CONSTRAINT,
        "verbose": ["verbose"],
    }

    def __init__(self, n_permutations=9999, *, design="two_sample", statistic="mean_diff",
                 alternative="two-sided", correction=None, alpha=0.05, batch_size="auto",
                 random_state=None, engine="auto", n_jobs=None, n_threads=None, verbose=0):
        self.n_permutations = n_permutations
        self.design = design
        self.statistic = statistic
        self.alternative = alternative
        self.correction = correction
        self.alpha = alpha
        self.batch_size = batch_size
        self.random_state = random_state
        self.engine = engine
        self.n_jobs = n_jobs
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.design != "one_sample":
            tags.target_tags.required = True
            # Not a classifier, but like a binary one it needs exactly two
            # classes in y; this tag is how scikit-learn's checks learn that.
            tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Test every feature of ``X``: two classes of ``y``, or a mean of zero by sign flips.

        Parameters
        ----------
        X : array-like, dask array or memmap of shape (n_samples, n_features)
            Data; never modified.  A ``dask.array`` is tested chunk of
            columns by chunk on the Dask workers (each task with
            ``n_threads`` threads, 1 when None) and never gathered; a
            :class:`numpy.memmap` is tested in tiles of columns in this
            process.  Either gives the in-memory fit's results bit for bit.
        y : array-like of shape (n_samples,), default=None
            ``design="two_sample"``: exactly two classes, each with at least
            two samples.  ``design="paired"``: the two conditions.
            ``design="one_sample"``: ignored.
        groups : array-like of shape (n_samples,), default=None
            ``design="paired"`` only: the pair of each sample; every pair
            holds one sample of each condition.

        Returns
        -------
        self : PermutationTest
            Fitted test.
        """
        design = self._check_design(groups)
        if _is_dask_array(X) or isinstance(X, np.memmap):
            return self._fit_in_tiles(X, y, groups)
        if design == "one_sample":
            X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        else:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                                 ensure_min_samples=2)
        if 8 * X.shape[0] * X.shape[1] > TILE_BYTES:
            # Large X is tested in tiles of columns, as a memmap is (the same
            # bits): the working copies are a tile's, never X's.
            return self._fit_in_tiles(X, y, groups, validated=True)
        layout = self._layout(X.shape[0], y, groups)
        stream, engine, batches = self._plan(layout, X.shape[1])
        n_workers = min(effective_n_jobs(self.n_jobs), len(batches))
        # Threads are shared among the workers so that they never oversubscribe.
        threads_each = max(1, effective_n_threads(self.n_threads) // n_workers)
        tile = _Tile(X, layout, self.statistic, self.alternative, self.n_threads)
        with engine_run(self, engine, n_threads=threads_each) as (kernels, _):
            common = dict(engine=engine, stream=stream, X=tile.X, squares=tile.squares,
                          n_group1=layout.n_group1, threshold=tile.threshold,
                          var_floor=tile.var_floor,
                          statistic=layout.kernel_statistic(self.statistic),
                          alternative=self.alternative, need_max=self.correction == "maxT")
            if n_workers == 1:
                # In this thread, under the limits just set: no joblib round trip.
                results = [_run_batches(batches, **common,
                                        operands=kernels.prepare(tile.X, tile.squares),
                                        progress=self.verbose > 0)]
                tasks = [batches]
            else:
                tasks = [batches[k::4 * n_workers] for k in range(min(len(batches), 4 * n_workers))]
                results = Parallel(n_jobs=self.n_jobs, prefer="threads", verbose=self.verbose)(
                    delayed(_run_batches)(task, **common, n_threads=threads_each)
                    for task in tasks
                )
        counts, maxima = _merge(results, tasks, self.n_permutations_)
        return self._finish(tile.reported, tile.threshold, counts, maxima)

    def _check_design(self, groups):
        """The design, after checking that ``statistic`` and ``groups`` fit it."""
        design = self.design
        if self.statistic not in _DESIGN_STATISTICS[design]:
            raise ValueError(
                f"statistic={self.statistic!r} is not a statistic of design={design!r}; "
                f"use one of {list(_DESIGN_STATISTICS[design])}.")
        if design == "paired" and groups is None:
            raise ValueError("design='paired' needs groups: fit(X, y, groups=pair_ids), y "
                             "holding the two conditions and groups the pair of each sample.")
        if design != "paired" and groups is not None:
            raise ValueError(f"groups is used by design='paired' only; design={design!r} got "
                             f"groups.")
        return design

    def _layout(self, n_samples, y, groups):
        """What the relabellings act on: two groups of samples, or the samples (or pairs) to flip."""
        if self.design == "two_sample":
            group1 = self._encode_groups(y)
            return _Layout(n_samples, group1=group1)
        if self.design == "one_sample":
            self.classes_ = None
            return _Layout(n_samples)
        return _Layout(n_samples, pairs=self._encode_pairs(y, groups, n_samples))

    def _plan(self, layout, n_features):
        """The relabelling stream, the engine and the batches: from the global shape only."""
        n_units = layout.n_units
        if layout.group1 is None:  # sign flips: 2**n of them
            n_splits = 2**n_units if n_units < 63 and 2**n_units <= self.n_permutations else None
        else:
            n_splits = _n_splits_up_to(n_units, layout.n_group1, self.n_permutations)
        self.exact_ = n_splits is not None
        self.n_permutations_ = n_splits if self.exact_ else self.n_permutations
        entropy = check_random_state(self.random_state).randint(0, 2**32, size=4, dtype=np.uint64)
        entropy = [int(e) for e in entropy]
        if layout.group1 is None:
            stream = SignFlipStream(n_units, self.n_permutations_, exact=self.exact_,
                                    entropy=entropy)
        else:
            stream = PermutationStream(layout.group1, self.n_permutations_, exact=self.exact_,
                                       entropy=entropy)
        engine = self._engine_table.resolve(self.engine, n_samples=n_units,
                                            n_features=n_features,
                                            n_permutations=self.n_permutations_)
        self.batch_size_ = self._resolve_batch_size(n_units, n_features,
                                                    engine.load().FEATURE_TILE,
                                                    uniforms_per_row=layout.uniforms_per_row)
        batches = [(start, min(start + self.batch_size_, self.n_permutations_))
                   for start in range(0, self.n_permutations_, self.batch_size_)]
        return stream, engine, batches

    def _fit_in_tiles(self, X, y, groups, validated=False):
        """:meth:`fit` on a Dask array (chunks of columns on the workers), a memmap or a large X (tiles).

        Each block of columns is one task (:func:`_tile_task`); the driver
        gathers per-feature counts and statistics and, for max-T, each
        block's per-relabelling maxima, reduced by an elementwise maximum
        (exact in any order).  X itself never comes to the driver.
        """
        if getattr(X, "ndim", None) != 2:
            raise ValueError(f"Expected a 2D array for X, got an array of shape {X.shape}.")
        if self.design != "one_sample":
            y = column_or_1d(y, warn=True)
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                                 f"[{X.shape[0]}, {y.shape[0]}]")
        if X.shape[0] < 2:
            raise ValueError(f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
                             f"minimum of 2 is required.")
        if not validated:  # validate_data set them for an in-memory X
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        layout = self._layout(X.shape[0], y, groups)
        stream, engine, batches = self._plan(layout, X.shape[1])
        task = dict(layout=layout, statistic=self.statistic, alternative=self.alternative,
                    need_max=self.correction == "maxT", engine=engine, stream=stream,
                    batches=batches)
        if _is_dask_array(X):
            import dask

            if X.numblocks[0] > 1:  # a task needs whole columns
                X = X.rechunk({0: -1})
            # every task reads the same stream and layout: one key each in the graph
            shared = {name: dask.delayed(task[name], pure=True) for name in ("layout", "stream")}
            # a Dask worker runs one task per thread
            n_threads = 1 if self.n_threads is None else self.n_threads
            results = dask.compute(*[
                dask.delayed(_tile_task)(block, **{**task, **shared}, n_threads=n_threads)
                for block in X.to_delayed().ravel()])
        else:
            # a tile's one working copy (centred, float64) is TILE_BYTES
            width = max(1, TILE_BYTES // (8 * X.shape[0]))
            tiles = [X[:, lo:lo + width] for lo in range(0, X.shape[1], width)]
            n_workers = min(effective_n_jobs(self.n_jobs), len(tiles))
            if n_workers == 1:
                results = [_tile_task(tile, **task, n_threads=self.n_threads) for tile in tiles]
            else:  # tiles through joblib, the threads shared among the workers
                threads_each = max(1, effective_n_threads(self.n_threads) // n_workers)
                results = Parallel(n_jobs=self.n_jobs, prefer="threads", verbose=self.verbose)(
                    delayed(_tile_task)(tile, **task, n_threads=threads_each) for tile in tiles)
        reported, threshold, counts = (np.concatenate([r[k] for r in results]) for k in range(3))
        maxima = np.maximum.reduce([r[3] for r in results])
        self.engine_ = engine.name
        return self._finish(reported, threshold, counts, maxima)

    def _finish(self, reported, threshold, counts, maxima):
        """Statistic and p-values from the counts (and maxima) of every feature."""
        self.statistic_ = reported
        self.pvalues_ = self._pvalues(counts)
        if self.correction == "maxT":
            sorted_maxima = np.sort(maxima)
            exceeding = maxima.size - np.searchsorted(sorted_maxima, threshold, side="left")
            self.pvalues_corrected_ = self._pvalues(exceeding)
        elif self.correction == "fdr_bh":
            self.pvalues_corrected_ = false_discovery_control(self.pvalues_, method="bh")
        return self

    def _encode_groups(self, y):
        check_classification_targets(y)
        self.classes_, encoded, class_sizes = np.unique(y, return_inverse=True,
                                                        return_counts=True)
        if self.classes_.size != 2:
            raise ValueError(
                f"PermutationTest compares two groups: y must contain exactly 2 classes, "
                f"got {self.classes_.size} class{'es' if self.classes_.size != 1 else ''} "
                f"({self.classes_.tolist()[:5]})."
            )
        if class_sizes.min() < 2:
            raise ValueError(
                f"Each class needs at least 2 samples; class sizes are "
                f"{dict(zip(self.classes_.tolist(), class_sizes.tolist()))}."
            )
        return (encoded == 1).astype(np.float64)

    def _encode_pairs(self, y, groups, n_samples):
        """``(second, first)`` row indices of each pair, pairs in sorted order of their ids.

        The differences tested are ``X[second] - X[first]``: condition
        ``classes_[1]`` minus condition ``classes_[0]``, as in the two-sample design.
        """
        y = column_or_1d(y, warn=True)
        groups = column_or_1d(groups, warn=True)
        if groups.shape[0] != n_samples:
            raise ValueError(f"groups has {groups.shape[0]} entries for {n_samples} samples.")
        check_classification_targets(y)
        self.classes_, condition = np.unique(y, return_inverse=True)
        if self.classes_.size != 2:
            raise ValueError(
                f"design='paired' compares two conditions: y must contain exactly 2 classes, "
                f"got {self.classes_.size} ({self.classes_.tolist()[:5]}).")
        pair_ids, pair = np.unique(groups, return_inverse=True)
        per_pair = np.zeros((pair_ids.size, 2), dtype=np.int64)
        np.add.at(per_pair, (pair, condition), 1)
        bad = np.flatnonzero((per_pair != 1).any(axis=1))
        if bad.size:
            shown = {pair_ids[k].item(): dict(zip(self.classes_.tolist(), per_pair[k].tolist()))
                     for k in bad[:3]}
            raise ValueError(
                f"design='paired' needs every pair to hold one sample of each condition; "
                f"{bad.size} pair(s) do not, e.g. (pair: samples per condition) {shown}.")
        if pair_ids.size < 2:
            raise ValueError("design='paired' needs at least 2 pairs.")
        rows = np.empty((pair_ids.size, 2), dtype=np.int64)
        rows[pair, condition] = np.arange(n_samples)
        return rows[:, 1].copy(), rows[:, 0].copy()

    def _pvalues(self, counts):
        if self.exact_:
            return counts / self.n_permutations_
        return (1.0 + counts) / (1.0 + self.n_permutations_)

    def _resolve_batch_size(self, n_samples, n_features, feature_tile, uniforms_per_row):
        if self.batch_size != "auto":
            return min(int(self.batch_size), self.n_permutations_)
        # Per relabelling: its row of labels, its uniforms (one per member of
        # the smaller group, or per sample for a sign flip) and the engine's
        # block of statistics with the temporaries derived from it.
        arrays_per_row = 8 if self.statistic == "welch_t" else 3
        held_features = min(n_features, feature_tile or n_features)
        rows = BATCH_BYTES // (8 * (n_samples + uniforms_per_row + arrays_per_row * held_features))
        # Whole stream blocks where a batch holds several, aligned with the
        # stream; tall data gets smaller batches, drawn without the rest of
        # their block.
        rows = rows // STREAM_BLOCK * STREAM_BLOCK if rows >= STREAM_BLOCK else max(1, rows)
        return min(rows, self.n_permutations_)

    def _get_support_mask(self):
        check_is_fitted(self)
        pvalues = self.pvalues_ if self.correction is None else self.pvalues_corrected_
        return pvalues <= self.alpha


#: Bytes of the centred float64 copy of a tile of columns (a memmap's, a
#: large X's): the one working copy a tile holds; the engines' temporaries
#: are a few column tiles of ``_counting.TILE_ELEMENTS`` on top.
TILE_BYTES = 128 * 2**20


#: Rows and columns of the blocks in which the observed sums are added: fixed
#: numbers, so a column's sums never depend on the other columns of its
#: array (a tile, a Dask chunk) or on its width.  A block is at most 8 MiB.
_SUM_ROWS = 256
_SUM_COLUMNS = 4096


def column_sums(A, rows, square=False):
    """Per column, the sum of ``A[rows]`` (of its squares with ``square``), whatever the other columns.

    Each block of :data:`_SUM_ROWS` rows is summed row after row (numpy adds
    the rows of a C-contiguous block one at a time; a single column, which
    numpy would add pairwise, by a cumulative sum, which is sequential), and
    the block totals in order; columns go in fixed tiles.  So a column's sum
    is the same bits in any array holding it.  Beyond small data a compiled
    loop adds the same terms in the same order, a column at a time, which
    reads the feature-major centred copy contiguously (gathering its rows
    into C-contiguous blocks cost four times as much).
    """
    if A.size > NUMPY_MAX_ENTRIES:
        return blocked_column_sums(A, np.ascontiguousarray(rows, dtype=np.bool_), bool(square),
                                   _SUM_ROWS)
    n_samples, n_features = A.shape
    total = np.zeros(n_features)
    for c in range(0, n_features, _SUM_COLUMNS):
        columns = slice(c, c + _SUM_COLUMNS)
        for lo in range(0, n_samples, _SUM_ROWS):
            # a C-contiguous copy, whatever A's layout
            block = np.ascontiguousarray(A[lo:lo + _SUM_ROWS, columns][rows[lo:lo + _SUM_ROWS]])
            if square:  # the block's own squares: no X**2 as large as X
                np.square(block, out=block)
            if block.shape[0]:
                total[columns] += (block.sum(axis=0) if block.shape[1] >= 2
                                   else np.cumsum(block, axis=0)[-1])
    return total


def observed_statistic(X, in_group1, n_group1, var_floor, statistic):
    """The statistic of the observed labelling, column by column (:func:`column_sums`).

    The engines' batched products would add a column's terms in an order
    that may depend on the other columns of the product; the observed
    statistic is reported, so it is computed here, the same bits for a
    column whether the fit holds all of X or one chunk of its columns.
    """
    n_group0 = X.shape[0] - n_group1
    in_group0 = ~in_group1
    S1, S0 = column_sums(X, in_group1), column_sums(X, in_group0)
    mean1, mean0 = S1 / n_group1, S0 / n_group0
    if statistic == "mean_diff":
        return mean1 - mean0
    Q1, Q0 = column_sums(X, in_group1, square=True), column_sums(X, in_group0, square=True)
    var1 = np.maximum(Q1 - S1 * mean1, 0.0) / (n_group1 - 1)
    var0 = np.maximum(Q0 - S0 * mean0, 0.0) / (n_group0 - 1)
    return (mean1 - mean0) / np.sqrt(np.maximum(var1 / n_group1 + var0 / n_group0, var_floor))


def extremeness(stat, alternative):
    """``|T|``, ``T`` or ``-T``: what a relabelling must reach to count, by alternative."""
    if alternative == "two-sided":
        return np.abs(stat)
    return stat if alternative == "greater" else -stat


class _Layout:
    """What a fit's relabellings act on, from ``y`` (and ``groups``) only.

    Two groups (``group1``: 1.0 for the samples of class 1), or sign flips
    of the samples (one-sample design) or of the differences within pairs
    (``pairs``: the rows of each pair's two conditions).  ``n_units``: the
    samples (or pairs) a relabelling acts on.
    """

    def __init__(self, n_samples, group1=None, pairs=None):
        self.group1, self.pairs = group1, pairs
        self.n_units = n_samples if pairs is None else pairs[0].size
        self.n_group1 = 0 if group1 is None else int(group1.sum())
        self.flips = group1 is None
        self.uniforms_per_row = (self.n_units if self.flips
                                 else min(self.n_group1, self.n_units - self.n_group1))

    def kernel_statistic(self, statistic):
        """The statistic the engines compute: a sign flip's mean for both sign-flip statistics."""
        return "flip_mean" if self.flips else statistic

    def units(self, X):
        """The rows a relabelling acts on: ``X`` itself, or the paired differences (float64)."""
        if self.pairs is None:
            return X
        second, first = self.pairs
        return np.subtract(X[second], X[first], dtype=np.float64)


class _Tile:
    """One block of columns made ready for the engines, with its observed statistic.

    Everything here is per column, so a tile of X gives its columns' values
    bit for bit as the whole of X does.  ``X``, the fit's one working copy
    (scaled and centred, float64), is the engines' operand (``squares``:
    whether Welch's t needs its squares, which the engines make a tile of
    columns at a time), ``threshold`` what a relabelling's extremeness must
    reach to count, ``reported`` the observed statistic on the data's scale.
    """

    def __init__(self, X, layout, statistic, alternative, n_threads):
        X = layout.units(X)
        if layout.flips:
            self._sign_flips(X, statistic, n_threads)
        else:
            self._two_groups(X, layout.group1, layout.n_group1, statistic, n_threads)
        self.threshold = (extremeness(self.observed, alternative)
                          - TIE_RTOL * np.maximum(np.abs(self.observed), self.null_scale))

    def _two_groups(self, X, group1, n_group1, statistic, n_threads):
        """Scaled, centred float64 copy, its squares, Welch's floor, tie scale."""
        n_samples = X.shape[0]
        with numba_threads(n_threads):
            X_centred, constant, squares, column_scales = centre_columns(X)
        # Exact zeros make every statistic of a constant feature exactly 0 in
        # every engine; a rounded mean would leave dust that engines round differently.
        if constant.any():
            X_centred[:, constant] = 0.0
        group_factor = 1.0 / n_group1 + 1.0 / (n_samples - n_group1)
        null_var = squares / n_samples * group_factor
        # A constant feature's statistics are all exactly 0 whatever the floor.
        self.var_floor = np.where(constant, 1.0, SE_FLOOR_REL * null_var)
        self.X = X_centred
        if statistic == "welch_t":
            self.null_scale = np.ones_like(null_var)
        else:
            self.null_scale = np.where(constant, 1.0, np.sqrt(null_var))
        self.squares = statistic == "welch_t"
        self.observed = observed_statistic(self.X, group1 != 0, n_group1,
                                           self.var_floor, statistic)
        # The columns were scaled by powers of two (exactly): the mean
        # difference is reported on the data's own scale, Welch's t is scale-free.
        self.reported = (self.observed / column_scales if statistic == "mean_diff"
                         else self.observed)

    def _sign_flips(self, X, statistic, n_threads):
        """Scaled copy (not centred: the null is a mean of zero) and, for ``t``, normalised.

        The one-sample t of flipped data is ``sqrt(n - 1) * rho / sqrt(1 - rho**2)``,
        ``rho`` the mean of the flipped column over its root mean square: an
        increasing function of ``rho``, the same for every feature.  So ``|t|
        >= |t_obs|``, and the max-T comparisons, hold exactly when they hold
        for ``rho``: the engines count the mean of the normalised columns,
        which is as well conditioned as any mean, where ``t`` itself is not
        (its variance cancels when the flipped values are nearly equal).
        """
        n_samples = X.shape[0]
        with numba_threads(n_threads):
            X_scaled, _, squares, column_scales = centre_columns(X, centre=False)
        zero = squares == 0  # all statistics exactly 0: p-value 1
        everyone = np.ones(n_samples, dtype=bool)
        mean = column_sums(X_scaled, everyone) / n_samples
        self.var_floor = np.ones(X.shape[1])  # unused by the sign flips' mean
        self.squares = False
        if statistic == "t":
            self.reported = _one_sample_t(X_scaled, mean)
            rms = np.sqrt(squares / n_samples)
            self.X = np.divide(X_scaled, np.where(zero, 1.0, rms), out=X_scaled)
            self.observed = column_sums(self.X, everyone) / n_samples
            self.null_scale = np.full(X.shape[1], 1.0 / np.sqrt(n_samples))
        else:
            self.X, self.observed = X_scaled, mean
            self.reported = mean / column_scales
            self.null_scale = np.where(zero, 1.0, np.sqrt(squares) / n_samples)


def _one_sample_t(X, mean):
    """``mean / (sd / sqrt(n))`` per column, the sd from the deviations (two passes).

    Infinite where the column is constant and not zero, 0 for a column of zeros.
    """
    n_samples = X.shape[0]
    everyone = np.ones(n_samples, dtype=bool)
    deviations = np.empty(X.shape[1])
    for lo in range(0, X.shape[1], _SUM_COLUMNS):  # no temporary as large as X
        columns = slice(lo, lo + _SUM_COLUMNS)
        deviations[columns] = column_sums(np.square(X[:, columns] - mean[columns]), everyone)
    standard_error = np.sqrt(deviations / (n_samples - 1) / n_samples)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / standard_error
    return np.where(mean == 0, 0.0, t)


def _tile_task(X, *, layout, statistic, alternative, need_max, engine, stream, batches,
               n_threads):
    """One block of columns tested from start to end: what the driver gathers from it.

    Runs wherever it is sent (a Dask worker, or this process for a memmap):
    the block is checked, prepared and counted by the engine's own kernels,
    the relabellings rebuilt from ``stream`` (a seed and the labels), so no
    relabelling matrix travels.  Returns ``(reported, threshold, counts,
    maxima)``, O(columns + relabellings).
    """
    X = check_array(np.asarray(X), dtype=[np.float64, np.float32], input_name="X")
    tile = _Tile(X, layout, statistic, alternative, n_threads)
    with compute_threads(n_threads, engine):
        counts, maxima = _run_batches(batches, engine=engine, stream=stream, X=tile.X,
                                      squares=tile.squares, n_group1=layout.n_group1,
                                      threshold=tile.threshold, var_floor=tile.var_floor,
                                      statistic=layout.kernel_statistic(statistic),
                                      alternative=alternative, need_max=need_max)
    return tile.reported, tile.threshold, counts, maxima


def _n_splits_up_to(n_samples, n_group1, limit):
    """``C(n_samples, n_group1)`` if it is at most ``limit``, else None.

    Built up one factor at a time, ``C(m, j) = C(m - 1, j - 1) * m / j``, and
    abandoned as soon as it passes ``limit``: C(10**6, 5 * 10**5) has 300,000
    digits, and computing it only to compare it with 9,999 took seconds.
    """
    k = min(n_group1, n_samples - n_group1)
    count = 1
    for j in range(1, k + 1):
        # C(n - k + j, j), exact in integers at every step
        count = count * (n_samples - k + j) // j
        if count > limit:
            return None
    return count


def _run_batches(batches, *, engine, stream, X, squares, n_group1, threshold, var_floor, statistic,
                 alternative, need_max, operands=None, n_threads=None, progress=False):
    """One worker's share: the counts and maxima of ``batches``, in order.

    Runs wherever joblib puts it (a thread, a process, a Dask worker), so it
    loads the kernels and sets its own thread limits; in ``fit``'s own thread
    (``operands`` given) it reuses what ``fit`` prepared and set.
    """
    kernels = engine.load()
    counts = np.zeros(X.shape[1], dtype=np.int64)
    maxima = []
    started = time.perf_counter()
    with nullcontext() if n_threads is None else compute_threads(n_threads, engine):
        if operands is None:
            operands = kernels.prepare(X, squares)
        for done, (start, stop) in enumerate(batches, start=1):
            batch_counts, batch_maxima = kernels.batch_counts(
                operands, stream.rows(start, stop), n_group1, threshold, var_floor, statistic,
                alternative, need_max)
            counts += batch_counts
            maxima.append(batch_maxima)
            if progress and (done % max(1, len(batches) // 10) == 0 or done == len(batches)):
                print(f"[PermutationTest] batch {done}/{len(batches)}: {stop} of "
                      f"{stream.n_permutations} relabellings, "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
    return counts, np.concatenate(maxima)


def _merge(results, tasks, n_permutations):
    """Total counts, and the maxima put back in stream order."""
    counts = sum(task_counts for task_counts, _ in results)
    maxima = np.empty(n_permutations if results[0][1].size else 0)
    if maxima.size:
        for task, (_, task_maxima) in zip(tasks, results):
            offset = 0
            for start, stop in task:
                maxima[start:stop] = task_maxima[offset:offset + stop - start]
                offset += stop - start
    return counts, maxima
