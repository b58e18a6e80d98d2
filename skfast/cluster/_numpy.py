"""NumPy k-means kernels: dense algebra through BLAS, in bounded chunks.

Distances use the identity ``|x - c|^2 = |x|^2 + |c|^2 - 2 x.c`` with the
cross term as one matrix product per chunk of samples.  ``|x|^2`` is the same
for every centre of a sample, so the argmin skips it (as scikit-learn does).
Chunks bound the ``chunk x n_clusters`` temporaries, whatever ``n_samples``.
Same signatures as :mod:`skfast.cluster._reference`.
"""

import numpy as np
import scipy.sparse as sp

from ._sklearn_order import SKLEARN_CHUNK
from ._sparse import distances_to_assigned, sum_in_order
from ._ties import blas_ready, sklearn_call_rows

# Bytes allowed for one chunk's temporaries: large enough that the product
# runs near GEMM peak, small enough to stay in the last-level cache's league.
_CHUNK_BYTES = 8 * 2**20


def row_chunks(n_samples, n_features, n_clusters):
    rows = max(256, _CHUNK_BYTES // (8 * max(n_clusters, n_features)))
    for start in range(0, n_samples, rows):
        yield slice(start, min(start + rows, n_samples))


def sklearn_sized_chunks(n_samples, n_features, n_clusters):
    """``(rows, call_rows)``: :func:`row_chunks` cut where scikit-learn's calls are.

    OpenBLAS computes a small product with other kernels, whose values can
    differ in the last bit (``_ties.sklearn_call_rows``): the rows of
    scikit-learn's last chunk of ``n_samples % 256`` get a call of that
    size, and a shorter piece of its full chunks (in a chunk of a Dask
    array) a call padded to 256 rows.
    """
    tail_start, tail = sklearn_call_rows(n_samples)
    rows = max(SKLEARN_CHUNK, _CHUNK_BYTES // (8 * max(n_clusters, n_features)))
    rows -= rows % SKLEARN_CHUNK
    for start in range(0, tail_start, rows):
        stop = min(start + rows, tail_start)
        yield slice(start, stop), max(stop - start, SKLEARN_CHUNK)
    if tail_start < n_samples:
        yield slice(tail_start, n_samples), tail


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
    n_samples, n_features = X.shape
    labels = np.empty(n_samples, dtype=np.int32)
    half_norms = 0.5 * np.einsum("ij,ij->i", centers, centers)
    for rows, call_rows in sklearn_sized_chunks(n_samples, n_features, centers.shape[0]):
        chunk = X[rows]
        if chunk.shape[0] < call_rows:  # zeros after: they change no other row's value
            chunk = np.concatenate([chunk, np.zeros((call_rows - chunk.shape[0], n_features),
                                                    dtype=X.dtype)])
        labels[rows] = half_distances(chunk, centers, half_norms)[:rows.stop - rows.start].argmin(
            axis=1)
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
