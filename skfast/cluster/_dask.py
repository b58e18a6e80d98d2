"""FastKMeans on a Dask array chunked over rows: the numba or hamerly engine on the workers.

The in-memory numba engine cuts the samples into fixed blocks (their size a
function of the shape only, :func:`skfast.cluster._numba.block_count`), sums
each block into its own partial cluster sums and adds the partials in block
order.  Here the rows are rechunked so that every chunk holds whole blocks;
each chunk runs the same compiled block kernel on its worker and returns its
blocks' partials (``blocks x clusters x features``, never a sample), which
the driver adds in the same block order.  Everything else a fit computes
from all samples is reproduced in the order the in-memory fit uses:

- the centring mean: numpy's row-after-row sum, continued from chunk to
  chunk (a chain of small tasks, each adding its rows to the running sum);
- the tolerance: the mean variance, from the rows' squared norms, which
  come to the driver (8 bytes a sample, once) for numpy's pairwise sum;
- the inertia: each sample's term, added in the in-memory fit's blocks;
- empty clusters: the distances come to the driver only when a cluster is
  empty, for the same ``argpartition``.

The hamerly engine's bounds and kept block sums stay with their chunk; its
chunks hold whole blocks of the kept sums, and the cluster sums are the
blocks added in block order by a chain of small tasks (only ``clusters x
features`` numbers travel per chunk).  The inertia is each sample's
weighted squared distance (8 bytes a sample, once) added in the numba
engine's blocks, as both engines' ``inertia`` adds them.

Float32 data stays float32: ``KMeans`` adds float32 samples in float32,
in the ranges of its threads (``_sklearn_order``), so the chunks return
their labels and one chain of small tasks in row order adds each chunk's
rows to the ranges' running sums (:func:`_add_to_ranges`).

So labels, ``n_iter_``, inertia and centres are those of
``FastKMeans(engine="numba")`` (or ``"hamerly"``) on the computed array,
bit for bit, whatever the chunks.  Labels stay on the workers:
``labels_`` is a Dask array.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._hamerly import BoundedStep, cache_block_count
from ._numba import (_NO_WEIGHTS, _lloyd_block, _prepared, accumulate_block, block_count,
                     settle_near_ties)
from ._sklearn_order import center_shift, reduce_blocks, thread_ranges
from ._ties import rows_of_larger_x

__all__ = ["fit_dask"]


@numba.njit(cache=True, parallel=True)
def _pass_blocks(X, sample_weight, centers, centers_t, half_norms, margin, block):
    """The numba engine's fused pass over X in blocks of ``block`` rows; partials not reduced."""
    n_samples, n_features = X.shape
    n_clusters = centers_t.shape[1]
    n_blocks = max(1, -(-n_samples // block))
    labels = np.empty(n_samples, dtype=np.int32)
    unsure = np.empty(n_samples, dtype=np.bool_)
    partial_sums = np.empty((n_blocks, n_clusters, n_features))  # one parallel region (skfast._compile)
    partial_weights = np.empty((n_blocks, n_clusters))
    for b in numba.prange(n_blocks):
        partial_sums[b] = 0.0
        partial_weights[b] = 0.0
        _lloyd_block(X, sample_weight, centers, centers_t, half_norms, margin, b * block,
                     min((b + 1) * block, n_samples), labels, unsure, partial_sums[b],
                     partial_weights[b])
    return labels, unsure, partial_sums, partial_weights


@numba.njit(cache=True, parallel=True)
def _accumulate_blocks(X, sample_weight, labels, n_clusters, block):
    n_samples, n_features = X.shape
    n_blocks = max(1, -(-n_samples // block))
    partial_sums = np.empty((n_blocks, n_clusters, n_features))  # one parallel region (skfast._compile)
    partial_weights = np.empty((n_blocks, n_clusters))
    for b in numba.prange(n_blocks):
        partial_sums[b] = 0.0
        partial_weights[b] = 0.0
        accumulate_block(X, sample_weight, labels, b * block, min((b + 1) * block, n_samples),
                         partial_sums[b], partial_weights[b])
    return partial_sums, partial_weights


@numba.njit(cache=True, parallel=True)
def _row_inertia(X, sample_weight, centers, labels):
    """Each sample's weighted squared distance to its centre, as ``inertia_block`` adds it."""
    out = np.empty(X.shape[0])
    for i in numba.prange(X.shape[0]):
        dist = 0.0
        for j in range(X.shape[1]):
            diff = np.float64(X[i, j]) - centers[labels[i], j]
            dist += diff * diff
        out[i] = sample_weight[i] * dist
    return out


@numba.njit(cache=True, nogil=True)
def _block_totals(contributions, block, n_blocks):
    """``inertia_block``'s sums: each block's contributions in row order, from 0."""
    partial = np.zeros(n_blocks)
    for b in range(n_blocks):
        acc = 0.0
        for i in range(b * block, min((b + 1) * block, contributions.shape[0])):
            acc += contributions[i]
        partial[b] = acc
    return partial


@numba.njit(cache=True, nogil=True)
def _continue_blocks(sums, weights, block_sums, block_weights):
    """``sums`` and ``weights`` plus the blocks, in block order (the chain of kept sums)."""
    sums, weights = sums.copy(), weights.copy()
    for b in range(block_sums.shape[0]):
        for k in range(block_sums.shape[1]):
            weights[k] += block_weights[b, k]
            for j in range(block_sums.shape[2]):
                sums[k, j] += block_sums[b, k, j]
    return sums, weights


@numba.njit(cache=True, nogil=True)
def _add_rows(X, running):
    """``running`` plus the rows of X one after the other, in X's dtype (numpy's mean order)."""
    total = running.copy()
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            total[j] += X[i, j]
    return total


@numba.njit(cache=True, nogil=True)
def _add_to_ranges(X, sample_weight, labels, first_row, bounds, sums, weights):
    """Float32 data: the chunk's rows added, in order, to the sums of scikit-learn's ranges.

    Row ``i`` of the chunk is row ``first_row + i`` of X and belongs to the
    range ``bounds`` puts it in; visited chunk after chunk, every range adds
    its rows in row order, in X's dtype, as ``accumulate_ranges`` does.
    """
    part = 0
    for i in range(X.shape[0]):
        while first_row + i >= bounds[part + 1]:
            part += 1
        k = labels[i]
        weight = sample_weight[i]
        weights[part, k] += weight
        for j in range(X.shape[1]):
            sums[part, k, j] += X[i, j] * weight
    return sums, weights


# --- the tasks a worker runs on its chunk ----------------------------------------------


def _checked(chunk, dtype):
    # the in-memory fit's validation, chunk by chunk, on the worker
    return check_array(np.asarray(chunk), dtype=dtype, order="C", input_name="X")


def _running_sum(chunk, running):
    return _add_rows(_checked(chunk, running.dtype), running)


def _centred_chunk(chunk, mean):
    """``chunk - mean`` (X's dtype) and each row's float64 squared norm, feature by feature."""
    centred = np.ascontiguousarray(_checked(chunk, mean.dtype) - mean)
    if centred.shape[1] == 0:
        return centred, np.zeros(centred.shape[0])
    return centred, np.cumsum(np.square(centred, dtype=np.float64), axis=1)[:, -1]


def _step(centred, weights, centers, prepared, block, span):
    """One Lloyd assignment and the chunk's per-block partial sums (near-ties settled)."""
    labels, unsure, partial_sums, partial_weights = _pass_blocks(centred, weights, *prepared,
                                                                 block)
    with rows_of_larger_x(*span):
        changed = settle_near_ties(centred, centers, labels, unsure)
    if changed:
        partial_sums, partial_weights = _accumulate_blocks(centred, weights, labels,
                                                           centers.shape[0], block)
    return labels, (partial_sums, partial_weights)


def _bounds(centred, squared_norms, block):
    return BoundedStep(centred, squared_norms, block=block)


def _bounded_step(bounds, centred, weights, centers, span):
    """Hamerly's step on the chunk: new bounds, labels, and the chunk's kept block sums."""
    bounds = bounds.copy()  # a task never changes its inputs
    with rows_of_larger_x(*span):
        labels, _, _ = bounds(centred, weights, centers)
    # a list: a tuple led by a callable (the bounds) would read as a Dask task
    return [bounds, labels, (bounds._block_sums, bounds._block_weights)]


def _chain(running, parts):
    return _continue_blocks(*running, *parts)


def _range_chain(running, centred, weights, labels, first_row, bounds):
    sums, cluster_weights = running
    return _add_to_ranges(centred, weights.astype(centred.dtype), labels, first_row, bounds,
                          sums.copy(), cluster_weights.copy())


def _assign(centred, centers, prepared, block, span):
    labels, unsure, _, _ = _pass_blocks(centred, _NO_WEIGHTS, *prepared, block)
    with rows_of_larger_x(*span):
        settle_near_ties(centred, centers, labels, unsure)
    return labels


def _distances(centred, centers_old, labels):
    # as _relocate_empty_clusters computes them, in X's dtype
    return ((centred - centers_old[labels]) ** 2).sum(axis=1)


def _rows(centred, local):
    return centred[local]


# --- the driver ----------------------------------------------------------------------


class _Chunks:
    """The centred chunks (and their weights) held on the workers, with their offsets.

    ``dtype``: X's (float32 or float64); float32 data also carries
    scikit-learn's thread ranges, the order in which ``KMeans`` adds it.
    """

    def __init__(self, centred, weights, offsets, dtype):
        self.centred, self.weights, self.offsets = centred, weights, offsets
        self.dtype = np.dtype(dtype)
        self.ranges = thread_ranges(int(offsets[-1])) if self.dtype == np.float32 else None

    def empty_like_x(self, n_features):
        """A 0-row array of X's dtype: what sets the near-tie margin of ``_prepared``."""
        return np.empty((0, n_features), dtype=self.dtype)

    def range_sums(self, labels, n_clusters, n_features):
        """Float32 data: the cluster sums as ``KMeans`` adds them (``accumulate_ranges``).

        A chain of small tasks in row order: each adds its chunk's rows to
        the running sums of the ranges, so only ``ranges x clusters x
        features`` numbers travel per chunk.
        """
        import dask

        n_parts = self.ranges.size - 1
        running = (np.zeros((n_parts, n_clusters, n_features), dtype=self.dtype),
                   np.zeros((n_parts, n_clusters), dtype=self.dtype))
        for c, w, l, (first_row, _) in zip(self.centred, self.weights, labels, self.spans()):
            running = dask.delayed(_range_chain, nout=2)(running, c, w, l, first_row,
                                                          self.ranges)
        return reduce_blocks(*dask.compute(running)[0])

    def spans(self):
        """``(first row, rows in all)`` of each chunk: where its near ties sit in X (``_ties``)."""
        return [(int(a), int(self.offsets[-1])) for a in self.offsets[:-1]]

    def locate(self, rows):
        """``(chunk, local row)`` of global rows."""
        chunk = np.searchsorted(self.offsets, rows, side="right") - 1
        return chunk, rows - self.offsets[chunk]


class _LloydOnChunks:
    """The numba engine's step: each chunk's per-block partials, added here in block order."""

    def __init__(self, state, block, max_squared_norm, n_features):
        self.state, self.block = state, block
        self.max_squared_norm, self.n_features = max_squared_norm, n_features

    def __call__(self, centers):
        import dask

        prepared = _prepared(self.state.empty_like_x(self.n_features), centers,
                             self.max_squared_norm)
        if self.state.ranges is not None:  # float32: labels, then KMeans' order of sums
            labels = list(dask.persist(*[
                dask.delayed(_assign)(c, centers, prepared, self.block, span)
                for c, span in zip(self.state.centred, self.state.spans())]))
            return labels, *self.state.range_sums(labels, *centers.shape)
        steps = dask.persist(*[dask.delayed(_step, nout=2)(c, w, centers, prepared, self.block,
                                                           span)
                               for c, w, span in zip(self.state.centred, self.state.weights,
                                                     self.state.spans())])
        partials = dask.compute(*[s[1] for s in steps])
        sums, weights = reduce_blocks(np.concatenate([p[0] for p in partials]),
                                      np.concatenate([p[1] for p in partials]))
        return [s[0] for s in steps], sums, weights

    def evaluations(self, full):
        return full


class _BoundsOnChunks:
    """The hamerly engine's step: bounds and kept block sums live with their chunk.

    The cluster sums are the kept block sums added in block order, as the
    in-memory engine adds them: a chain of small tasks, each adding its
    chunk's blocks to the running sums, so only ``clusters x features``
    numbers travel per chunk.
    """

    def __init__(self, state, chunk_norms, block, n_clusters, n_features):
        import dask

        self.state, self.shape = state, (n_clusters, n_features)
        self.bounds = list(dask.persist(*[dask.delayed(_bounds)(c, q, block)
                                          for c, q in zip(state.centred, chunk_norms)]))

    def __call__(self, centers):
        import dask

        steps = [dask.delayed(_bounded_step, nout=3)(b, c, w, centers, span)
                 for b, c, w, span in zip(self.bounds, self.state.centred, self.state.weights,
                                          self.state.spans())]
        if self.state.ranges is not None:  # float32: KMeans' order of sums, from the labels
            steps = dask.persist(*steps)
            self.bounds = [s[0] for s in steps]
            labels = [s[1] for s in steps]
            return labels, *self.state.range_sums(labels, *self.shape)
        running = (np.zeros(self.shape), np.zeros(self.shape[0]))
        for s in steps:
            running = dask.delayed(_chain, nout=2)(running, s[2])
        steps, running = dask.persist(steps, running)
        self.bounds = [s[0] for s in steps]
        sums, weights = dask.compute(running)[0]
        return [s[1] for s in steps], sums, weights

    def evaluations(self, full):
        import dask

        return int(sum(dask.compute(*[dask.delayed(lambda b: b.distance_evaluations)(b)
                                      for b in self.bounds])))


def _dask_engine(estimator, X):
    """The engine a Dask fit runs: numba or hamerly, as named or as ``auto`` picks."""
    algorithm = estimator.algorithm
    if X.dtype == np.float32:
        # hamerly's bounded step on float32 chunks moved last-bit labels where
        # a chunk cuts X (tests/test_scale_out.py, kmeans_rounding_ties): not
        # offered until that is fixed
        if estimator.engine in ("auto", "numba") and algorithm not in ("elkan", "hamerly"):
            return "numba"
        raise ValueError(
            f"On a float32 Dask array FastKMeans runs engine='numba' (algorithm='lloyd') or "
            f"'auto' (which runs numba); got engine={estimator.engine!r}, "
            f"algorithm={algorithm!r}. Use X.astype('float64') for the hamerly engine.")
    if estimator.engine == "auto":
        engine, _ = estimator._resolve_engine(X)
        return "hamerly" if engine.name == "hamerly" else "numba"
    if estimator.engine == "hamerly" or (estimator.engine == "numba"
                                          and algorithm not in ("elkan", "hamerly")):
        return estimator.engine
    raise ValueError(
        f"On a Dask array FastKMeans runs engine='numba' (algorithm='lloyd'), 'hamerly' or "
        f"'auto'; got engine={estimator.engine!r}, algorithm={algorithm!r}.")


def _rechunked(X, block):
    """X with whole columns and chunks of whole blocks, near the chunks it came with."""
    per_chunk = max(1, int(round(max(X.chunks[0]) / block)))
    return X.rechunk({0: per_chunk * block, 1: -1})


def _mean(X, chunks):
    """numpy's ``X.mean(axis=0)`` in X's dtype, bit for bit, without gathering X."""
    import dask

    if X.shape[1] < 2:  # numpy sums a single column pairwise
        return np.asarray(X.compute(), dtype=X.dtype).mean(axis=0)
    running = np.zeros(X.shape[1], dtype=X.dtype)
    for chunk in chunks:  # a chain: each task adds its rows to the running sum
        running = dask.delayed(_running_sum)(chunk, running)
    return dask.compute(running)[0] / X.dtype.type(X.shape[0])


def _relocate(state, sample_weight, centers_old, sums, weights, labels):
    """:func:`~skfast.cluster._kmeans._relocate_empty_clusters` with the rows on the workers."""
    import dask

    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return
    distances = np.concatenate(dask.compute(*[
        dask.delayed(_distances)(c, centers_old, l) for c, l in zip(state.centred, labels)]))
    farthest = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
    if np.max(distances) == 0:
        return
    chunk, local = state.locate(farthest)
    points = dask.compute(*[dask.delayed(_rows)(state.centred[c], [r]) for c, r in
                            zip(chunk, local)])
    far_labels = dask.compute(*[dask.delayed(_rows)(labels[c], [r]) for c, r in
                                zip(chunk, local)])
    for new_cluster, far, point, old in zip(empty, farthest, points, far_labels):
        # in the sums' dtype (X's), as _relocate_empty_clusters takes it
        weight = sums.dtype.type(1.0 if sample_weight is None else sample_weight[far])
        old_cluster = old[0]
        point = point[0] * weight
        sums[old_cluster] -= point
        sums[new_cluster] = point
        weights[new_cluster] = weight
        weights[old_cluster] -= weight


#: Rows of a Dask array drawn (with ``random_state``) for ``init="k-means++"``
#: or ``"random"``: the init runs on them, in this process, as scikit-learn's
#: ``MiniBatchKMeans`` runs its init on ``init_size`` rows.
DASK_INIT_SIZE = 100_000


def _initial_centers(estimator, X, mean, sample_weight, init, random_state):
    """``init`` drawn on ``DASK_INIT_SIZE`` random rows, centred as the chunks are."""
    from sklearn.utils.extmath import row_norms

    chosen = random_state.randint(0, X.shape[0], min(X.shape[0], DASK_INIT_SIZE))
    rows = np.asarray(X[chosen].compute(), dtype=X.dtype) - mean
    weights = (np.ones(chosen.size) if sample_weight is None else sample_weight[chosen])
    return estimator._init_centroids(rows, row_norms(rows, squared=True), init, random_state,
                                     weights)


def _lloyd_run(step, state, centers, sample_weight, tol, max_squared_norm, max_iter, block,
               n_blocks):
    """One Lloyd run on the chunks, as ``_kmeans._lloyd_single``: labels, inertia, centres, n_iter."""
    import dask

    from ._kmeans import _cluster_means

    n_features = centers.shape[1]
    labels_old, strict = None, False
    for i in range(max_iter):
        labels, sums, cluster_weights = step(centers)
        _relocate(state, sample_weight, centers, sums, cluster_weights, labels)
        centers_new = _cluster_means(sums, cluster_weights, state.dtype)
        shift = center_shift(centers_new, centers)
        centers = centers_new
        if labels_old is not None and all(dask.compute(*[
                dask.delayed(np.array_equal)(a, b) for a, b in zip(labels, labels_old)])):
            strict = True
            break
        if (shift**2).sum() <= tol:
            break
        labels_old = labels
    if not strict:  # Lloyd's labels for the last centres: the same from any engine
        prepared = _prepared(state.empty_like_x(n_features), centers, max_squared_norm)
        labels = dask.persist(*[dask.delayed(_assign)(c, centers, prepared, block, span)
                                for c, span in zip(state.centred, state.spans())])
    centers64 = np.asarray(centers, dtype=np.float64)
    # each sample's weighted squared distance, added in the numba engine's blocks
    contributions = np.concatenate(dask.compute(*[
        dask.delayed(_row_inertia)(c, w, centers64, l)
        for c, w, l in zip(state.centred, state.weights, labels)]))
    return labels, float(np.sum(_block_totals(contributions, block, n_blocks))), centers, i + 1


def fit_dask(estimator, X, sample_weight):
    """Fit ``estimator`` (a FastKMeans) on the Dask array ``X``; returns the estimator."""
    import dask
    import dask.array as da

    from ._kmeans import _needs_rescaling

    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array for X, got an array of shape {X.shape}.")
    # float32 stays float32 (KMeans' float32 fit), anything else becomes float64
    dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
    engine = _dask_engine(estimator, X)
    init = estimator.init
    n_samples, n_features = X.shape
    k = estimator.n_clusters
    if n_samples < k:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
    init_is_array = not isinstance(init, str) and not callable(init)
    if init_is_array:
        init = check_array(init, dtype=dtype, copy=True, order="C", input_name="init")
        estimator._check_center_shape(X, init)
    n_init = estimator._effective_n_init()  # warns for an explicit n_init with given centres
    random_state = check_random_state(estimator.random_state)
    if sample_weight is not None:
        sample_weight = estimator._check_sample_weight(sample_weight, X).astype(np.float64)

    n_blocks = block_count(n_samples, n_features, k)
    block = -(-n_samples // n_blocks)
    if engine == "hamerly":  # chunks of the kept sums' blocks
        cache_blocks = cache_block_count(n_samples, n_features, k, 8)
        chunk_block = -(-n_samples // cache_blocks)
    else:
        chunk_block = block
    X = _rechunked(X.astype(dtype) if X.dtype != dtype else X, chunk_block)
    chunks = list(X.to_delayed().ravel())
    offsets = np.r_[0, np.cumsum(X.chunks[0])].astype(np.int64)
    mean = _mean(X, chunks)
    parts = dask.persist(*[dask.delayed(_centred_chunk, nout=2)(c, mean) for c in chunks])
    centred = [p[0] for p in parts]
    chunk_norms = [p[1] for p in parts]
    squared_norms = np.concatenate(dask.compute(*chunk_norms))
    if _needs_rescaling(squared_norms, dtype):
        raise ValueError("Dask input whose squared distances leave the float range is not "
                         "supported yet; scale X by a power of two first.")
    # the weights go to the workers once (or are made there), not with every step
    spans = list(zip(offsets[:-1], offsets[1:]))
    weights = list(dask.persist(*[
        dask.delayed(np.ones)(int(b - a)) if sample_weight is None
        else dask.delayed(np.ascontiguousarray)(sample_weight[a:b]) for a, b in spans]))
    state = _Chunks(centred, weights, offsets, dtype)
    tol = float(np.sum(squared_norms)) / (n_samples * n_features) * estimator.tol
    max_squared_norm = float(squared_norms.max())
    del squared_norms

    def new_step():  # a run's own bounds (hamerly) or none
        if engine == "hamerly":
            return _BoundsOnChunks(state, chunk_norms, chunk_block, k, n_features)
        return _LloydOnChunks(state, block, max_squared_norm, n_features)

    best = None
    for _ in range(n_init):
        if init_is_array:
            centers = init - mean
        else:
            centers = _initial_centers(estimator, X, mean, sample_weight, init, random_state)
        step = new_step()
        run = _lloyd_run(step, state, centers, sample_weight, tol, max_squared_norm,
                         estimator.max_iter, block, n_blocks)
        if best is None or run[1] < best[1]:
            best = (*run, step)
    labels, inertia, centers, n_iter, step = best
    counts = sum(dask.compute(*[dask.delayed(np.bincount)(l, minlength=k) for l in labels]))
    distinct = np.count_nonzero(counts)
    if distinct < k:
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
            f"({k}). Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=3)
    estimator.n_features_in_ = n_features
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    estimator.cluster_centers_ = centers + mean
    estimator._n_features_out = k
    estimator.labels_ = da.concatenate([
        da.from_delayed(l, shape=(int(b - a),), dtype=np.int32)
        for l, (a, b) in zip(labels, spans)])
    estimator.inertia_ = inertia
    estimator.n_iter_ = n_iter
    estimator.n_distance_evaluations_ = step.evaluations(n_samples * k * n_iter)
    estimator._n_init = n_init
    estimator.engine_ = engine
    return estimator
