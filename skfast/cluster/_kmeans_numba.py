"""Numba k-means kernels: one fused, compiled pass over X per iteration.

Each sample's distances to all centres are computed with the centres stored
feature-major (``centers.T``), so the innermost loop runs over clusters and
vectorises; the argmin and the weighted accumulation into the cluster sums
happen in the same pass, while the sample is still in cache.  No
``n_samples x n_clusters`` temporary is ever formed.

Parallelism is over fixed blocks of samples, each with its own partial sums
that are reduced in block order afterwards.  The blocks depend on the data
shape only, never on the thread count, so results are bit-identical whatever
``n_threads`` is.  Same signatures as :mod:`skfast.cluster._kmeans_reference`.
"""

import numba
import numpy as np
from scipy.spatial.distance import cdist

_BLOCK_ROWS = 2048
_MAX_BLOCKS = 256
# Cap on the float64 partial sums held at once (blocks x clusters x features).
_PARTIAL_BYTES = 128 * 2**20


def _n_blocks(n_samples, n_features, n_clusters):
    by_rows = -(-n_samples // _BLOCK_ROWS)
    by_memory = max(1, _PARTIAL_BYTES // (8 * n_clusters * max(n_features, 1)))
    return max(1, min(by_rows, _MAX_BLOCKS, by_memory))


# Below this many clusters one sample's distances are a few short dot
# products; above it, accumulating all clusters at once (innermost loop over
# clusters, which vectorises) is faster.  Both forms sum over features in the
# same order, so they give bitwise-identical values.
_FEW_CLUSTERS = 8


@numba.njit(cache=True, nogil=True, inline="always")
def _nearest(X, i, centers, centers_t, half_norms, scratch):
    """Nearest centre of sample ``i`` by ``|c|^2/2 - x.c`` (the first wins a tie)."""
    n_clusters, n_features = centers.shape
    if n_clusters <= _FEW_CLUSTERS:
        best, best_value = 0, np.inf
        for k in range(n_clusters):
            value = half_norms[k]
            for j in range(n_features):
                value -= np.float64(X[i, j]) * centers[k, j]
            if value < best_value:
                best, best_value = k, value
        return best
    for k in range(n_clusters):
        scratch[k] = half_norms[k]
    for j in range(n_features):
        xj = np.float64(X[i, j])
        for k in range(n_clusters):
            scratch[k] -= xj * centers_t[j, k]
    best, best_value = 0, scratch[0]
    for k in range(1, n_clusters):
        if scratch[k] < best_value:
            best, best_value = k, scratch[k]
    return best


@numba.njit(cache=True, nogil=True)
def _lloyd_block(X, sample_weight, centers, centers_t, half_norms, start, stop, labels, sums,
                 weights):
    n_features = X.shape[1]
    scratch = np.empty(centers_t.shape[1])
    for i in range(start, stop):
        k = _nearest(X, i, centers, centers_t, half_norms, scratch)
        labels[i] = k
        w = sample_weight[i]
        weights[k] += w
        for j in range(n_features):
            sums[k, j] += w * X[i, j]


@numba.njit(cache=True, parallel=True)
def _lloyd_step(X, sample_weight, centers, centers_t, half_norms, n_blocks):
    n_samples, n_features = X.shape
    n_clusters = centers_t.shape[1]
    labels = np.empty(n_samples, dtype=np.int32)
    partial_sums = np.zeros((n_blocks, n_clusters, n_features))
    partial_weights = np.zeros((n_blocks, n_clusters))
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        _lloyd_block(X, sample_weight, centers, centers_t, half_norms, b * block,
                     min((b + 1) * block, n_samples), labels, partial_sums[b],
                     partial_weights[b])
    sums = np.zeros((n_clusters, n_features))
    weights = np.zeros(n_clusters)
    for b in range(n_blocks):  # fixed order: thread-count independent
        sums += partial_sums[b]
        weights += partial_weights[b]
    return labels, sums, weights


@numba.njit(cache=True, parallel=True)
def _assign_labels(X, centers, centers_t, half_norms, n_blocks):
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.int32)
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        scratch = np.empty(centers_t.shape[1])
        for i in range(b * block, min((b + 1) * block, n_samples)):
            labels[i] = _nearest(X, i, centers, centers_t, half_norms, scratch)
    return labels


@numba.njit(cache=True, parallel=True)
def _inertia(X, sample_weight, centers, labels, n_blocks):
    n_samples, n_features = X.shape
    partial = np.zeros(n_blocks)
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        acc = 0.0
        for i in range(b * block, min((b + 1) * block, n_samples)):
            dist = 0.0
            for j in range(n_features):
                diff = np.float64(X[i, j]) - centers[labels[i], j]
                dist += diff * diff
            acc += sample_weight[i] * dist
        partial[b] = acc
    # Summed by the caller: a reduction here would be parallelised by numba,
    # and its order, hence its rounding, would depend on the thread count.
    return partial


def _prepared_centers(centers):
    """Centres in float64, row- and feature-major, and half their squared norms."""
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    return centers, np.ascontiguousarray(centers.T), 0.5 * np.einsum("ij,ij->i", centers, centers)


def lloyd_step(X, sample_weight, centers):
    return _lloyd_step(X, sample_weight, *_prepared_centers(centers),
                       _n_blocks(X.shape[0], X.shape[1], centers.shape[0]))


def assign_labels(X, centers):
    return _assign_labels(X, *_prepared_centers(centers),
                          _n_blocks(X.shape[0], X.shape[1], centers.shape[0]))


def inertia(X, sample_weight, centers, labels):
    partial = _inertia(X, sample_weight, np.asarray(centers, dtype=np.float64), labels,
                       _n_blocks(X.shape[0], X.shape[1], centers.shape[0]))
    return float(np.sum(partial))


# --- Hamerly's bounds: the same labels as Lloyd, far fewer distances ---------------
#
# Each sample keeps an upper bound on the distance to its centre and a lower
# bound on the distance to every other centre.  When the bounds prove the
# centre cannot have changed, the sample skips its distance scan.  A scan, when
# needed, picks the label with exactly the Lloyd formula above, so labels are
# bitwise Lloyd's.  Bounds carry a small slack so that round-off can only cause
# an unnecessary scan, never a wrong skip.

_RELATIVE_SLACK = 1e-10
_ABSOLUTE_SLACK = 1e-8  # times the data scale


@numba.njit(cache=True, nogil=True, inline="always")
def _distance(X, i, centers, k):
    """Direct Euclidean distance, accurate also when it is small."""
    acc = 0.0
    for j in range(X.shape[1]):
        diff = np.float64(X[i, j]) - centers[k, j]
        acc += diff * diff
    return np.sqrt(acc)


@numba.njit(cache=True, nogil=True)
def _hamerly_block(X, sample_weight, centers, centers_t, half_norms, half_gap, shift,
                   max_shift, second_shift, argmax_shift, first, slack, start, stop,
                   labels, upper, lower, sums, weights):
    n_clusters = centers.shape[0]
    scratch = np.empty(n_clusters)
    evaluations = 0
    for i in range(start, stop):
        if not first:
            k = labels[i]
            upper[i] += shift[k]
            lower[i] -= second_shift if k == argmax_shift else max_shift
            bound = max(half_gap[k], lower[i])
            skip = upper[i] * (1 + _RELATIVE_SLACK) + slack < bound
            if not skip:
                evaluations += 1
                upper[i] = _distance(X, i, centers, k)
                skip = upper[i] * (1 + _RELATIVE_SLACK) + slack < bound
        if first or not skip:
            evaluations += 2 * n_clusters  # the Lloyd scan, then the bounds
            k = _nearest(X, i, centers, centers_t, half_norms, scratch)
            labels[i] = k
            upper[i] = _distance(X, i, centers, k)
            second = np.inf
            for c in range(n_clusters):
                if c != k:
                    second = min(second, _distance(X, i, centers, c))
            lower[i] = second
        k = labels[i]
        w = sample_weight[i]
        weights[k] += w
        for j in range(X.shape[1]):
            sums[k, j] += w * X[i, j]
    return evaluations


@numba.njit(cache=True, parallel=True)
def _hamerly_step(X, sample_weight, centers, centers_t, half_norms, half_gap, shift, first,
                  slack, labels, upper, lower, n_blocks):
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    argmax_shift = np.argmax(shift)
    max_shift = shift[argmax_shift]
    second_shift = 0.0
    for k in range(n_clusters):
        if k != argmax_shift:
            second_shift = max(second_shift, shift[k])
    partial_sums = np.zeros((n_blocks, n_clusters, n_features))
    partial_weights = np.zeros((n_blocks, n_clusters))
    scans = np.zeros(n_blocks, dtype=np.int64)
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        scans[b] = _hamerly_block(X, sample_weight, centers, centers_t, half_norms, half_gap,
                                  shift, max_shift, second_shift, argmax_shift, first, slack,
                                  b * block, min((b + 1) * block, n_samples), labels, upper,
                                  lower, partial_sums[b], partial_weights[b])
    sums = np.zeros((n_clusters, n_features))
    weights = np.zeros(n_clusters)
    for b in range(n_blocks):
        sums += partial_sums[b]
        weights += partial_weights[b]
    return sums, weights, scans.sum()


class HamerlyStep:
    """A ``lloyd_step`` with Hamerly's bounds, carried from call to call.

    Call it like ``lloyd_step``; it returns the same labels, sums and weights.
    ``distance_evaluations`` counts the sample-to-centre distances computed.
    """

    def __init__(self, X):
        n_samples = X.shape[0]
        self.labels = np.zeros(n_samples, dtype=np.int32)
        self.upper = np.zeros(n_samples)
        self.lower = np.zeros(n_samples)
        self.previous_centers = None
        self.distance_evaluations = 0
        # Round-off in |x - c| is relative to the magnitudes involved.
        self.scale = float(np.sqrt((np.asarray(X, dtype=np.float64) ** 2).sum(axis=1).max()))

    def __call__(self, X, sample_weight, centers):
        centers = np.ascontiguousarray(centers, dtype=np.float64)
        n_clusters = centers.shape[0]
        first = self.previous_centers is None
        shift = (np.zeros(n_clusters) if first
                 else np.sqrt(((centers - self.previous_centers) ** 2).sum(axis=1)))
        between = cdist(centers, centers)  # direct differences: accurate when small
        np.fill_diagonal(between, np.inf)
        # Half the gap to the nearest other centre, shaved so it stays a lower bound.
        half_gap = 0.5 * between.min(axis=1) * (1 - _RELATIVE_SLACK)
        centers, centers_t, half_norms = _prepared_centers(centers)
        slack = _ABSOLUTE_SLACK * (self.scale + np.sqrt((centers**2).sum(1).max()))
        sums, weights, scans = _hamerly_step(
            X, sample_weight, centers, centers_t, half_norms, half_gap, shift * (1 + _RELATIVE_SLACK),
            first, slack, self.labels, self.upper, self.lower,
            _n_blocks(X.shape[0], X.shape[1], n_clusters))
        self.distance_evaluations += int(scans)
        self.previous_centers = centers
        return self.labels.copy(), sums, weights
