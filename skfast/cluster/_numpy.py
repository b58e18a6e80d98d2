"""NumPy k-means kernels: dense algebra through BLAS, in bounded chunks.

Distances use the identity ``|x - c|^2 = |x|^2 + |c|^2 - 2 x.c``.  ``|x|^2``
is the same for every centre of a sample, so the argmin skips it (as
scikit-learn does).  The labels come from ``KMeans``' own GEMM call for each
256 samples (``_ties.sklearn_values``): scikit-learn's labels by construction.
The inertia and the sparse kernels work in chunks that bound their
temporaries, whatever ``n_samples``.
Same signatures as :mod:`skfast.cluster._reference`.
"""

import numpy as np
import scipy.sparse as sp

from ._sklearn_order import SKLEARN_CHUNK
from ._sparse import distances_to_assigned, sum_in_order
from .._engines import blas_threads
from ._ties import blas_ready, sklearn_call_slots, sklearn_values

# Bytes allowed for one chunk's temporaries: large enough that the product
# runs near GEMM peak, small enough to stay in the last-level cache's league.
_CHUNK_BYTES = 8 * 2**20


def row_chunks(n_samples, n_features, n_clusters):
    rows = max(256, _CHUNK_BYTES // (8 * max(n_clusters, n_features)))
    for start in range(0, n_samples, rows):
        yield slice(start, min(start + rows, n_samples))


def half_distances(X_chunk, centers, half_center_norms):
    """``|c|^2 / 2 - x.c`` for every (sample, centre): half the distance minus ``|x|^2``."""
    # aligned operands, or numpy's @ runs its own loop instead of BLAS (_ties.blas_ready)
    cross = blas_ready(X_chunk, X_chunk.dtype) @ blas_ready(centers, centers.dtype).T
    np.subtract(half_center_norms, cross, out=cross)
    return cross


def lloyd_step(X, sample_weight, centers, squared_norms=None):
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    labels = assign_labels(X, centers)
    # The update is a product with the weighted one-hot assignment matrix.
    # Stored sparse it costs O(n_samples x n_features), where a dense one-hot
    # product would cost another n_samples x n_clusters x n_features.
    assignment = sp.csr_matrix((sample_weight, (labels, np.arange(n_samples))),
                               shape=(n_clusters, n_samples))
    sums = np.asarray(assignment @ X, dtype=np.float64)
    weights = np.bincount(labels, weights=sample_weight, minlength=n_clusters)
    return labels, sums, weights


def assign_labels(X, centers, squared_norms=None):
    # scikit-learn's own GEMM calls, one per 256 rows (_ties.sklearn_values):
    # a row's values are KMeans' only at its slot of a call of its size
    n_samples, n_features = X.shape
    labels = np.empty(n_samples, dtype=np.int32)
    centers = blas_ready(centers, X.dtype)
    center_norms = np.einsum("ij,ij->i", centers, centers)
    slots, in_tail, tail = sklearn_call_slots(np.arange(n_samples), n_samples)
    with blas_threads(1):
        start = 0
        while start < n_samples:
            call_rows = tail if in_tail[start] else SKLEARN_CHUNK
            stop = min(start + call_rows - int(slots[start]), n_samples)
            if slots[start] == 0 and stop - start == call_rows:
                block = blas_ready(X[start:stop], X.dtype)
            else:  # part of a call (a chunk of a larger X): zeros elsewhere
                block = np.zeros((call_rows, n_features), dtype=X.dtype)
                block[slots[start]:slots[start] + stop - start] = X[start:stop]
            values = sklearn_values(block, centers, center_norms)
            labels[start:stop] = values[slots[start]:slots[start] + stop - start].argmin(axis=1)
            start = stop
    return labels


def inertia(X, sample_weight, centers, labels):
    total = 0.0
    for rows in row_chunks(X.shape[0], X.shape[1], centers.shape[0]):
        diff = X[rows] - centers[labels[rows]]
        # Not a BLAS dot: its threaded reduction order would depend on n_threads.
        total += float((np.einsum("ij,ij->i", diff, diff) * sample_weight[rows]).sum())
    return total


# --- sparse input (CSR parts): scipy's product, numpy's ordered scatter-add ---

def sparse_lloyd_step(data, indices, indptr, sample_weight, centers, centers_squared_norms,
                      ranges, update_centers=True):
    n_samples = indptr.size - 1
    n_clusters, n_features = centers.shape
    X = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    two = data.dtype.type(2)
    labels = np.empty(n_samples, dtype=np.int32)
    for rows in row_chunks(n_samples, 1, n_clusters):
        # scipy sums each row's stored entries in order, in X's dtype: the
        # dot products KMeans' Cython computes
        labels[rows] = (centers_squared_norms - two * (X[rows] @ centers.T)).argmin(axis=1)
    if not update_centers:
        return labels, np.zeros((0, n_features), data.dtype), np.zeros(0, data.dtype)
    sums = np.zeros((n_clusters, n_features), dtype=data.dtype)
    weights = np.zeros(n_clusters, dtype=data.dtype)
    for start, stop in zip(ranges[:-1], ranges[1:]):
        # The range's weighted one-hot assignment times its rows: scipy's
        # sparse product adds, for each (cluster, feature), the samples'
        # products in sample order, in X's dtype -- each thread's sums.
        assignment = sp.csr_matrix(
            (sample_weight[start:stop], (labels[start:stop], np.arange(stop - start))),
            shape=(n_clusters, stop - start))
        sums += (assignment @ X[start:stop]).toarray()
        range_weights = np.zeros_like(weights)
        np.add.at(range_weights, labels[start:stop], sample_weight[start:stop])  # in order
        weights += range_weights
    return labels, sums, weights


def sparse_inertia(data, indices, indptr, sample_weight, centers, centers_squared_norms, labels,
                   ranges):
    distances = distances_to_assigned(data, indices, indptr, centers, centers_squared_norms,
                                      labels)
    return float(sum_in_order(distances * sample_weight, ranges))
