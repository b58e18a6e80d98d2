"""Hamerly k-means engine: Lloyd's iterations with most distances skipped.

Each sample keeps an upper bound on the distance to its own centre and a
lower bound on the distance to every other centre (Hamerly, 2010).  After the
centres move, the bounds are loosened by how far the centres moved; a sample
whose bounds still prove its centre is the nearest skips its distance scan.
The samples that do need a scan are gathered and scanned with one BLAS matrix
product per chunk, the same ``|c|^2/2 - x.c`` values the numpy engine uses, so
the labels are Lloyd's.  Bounds carry a slack that covers round-off: it can
only cause an unnecessary scan, never a wrong skip.

Same ``assign_labels`` and ``inertia`` as the other engines; instead of a
stateless ``lloyd_step``, :class:`BoundedStep` carries the bounds from one
iteration to the next and is called like ``lloyd_step``.
"""

import numba
import numpy as np
from scipy.spatial.distance import cdist

from . import _kmeans_numba as _loops
from . import _kmeans_numpy as _blas

assign_labels = _blas.assign_labels
inertia = _loops.inertia

# Scans of at most this many features x clusters run inside the compiled
# loop; larger ones are gathered and go through BLAS.
LOOP_SCAN_MAX_WORK = 4096
# Above this share of rows needing a scan, scan them all without gathering.
FULL_SCAN_SHARE = 0.5
_RELATIVE_SLACK = 1e-10
_ABSOLUTE_SLACK = 1e-8  # times the data scale
_EPS = np.finfo(np.float64).eps


@numba.njit(cache=True, nogil=True, inline="always")
def _distance(X, i, centers, k):
    """Direct Euclidean distance: accurate also when it is small."""
    acc = 0.0
    for j in range(X.shape[1]):
        diff = np.float64(X[i, j]) - centers[k, j]
        acc += diff * diff
    return np.sqrt(acc)


@numba.njit(cache=True, nogil=True, inline="always")
def _scan_in_place(X, i, centers, centers_t, half_norms, squared_norm, error_scale,
                   center_norms, scratch, labels, upper, lower):
    """Lloyd's assignment of sample ``i`` and fresh bounds, computed in the loop."""
    _loops.scan_values(X, i, centers_t, half_norms, scratch)
    best, best_value, second_value = 0, scratch[0], np.inf
    for k in range(1, scratch.shape[0]):
        value = scratch[k]
        if value < best_value:
            best, best_value, second_value = k, value, best_value
        elif value < second_value:
            second_value = value
    labels[i] = best
    upper[i] = _distance(X, i, centers, best)
    error = error_scale * (squared_norm + center_norms)
    lower[i] = np.sqrt(max(squared_norm + 2 * second_value - error, 0.0))


@numba.njit(cache=True, nogil=True, inline="always")
def _settle(X, i, centers, centers_t, half_norms, squared_norms, labels, upper, lower, shift,
            farthest, largest, runner_up, half_gap, slack, error_scale, center_norms, first,
            scan_here, scratch):
    """Bounds of sample ``i`` for the new centres.

    Returns ``(distances computed, whether a BLAS scan is still needed)``.
    """
    evaluations = 0
    if not first:
        k = labels[i]
        upper[i] += shift[k]
        lower[i] -= runner_up if k == farthest else largest
        bound = max(half_gap[k], lower[i])
        if upper[i] * (1 + _RELATIVE_SLACK) + slack < bound:
            return evaluations, False
        upper[i] = _distance(X, i, centers, k)
        evaluations += 1
        if upper[i] * (1 + _RELATIVE_SLACK) + slack < bound:
            return evaluations, False
    if not scan_here:
        return evaluations, True
    _scan_in_place(X, i, centers, centers_t, half_norms, squared_norms[i], error_scale,
                   center_norms, scratch, labels, upper, lower)
    return evaluations + centers.shape[0], False


