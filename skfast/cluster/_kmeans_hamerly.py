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


@numba.njit(cache=True, parallel=True)
def _loosen_and_test(X, centers, labels, upper, lower, shift, half_gap, slack, n_blocks):
    """Move the bounds by the centre shifts; flag the samples whose bounds fail.

    Returns the mask of samples that need a full scan and the number of
    single distances computed to tighten upper bounds.
    """
    n_samples = X.shape[0]
    n_clusters = centers.shape[0]
    farthest = np.argmax(shift)
    largest = shift[farthest]
    runner_up = 0.0
    for k in range(n_clusters):
        if k != farthest:
            runner_up = max(runner_up, shift[k])
    needs_scan = np.zeros(n_samples, dtype=np.bool_)
    tightened = np.zeros(n_blocks, dtype=np.int64)
    block = -(-n_samples // n_blocks)
    for b in numba.prange(n_blocks):
        for i in range(b * block, min((b + 1) * block, n_samples)):
            k = labels[i]
            upper[i] += shift[k]
            lower[i] -= runner_up if k == farthest else largest
            bound = max(half_gap[k], lower[i])
            if upper[i] * (1 + _RELATIVE_SLACK) + slack < bound:
                continue
            upper[i] = _distance(X, i, centers, k)
            tightened[b] += 1
            if upper[i] * (1 + _RELATIVE_SLACK) + slack >= bound:
                needs_scan[i] = True
    return needs_scan, tightened.sum()


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
        for part in _blas._chunks(rows.size, n_features, n_clusters):
            idx = rows[part]
            values = _blas._half_distances(X[idx], centers, half_norms)
            nearest = values.argmin(axis=1).astype(np.int32)
            self.labels[idx] = nearest
            diff = X[idx] - centers[nearest]
            self.upper[idx] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            if n_clusters == 1:
                self.lower[idx] = np.inf
                continue
            values[np.arange(idx.size), nearest] = np.inf
            # |x - c|^2 = |x|^2 + 2 (|c|^2/2 - x.c); subtract its round-off bound
            # so the lower bound stays below the true second-nearest distance.
            x2 = self.squared_norms[idx]
            second = x2 + 2 * values.min(axis=1)
            error = 4 * (n_features + 4) * _EPS * (x2 + center_norms)
            self.lower[idx] = np.sqrt(np.maximum(second - error, 0.0))
        self.distance_evaluations += rows.size * n_clusters

    def __call__(self, X, sample_weight, centers):
        centers = np.ascontiguousarray(centers, dtype=np.float64)
        n_clusters = centers.shape[0]
        half_norms = 0.5 * np.einsum("ij,ij->i", centers, centers)
        n_blocks = _loops.block_count(X.shape[0], X.shape[1], n_clusters)
        if self.previous_centers is None:
            self._scan(X, np.arange(X.shape[0]), centers, half_norms)
        else:
            shift = np.sqrt(((centers - self.previous_centers) ** 2).sum(axis=1))
            between = cdist(centers, centers)  # direct differences: accurate when small
            np.fill_diagonal(between, np.inf)
            half_gap = 0.5 * between.min(axis=1) * (1 - _RELATIVE_SLACK)
            scale = np.sqrt(self.squared_norms.max()) + np.sqrt(2 * half_norms.max())
            needs_scan, tightened = _loosen_and_test(
                X, centers, self.labels, self.upper, self.lower, shift * (1 + _RELATIVE_SLACK),
                half_gap, _ABSOLUTE_SLACK * scale, n_blocks)
            self.distance_evaluations += int(tightened)
            self._scan(X, np.flatnonzero(needs_scan), centers, half_norms)
        self.previous_centers = centers
        sums, weights = _loops.accumulate(X, sample_weight, self.labels, n_clusters, n_blocks)
        return self.labels.copy(), sums, weights


def lloyd_step(X, sample_weight, centers):
    """One stateless step (a fresh :class:`BoundedStep`): a full scan."""
    return BoundedStep(X)(X, sample_weight, centers)
