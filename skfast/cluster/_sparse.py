"""Sparse input: scikit-learn's sparse Lloyd iteration, operation for operation.

``KMeans`` does not centre sparse data.  It computes ``|c|^2 - 2 x.c`` in
X's dtype, the dot product summed over the row's stored entries in order,
and adds the cluster sums in X's dtype in the order of
:mod:`._sklearn_order`.  The sparse engines (``sparse_lloyd_step`` and
``sparse_inertia`` in the engine contract) do the same operations in the
same order, so labels, centres, ``n_iter_`` and inertia are scikit-learn's
bit for bit, not only close.  This module holds the estimator's side: the
iteration control's pieces that differ from the dense path (the tolerance,
the empty-cluster relocation) and the ranges the engines sum over.
"""

import numpy as np
from sklearn.utils.extmath import row_norms
from sklearn.utils.sparsefuncs import mean_variance_axis

from ._sklearn_order import sklearn_threads

__all__ = ["static_ranges", "sparse_tolerance", "relocate_empty_clusters",
           "distances_to_assigned", "csr_parts", "centers_squared_norms", "sum_in_order"]


def csr_parts(X):
    """``(data, indices, indptr)`` of a CSR matrix, C-contiguous, indices as int32."""
    return (np.ascontiguousarray(X.data), np.ascontiguousarray(X.indices, dtype=np.int32),
            np.ascontiguousarray(X.indptr, dtype=np.int32))


def centers_squared_norms(centers):
    """``|c|^2`` of every centre in their dtype, as scikit-learn computes them (``row_norms``)."""
    return np.ascontiguousarray(row_norms(centers, squared=True), dtype=centers.dtype)


def static_ranges(n_samples):
    """Boundaries of an OpenMP static schedule over the samples, shape (n_threads + 1,).

    ``KMeans`` sums the inertia of sparse data in a ``prange`` with a static
    schedule: each of its threads takes one contiguous range, the first
    ``n_samples % n_threads`` of them one sample more.
    """
    n_threads = max(1, sklearn_threads())
    per_thread, extra = divmod(n_samples, n_threads)
    sizes = [per_thread + (t < extra) for t in range(n_threads)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def sparse_tolerance(X, tol):
    """``tol`` times the mean feature variance, as ``KMeans`` computes it for sparse X."""
    return float(np.mean(mean_variance_axis(X, axis=0)[1]) * tol)


def distances_to_assigned(data, indices, indptr, centers, norms, labels):
    """Squared distance of each sample to its assigned centre, as ``_euclidean_sparse_dense``.

    ``sum over stored entries of ((x - c)^2 - c^2)``, in order, plus
    ``|c|^2`` (``norms``), clipped at zero, in X's dtype.
    """
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    center_values = centers[labels[rows], indices]
    difference = data - center_values
    distances = np.zeros(indptr.size - 1, dtype=data.dtype)
    # ufunc.at adds one entry at a time, in order: the Cython loop's sums
    np.add.at(distances, rows, difference * difference - center_values * center_values)
    distances += norms[labels]
    return np.maximum(distances, 0)


def relocate_empty_clusters(X, sample_weight, centers_old, sums, weights, labels):
    """``_relocate_empty_clusters_sparse``: each empty cluster takes the farthest sample.

    The farthest samples come from the same ``argpartition`` call as in
    scikit-learn; nothing moves when every sample sits on its centre.
    """
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return
    data, indices, indptr = csr_parts(X)
    distances = distances_to_assigned(data, indices, indptr, centers_old,
                                      centers_squared_norms(centers_old), labels)
    if np.max(distances) == 0:
        return
    farthest = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
    for new_cluster, far in zip(empty, farthest):
        weight = sample_weight[far]
        old_cluster = labels[far]
        stored = slice(indptr[far], indptr[far + 1])
        point = data[stored] * weight
        sums[old_cluster, indices[stored]] -= point
        sums[new_cluster, indices[stored]] = point
        weights[new_cluster] = weight
        weights[old_cluster] -= weight


def sum_in_order(values, ranges):
    """Sum of ``values`` in their dtype, each range in order, then the ranges in order.

    As a ``prange`` reduction over a static schedule adds them (the order
    of the ranges is free for the two threads of this machine, since
    ``0 + a + b == 0 + b + a``).
    """
    total = values.dtype.type(0)
    for start, stop in zip(ranges[:-1], ranges[1:]):
        if stop > start:
            total += np.cumsum(values[start:stop])[-1]  # a cumulative sum is sequential
    return total