@numba.njit(cache=True, parallel=True)
def _loosen_and_test(X, sample_weight, centers, centers_t, half_norms, squared_norms, labels,
                     upper, lower, shift, half_gap, slack, error_scale, first, scan_here,
                     n_blocks):
    """Move the bounds by the centre shifts, test them, and accumulate.

    A sample whose bounds fail is scanned on the spot when ``scan_here``
    (few features x clusters: a loop is cheapest), else flagged in the
    returned mask for a BLAS scan.  Every sample whose label is settled is
    added to its block's cluster sums in the same pass, while it is in
    cache, so X is read once per iteration.  Returns the mask, the
    distances computed and the partial sums and weights.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    farthest = np.argmax(shift)
    largest = shift[farthest]
    runner_up = 0.0
    for k in range(n_clusters):
        if k != farthest:
            runner_up = max(runner_up, shift[k])
    center_norms = 2 * half_norms.max()
    needs_scan = np.zeros(n_samples, dtype=np.bool_)
    evaluations = np.zeros(n_blocks, dtype=np.int64)
    partial_sums = np.zeros((n_blocks, n_clusters, n_features))
    partial_weights = np.zeros((n_blocks, n_clusters))
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        scratch = np.empty(n_clusters)
        for i in range(b * block, min((b + 1) * block, n_samples)):
            computed, flagged = _settle(
                X, i, centers, centers_t, half_norms, squared_norms, labels, upper, lower, shift,
                farthest, largest, runner_up, half_gap, slack, error_scale, center_norms, first,
                scan_here, scratch)
            evaluations[b] += computed
            if flagged:
                needs_scan[i] = True
                continue
            _loops.accumulate_sample(X, sample_weight, labels, i, partial_sums[b],
                                     partial_weights[b])
    return needs_scan, evaluations.sum(), partial_sums, partial_weights


@numba.njit(cache=True, nogil=True)
def _add_rows(X, sample_weight, labels, rows, sums, weights):
    """Add the given rows to the cluster sums, in row order."""
    for r in range(rows.shape[0]):
        _loops.accumulate_sample(X, sample_weight, labels, rows[r], sums, weights)


def _error_scale(n_features):
    """Round-off bound of ``|x|^2 + 2 (|c|^2/2 - x.c)``, relative to ``|x|^2 + |c|^2``."""
    return 4 * (n_features + 4) * _EPS


class BoundedStep:
    """A ``lloyd_step`` with Hamerly's bounds, carried from call to call.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The (centred) data of this run; the bounds belong to it.

    Attributes
    ----------
    distance_evaluations : int
        Sample-to-centre distances computed so far (a scan counts
        ``n_clusters``).
    """

    def __init__(self, X):
        n_samples = X.shape[0]
        self.labels = np.zeros(n_samples, dtype=np.int32)
        self.upper = np.zeros(n_samples)
        self.lower = np.zeros(n_samples)
        self.squared_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        self.previous_centers = None
        self.distance_evaluations = 0

    def _scan(self, X, rows, centers, half_norms):
        """Full Lloyd assignment of ``rows``, and fresh bounds for them."""
        n_clusters, n_features = centers.shape
        center_norms = 2 * half_norms.max()
        everything = rows.size == X.shape[0]
        for part in _blas._chunks(rows.size, n_features, n_clusters):
            # A full scan (the first iteration) reads contiguous rows in place
            # instead of gathering a copy of X.
            idx = part if everything else rows[part]
            values = _blas._half_distances(X[idx], centers, half_norms)
            nearest = values.argmin(axis=1).astype(np.int32)
            self.labels[idx] = nearest
            diff = X[idx] - centers[nearest]
            self.upper[idx] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            if n_clusters == 1:
                self.lower[idx] = np.inf
                continue
            values[np.arange(values.shape[0]), nearest] = np.inf
            # |x - c|^2 = |x|^2 + 2 (|c|^2/2 - x.c); subtract its round-off bound
            # so the lower bound stays below the true second-nearest distance.
            x2 = self.squared_norms[idx]
            second = x2 + 2 * values.min(axis=1)
            error = _error_scale(n_features) * (x2 + center_norms)
            self.lower[idx] = np.sqrt(np.maximum(second - error, 0.0))
        self.distance_evaluations += rows.size * n_clusters

    def __call__(self, X, sample_weight, centers):
        centers, centers_t, half_norms = _loops.prepared_centers(centers)
        n_clusters, n_features = centers.shape
        n_blocks = _loops.block_count(X.shape[0], n_features, n_clusters)
        first = self.previous_centers is None
        if first:
            shift = np.zeros(n_clusters)
            half_gap = np.zeros(n_clusters)
        else:
            shift = np.sqrt(((centers - self.previous_centers) ** 2).sum(axis=1))
            shift *= 1 + _RELATIVE_SLACK
            between = cdist(centers, centers)  # direct differences: accurate when small
            np.fill_diagonal(between, np.inf)
            half_gap = 0.5 * between.min(axis=1) * (1 - _RELATIVE_SLACK)
        scale = np.sqrt(self.squared_norms.max()) + np.sqrt(2 * half_norms.max())
        scan_here = n_features * n_clusters <= LOOP_SCAN_MAX_WORK
        needs_scan, evaluations, partial_sums, partial_weights = _loosen_and_test(
            X, sample_weight, centers, centers_t, half_norms, self.squared_norms, self.labels,
            self.upper, self.lower, shift, half_gap, _ABSOLUTE_SLACK * scale,
            _error_scale(n_features), first, scan_here, n_blocks)
        self.distance_evaluations += int(evaluations)
        self.previous_centers = centers
        rows = np.flatnonzero(needs_scan)
        if rows.size > FULL_SCAN_SHARE * X.shape[0]:
            # The bounds saved little this time: scanning every row in place
            # costs no more than gathering most of them.
            self._scan(X, np.arange(X.shape[0]), centers, half_norms)
            sums, weights = _loops.accumulate(X, sample_weight, self.labels, n_clusters, n_blocks)
        else:
            self._scan(X, rows, centers, half_norms)
            sums, weights = _loops.reduce_blocks(partial_sums, partial_weights)
            _add_rows(X, sample_weight, self.labels, rows, sums, weights)
        return self.labels.copy(), sums, weights


def lloyd_step(X, sample_weight, centers):
    """One stateless step (a fresh :class:`BoundedStep`): a full scan."""
    return BoundedStep(X)(X, sample_weight, centers)
