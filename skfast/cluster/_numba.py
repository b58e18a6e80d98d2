"""Numba k-means kernels: one fused, compiled pass over X per iteration.

Each sample's distances to all centres are computed with the centres stored
feature-major (``centers.T``), so the innermost loop runs over clusters and
vectorises; the argmin and the weighted accumulation into the cluster sums
happen in the same pass, while the sample is still in cache.  No
``n_samples x n_clusters`` temporary is ever formed.

Parallelism is over fixed blocks of samples, each with its own partial sums
that are reduced in block order afterwards.  The blocks depend on the data
shape only, never on the thread count, so results are bit-identical whatever
``n_threads`` is.  Same signatures as :mod:`skfast.cluster._reference`.
"""

import numba
import numpy as np

from .._compile import serial_twin
from ._sklearn_order import accumulate_ranges, reduce_blocks, thread_ranges
from ._ties import margin_factor, settle

_BLOCK_ROWS = 2048
_MAX_BLOCKS = 256
# Cap on the float64 partial sums held at once (blocks x clusters x features).
_PARTIAL_BYTES = 128 * 2**20


def block_count(n_samples, n_features, n_clusters):
    """Parallel blocks for a shape: never a function of the thread count."""
    by_rows = -(-n_samples // _BLOCK_ROWS)
    by_memory = max(1, _PARTIAL_BYTES // (8 * n_clusters * max(n_features, 1)))
    return max(1, min(by_rows, _MAX_BLOCKS, by_memory))


# Below this many clusters one sample's distances are a few short dot
# products; above it, accumulating all clusters at once (innermost loop over
# clusters, which vectorises) is faster.  Both forms sum over features in the
# same order, so they give bitwise-identical values.
_FEW_CLUSTERS = 8


@numba.njit(cache=True, nogil=True, inline="always")
def scan_values(X, i, centers_t, half_norms, scratch):
    """``scratch[k] = |c_k|^2/2 - x_i.c_k`` for every centre, summed feature by feature."""
    n_features, n_clusters = centers_t.shape
    for k in range(n_clusters):
        scratch[k] = half_norms[k]
    for j in range(n_features):
        xj = np.float64(X[i, j])
        for k in range(n_clusters):
            scratch[k] -= xj * centers_t[j, k]


@numba.njit(cache=True, nogil=True, inline="always")
def near_tie(best_value, second_value, margin):
    """Whether two ``|c|^2/2 - x.c`` values are too close for their rounding to decide."""
    return second_value - best_value <= margin


def tie_margin(tie, max_squared_norm):
    """One margin for every sample: ``2 factor (max|x|^2 + max|c|^2)``.

    It is at least ``factor (|x| + max|c|)^2`` for every row
    (``_ties.margin_factor``).  A single number keeps the per-sample test one
    comparison; it flags a few more samples than a per-row margin would, and
    a flagged sample is only decided more carefully.
    """
    return 2.0 * tie[0] * (max_squared_norm + tie[1])


@numba.njit(cache=True, nogil=True, inline="always")
def _nearest(X, i, centers, centers_t, half_norms, scratch, margin):
    """Nearest centre of sample ``i`` by ``|c|^2/2 - x.c`` (the first wins a tie).

    Returns ``(label, near_tie)``: a near tie is for ``_ties.settle`` to decide.
    """
    n_clusters, n_features = centers.shape
    best, best_value, second_value = 0, np.inf, np.inf
    if n_clusters <= _FEW_CLUSTERS:
        for k in range(n_clusters):
            value = half_norms[k]
            for j in range(n_features):
                value -= np.float64(X[i, j]) * centers[k, j]
            second_value = min(second_value, max(value, best_value))
            if value < best_value:
                best, best_value = k, value
    else:
        scan_values(X, i, centers_t, half_norms, scratch)
        for k in range(n_clusters):
            value = scratch[k]
            second_value = min(second_value, max(value, best_value))
            if value < best_value:
                best, best_value = k, value
    return best, near_tie(best_value, second_value, margin)


@numba.njit(cache=True, nogil=True, inline="always")
def _nearest_pair(X, i, centers, half_norms, margin):
    """:func:`_nearest` of samples ``i`` and ``i + 1`` together, in the same operation order."""
    n_clusters, n_features = centers.shape
    best_a, best_b, value_a_best, value_b_best = 0, 0, np.inf, np.inf
    second_a, second_b = np.inf, np.inf
    for k in range(n_clusters):
        value_a = half_norms[k]
        value_b = half_norms[k]
        for j in range(n_features):
            c = centers[k, j]
            value_a -= np.float64(X[i, j]) * c
            value_b -= np.float64(X[i + 1, j]) * c
        # branch-free runner-up: the larger of (value, best) can only be it
        second_a = min(second_a, max(value_a, value_a_best))
        second_b = min(second_b, max(value_b, value_b_best))
        if value_a < value_a_best:
            best_a, value_a_best = k, value_a
        if value_b < value_b_best:
            best_b, value_b_best = k, value_b
    return (best_a, best_b, near_tie(value_a_best, second_a, margin),
            near_tie(value_b_best, second_b, margin))


@numba.njit(cache=True, nogil=True)
def _lloyd_block(X, sample_weight, centers, centers_t, half_norms, margin, start, stop, labels,
                 unsure, sums, weights):
    # no weights: assign only (the final E-step and predict share this
    # compiled kernel instead of compiling a copy without the accumulation)
    accumulate = sample_weight.shape[0] != 0
    scratch = np.empty(centers_t.shape[1])
    first = start
    if centers.shape[0] <= _FEW_CLUSTERS:
        # Two samples at a time: two independent chains per cluster.
        for i in range(start, stop - 1, 2):
            # labels kept in locals: read back from memory after the stores,
            # they would wait on them
            label_a, label_b, unsure_a, unsure_b = _nearest_pair(X, i, centers, half_norms,
                                                                 margin)
            if accumulate:
                accumulate_into(X, sample_weight, i, label_a, sums, weights)
                accumulate_into(X, sample_weight, i + 1, label_b, sums, weights)
            labels[i], labels[i + 1], unsure[i], unsure[i + 1] = label_a, label_b, unsure_a, unsure_b
        first = stop - (stop - start) % 2
    for i in range(first, stop):
        label, unsure[i] = _nearest(X, i, centers, centers_t, half_norms, scratch, margin)
        if accumulate:
            accumulate_into(X, sample_weight, i, label, sums, weights)
        labels[i] = label


@numba.njit(cache=True, parallel=True)
def _lloyd_step(X, sample_weight, centers, centers_t, half_norms, margin, n_blocks):
    n_samples, n_features = X.shape
    n_clusters = centers_t.shape[1]
    labels = np.empty(n_samples, dtype=np.int32)
    unsure = np.empty(n_samples, dtype=np.bool_)
    # zeroed by their blocks: a np.zeros here would be a parallel region of
    # its own (the one-region rule of skfast._compile)
    partial_sums = np.empty((n_blocks, n_clusters, n_features))
    partial_weights = np.empty((n_blocks, n_clusters))
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        partial_sums[b] = 0.0
        partial_weights[b] = 0.0
        _lloyd_block(X, sample_weight, centers, centers_t, half_norms, margin, b * block,
                     min((b + 1) * block, n_samples), labels, unsure, partial_sums[b],
                     partial_weights[b])
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, unsure, sums, weights


# one block of samples (small data): the same pass without threads, far
# cheaper to compile
_lloyd_step_serial = serial_twin(_lloyd_step)


def _lloyd_pass(n_blocks):
    return _lloyd_step_serial if n_blocks == 1 else _lloyd_step


@numba.njit(cache=True, parallel=True)
def _lloyd_step_ranges(X, sample_weight, centers, centers_t, half_norms, margin, bounds):
    """:func:`_lloyd_step` over given sample ranges, summing in X's dtype.

    With scikit-learn's thread ranges and float32 data, the fused pass adds
    the sums exactly as ``KMeans`` does (``_sklearn_order``).
    """
    n_samples, n_features = X.shape
    n_clusters = centers_t.shape[1]
    n_parts = bounds.shape[0] - 1
    labels = np.empty(n_samples, dtype=np.int32)
    unsure = np.empty(n_samples, dtype=np.bool_)
    partial_sums = np.empty((n_parts, n_clusters, n_features), dtype=X.dtype)
    partial_weights = np.empty((n_parts, n_clusters), dtype=X.dtype)
    for b in numba.prange(n_parts):
        partial_sums[b] = 0.0
        partial_weights[b] = 0.0
        _lloyd_block(X, sample_weight, centers, centers_t, half_norms, margin, bounds[b],
                     bounds[b + 1], labels, unsure, partial_sums[b], partial_weights[b])
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, unsure, sums, weights


@numba.njit(cache=True, nogil=True, inline="always")
def accumulate_sample(X, sample_weight, labels, i, sums, weights):
    """Add sample ``i`` to its cluster's weighted sum, while it is in cache."""
    accumulate_into(X, sample_weight, i, labels[i], sums, weights)


@numba.njit(cache=True, nogil=True, inline="always")
def accumulate_into(X, sample_weight, i, k, sums, weights):
    """Add sample ``i`` to cluster ``k``'s weighted sum."""
    w = sample_weight[i]
    weights[k] += w
    for j in range(X.shape[1]):
        sums[k, j] += w * X[i, j]


@numba.njit(cache=True, nogil=True)
def accumulate_block(X, sample_weight, labels, start, stop, sums, weights):
    for i in range(start, stop):
        accumulate_sample(X, sample_weight, labels, i, sums, weights)


@numba.njit(cache=True, parallel=True)
def accumulate(X, sample_weight, labels, n_clusters, n_blocks):
    """Per-cluster weighted sums and weights for given labels, block by block."""
    n_samples, n_features = X.shape
    partial_sums = np.empty((n_blocks, n_clusters, n_features))
    partial_weights = np.empty((n_blocks, n_clusters))
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        partial_sums[b] = 0.0
        partial_weights[b] = 0.0
        accumulate_block(X, sample_weight, labels, b * block, min((b + 1) * block, n_samples),
                          partial_sums[b], partial_weights[b])
    return reduce_blocks(partial_sums, partial_weights)


@numba.njit(cache=True, nogil=True, inline="always")
def centred_value(X, offset, i, j, centre):
    """``X[i, j] - offset[j]`` with ``centre``, else ``X[i, j]`` (``offset`` then empty).

    ``centre`` is the same for a whole loop, which the compiler takes out of
    it: X itself costs no subtraction (a zero offset would, 20% of an
    accumulation at 10 features).
    """
    return X[i, j] - offset[j] if centre else X[i, j]


@numba.njit(cache=True, nogil=True)
def inertia_block(X, sample_weight, centers, labels, start, stop, offset):
    """Weighted squared distances of samples ``start`` to ``stop - 1`` to their centres, in order.

    The samples are the rows of X minus ``offset``, or X itself when ``offset`` is empty.
    """
    centre = offset.shape[0] != 0
    acc = 0.0
    for i in range(start, stop):
        dist = 0.0
        for j in range(X.shape[1]):
            diff = np.float64(centred_value(X, offset, i, j, centre)) - centers[labels[i], j]
            dist += diff * diff
        acc += sample_weight[i] * dist
    return acc


@numba.njit(cache=True, parallel=True)
def _inertia(X, sample_weight, centers, labels, n_blocks, offset):
    n_samples = X.shape[0]
    partial = np.empty(n_blocks)
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        partial[b] = inertia_block(X, sample_weight, centers, labels, b * block,
                                   min((b + 1) * block, n_samples), offset)
    # Summed by the caller: a reduction here would be parallelised by numba,
    # and its order, hence its rounding, would depend on the thread count.
    return partial


def prepared_centers(centers, dtype=np.float64):
    """Centres in float64, row- and feature-major, half their squared norms, and the tie margin.

    ``dtype`` is the data's: it sets the rounding the tie margin covers
    (``_ties.margin_factor``).
    """
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    half_norms = 0.5 * np.einsum("ij,ij->i", centers, centers)
    tie = (margin_factor(centers.shape[1], dtype), 2.0 * float(half_norms.max()))
    return centers, np.ascontiguousarray(centers.T), half_norms, tie


def settle_near_ties(X, centers, labels, unsure):
    """Decide the flagged samples by scikit-learn's expression; whether a label changed."""
    return bool(unsure.any()) and settle(X, centers, np.flatnonzero(unsure), labels)


def _prepared(X, centers, max_squared_norm):
    centers64, centers_t, half_norms, tie = prepared_centers(centers, X.dtype)
    if max_squared_norm is None:
        max_squared_norm = largest_squared_norm(X)
    return centers64, centers_t, half_norms, tie_margin(tie, max_squared_norm)


def largest_squared_norm(X, squared_norms=None):
    """The largest squared row norm of X (float64): from ``squared_norms`` when given."""
    if not X.shape[0]:
        return 0.0
    return float((row_squared_norms(X) if squared_norms is None else squared_norms).max())


def row_squared_norms(X):
    """Squared norm of each row in float64 (the near-tie margins need them)."""
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def lloyd_step(X, sample_weight, centers, squared_norms=None):
    max_squared_norm = largest_squared_norm(X, squared_norms)
    if X.dtype == np.float32:
        return _lloyd_step_float32(X, sample_weight, centers, max_squared_norm)
    n_blocks = block_count(X.shape[0], X.shape[1], centers.shape[0])
    labels, unsure, sums, weights = _lloyd_pass(n_blocks)(
        X, sample_weight, *_prepared(X, centers, max_squared_norm), n_blocks)
    if settle_near_ties(X, centers, labels, unsure):
        sums, weights = accumulate(X, sample_weight, labels, centers.shape[0], n_blocks)
    return labels, sums, weights


def _lloyd_step_float32(X, sample_weight, centers, max_squared_norm):
    """Float32 data: the fused pass over scikit-learn's thread ranges, summing in float32."""
    ranges = thread_ranges(X.shape[0])
    weights32 = sample_weight.astype(np.float32)
    labels, unsure, sums, weights = _lloyd_step_ranges(
        X, weights32, *_prepared(X, centers, max_squared_norm), ranges)
    if settle_near_ties(X, centers, labels, unsure):
        sums, weights = accumulate_ranges(X, weights32, labels, centers.shape[0], ranges)
    return labels, sums, weights


_NO_WEIGHTS = np.empty(0)


def assign_labels(X, centers, squared_norms=None):
    max_squared_norm = largest_squared_norm(X, squared_norms)
    n_blocks = block_count(X.shape[0], X.shape[1], centers.shape[0])
    labels, unsure, _, _ = _lloyd_pass(n_blocks)(
        X, _NO_WEIGHTS, *_prepared(X, centers, max_squared_norm), n_blocks)
    settle_near_ties(X, centers, labels, unsure)
    return labels


_inertia_serial = serial_twin(_inertia)


def inertia(X, sample_weight, centers, labels, offset=None):
    """The inertia of X (or of ``X - offset``: :class:`skfast.cluster._blas.CentredInPass`)."""
    n_blocks = block_count(X.shape[0], X.shape[1], centers.shape[0])
    offset = np.empty(0, dtype=X.dtype) if offset is None else offset
    partial = (_inertia_serial if n_blocks == 1 else _inertia)(
        X, sample_weight, np.asarray(centers, dtype=np.float64), labels, n_blocks, offset)
    return float(np.sum(partial))


# --- sparse input: scikit-learn's sparse Lloyd pass, operation for operation ---

@numba.njit(cache=True, nogil=True, inline="always")
def _sparse_nearest(data, indices, start, stop, centers_t, centers_squared_norms, two, dots):
    # |c|^2 - 2 x.c in X's dtype.  Each dot is summed over the stored entries
    # in order, as KMeans sums it; with the centres feature-major, one
    # stored entry updates every cluster's dot at once (the loop over
    # clusters vectorises), the same sums in the same order.
    n_clusters = centers_t.shape[1]
    for k in range(n_clusters):
        dots[k] = two - two  # zero, in X's dtype
    for jj in range(start, stop):
        value, row = data[jj], indices[jj]
        for k in range(n_clusters):
            dots[k] += centers_t[row, k] * value
    # the first centre wins a tie (KMeans' strict "<")
    best, best_value = 0, np.inf
    for k in range(n_clusters):
        distance = centers_squared_norms[k] - two * dots[k]
        if distance < best_value:
            best, best_value = k, distance
    return best


@numba.njit(cache=True, parallel=True)
def _sparse_lloyd(data, indices, indptr, sample_weight, centers_t, centers_squared_norms, ranges,
                  update_centers, two):
    n_samples = indptr.shape[0] - 1
    n_features, n_clusters = centers_t.shape
    n_parts = ranges.shape[0] - 1 if update_centers else 0
    labels = np.empty(n_samples, dtype=np.int32)
    partial_sums = np.empty((n_parts, n_clusters, n_features), dtype=data.dtype)
    partial_weights = np.empty((n_parts, n_clusters), dtype=data.dtype)
    for part in numba.prange(ranges.shape[0] - 1):
        if update_centers:
            partial_sums[part] = 0
            partial_weights[part] = 0
        dots = np.empty(n_clusters, dtype=data.dtype)
        for i in range(ranges[part], ranges[part + 1]):
            label = _sparse_nearest(data, indices, indptr[i], indptr[i + 1], centers_t,
                                    centers_squared_norms, two, dots)
            labels[i] = label
            if update_centers:
                partial_weights[part, label] += sample_weight[i]
                for jj in range(indptr[i], indptr[i + 1]):
                    partial_sums[part, label, indices[jj]] += data[jj] * sample_weight[i]
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, sums, weights


@numba.njit(cache=True, parallel=True)
def _sparse_inertia(data, indices, indptr, sample_weight, centers, centers_squared_norms, labels,
                    ranges, two):
    partial = np.empty(ranges.shape[0] - 1, dtype=data.dtype)
    for part in numba.prange(ranges.shape[0] - 1):
        total = two - two
        for i in range(ranges[part], ranges[part + 1]):
            k = labels[i]
            distance = two - two
            for jj in range(indptr[i], indptr[i + 1]):
                center_value = centers[k, indices[jj]]
                difference = data[jj] - center_value
                distance += difference * difference - center_value * center_value
            distance += centers_squared_norms[k]
            if distance < 0:
                distance = two - two
            total += distance * sample_weight[i]
        partial[part] = total
    inertia = two - two
    for part in range(partial.shape[0]):
        inertia += partial[part]
    return inertia


def sparse_lloyd_step(data, indices, indptr, sample_weight, centers, centers_squared_norms,
                      ranges, update_centers=True):
    return _sparse_lloyd(data, indices, indptr, sample_weight, np.ascontiguousarray(centers.T),
                         centers_squared_norms, ranges, update_centers, data.dtype.type(2))


def sparse_inertia(data, indices, indptr, sample_weight, centers, centers_squared_norms, labels,
                   ranges):
    return float(_sparse_inertia(data, indices, indptr, sample_weight, centers,
                                 centers_squared_norms, labels, ranges, data.dtype.type(2)))
