"""BLAS k-means engine: one GEMM per chunk of rows, argmin and update fused with it.

For each chunk of rows, one GEMM (``X_chunk @ C^T``, BLAS called from inside
numba's parallel region, one BLAS thread per block of rows) gives the cross
products; while they are in cache, the same compiled pass takes each row's
nearest and runner-up value of ``|c|^2/2 - x.c`` and adds the row to its
block's cluster sums.  The only temporary is one ``chunk x n_clusters``
buffer per block.  It is the dense path for data whose clusters overlap,
where distance bounds skip little and a full scan per sample is the work.

Everything else is the numba engine's, by design: the same blocks of rows
(float64 data) or scikit-learn's thread ranges (float32 data), the rows
added in the same order, so the cluster sums are the numba engine's bit for
bit; the same near-tie margin, the flagged samples settled by
scikit-learn's expression (``_ties.settle``), so the labels are too.  Same
signatures as :mod:`skfast.cluster._reference`.
"""

import numba
import numpy as np

from .._compile import serial_twin
from . import _numba as _loops
from ._sklearn_order import reduce_blocks, thread_ranges

# Bytes of one chunk's cross products: a chunk's rows of X, its products and
# the centres stay in the core's L2 cache while the pass reads them.
_CHUNK_BYTES = 256 * 2**10


def chunk_rows(n_clusters, itemsize):
    """Rows per GEMM call: enough for BLAS to run near its peak, few enough for L2."""
    return int(max(64, min(1024, _CHUNK_BYTES // (itemsize * max(n_clusters, 1)))))


@numba.njit(cache=True, parallel=True)
def _fused_pass(X, sample_weight, centers_t, half_norms, margin, bounds, chunk):
    n_samples, n_features = X.shape
    n_clusters = centers_t.shape[1]
    n_parts = bounds.shape[0] - 1
    accumulate = sample_weight.shape[0] != 0
    labels = np.empty(n_samples, dtype=np.int32)
    unsure = np.empty(n_samples, dtype=np.bool_)
    partial_sums = np.zeros((n_parts if accumulate else 0, n_clusters, n_features),
                            dtype=X.dtype)
    partial_weights = np.zeros((n_parts if accumulate else 0, n_clusters), dtype=X.dtype)
    for part in numba.prange(n_parts):
        products = np.empty((chunk, n_clusters), dtype=X.dtype)
        for lo in range(bounds[part], bounds[part + 1], chunk):
            hi = min(lo + chunk, bounds[part + 1])
            cross = products[:hi - lo]
            np.dot(X[lo:hi], centers_t, cross)
            for r in range(hi - lo):
                best, best_value, second_value = 0, np.inf, np.inf
                for k in range(n_clusters):
                    value = half_norms[k] - cross[r, k]
                    # branch-free runner-up: the larger of (value, best) can only be it
                    second_value = min(second_value, max(value, best_value))
                    if value < best_value:
                        best, best_value = k, value
                i = lo + r
                labels[i] = best
                unsure[i] = _loops.near_tie(best_value, second_value, margin)
                if accumulate:
                    weight = sample_weight[i]
                    partial_weights[part, best] += weight
                    for j in range(n_features):
                        partial_sums[part, best, j] += X[i, j] * weight
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, unsure, sums, weights


# one part (small data): the same pass without threads, far cheaper to compile
_fused_pass_serial = serial_twin(_fused_pass)


def _partition(X, n_clusters):
    """Part boundaries: the numba engine's blocks (float64) or scikit-learn's ranges (float32)."""
    if X.dtype == np.float32:
        return thread_ranges(X.shape[0])
    n_blocks = _loops.block_count(X.shape[0], X.shape[1], n_clusters)
    block = -(-X.shape[0] // n_blocks)
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * block, X.shape[0])


def _run(X, sample_weight, centers, max_squared_norm):
    _, _, half_norms, margin = _loops._prepared(X, centers, max_squared_norm)
    centers_t = np.ascontiguousarray(centers.T, dtype=X.dtype)
    bounds = _partition(X, centers.shape[0])
    kernel = _fused_pass_serial if bounds.size == 2 else _fused_pass
    return kernel(X, sample_weight, centers_t, half_norms.astype(X.dtype), margin, bounds,
                  chunk_rows(centers.shape[0], X.dtype.itemsize)), bounds


def lloyd_step(X, sample_weight, centers, max_squared_norm=None):
    weights = sample_weight.astype(X.dtype)
    (labels, unsure, sums, cluster_weights), bounds = _run(X, weights, centers, max_squared_norm)
    if _loops.settle_near_ties(X, centers, labels, unsure):
        if X.dtype == np.float32:
            sums, cluster_weights = _loops.accumulate_ranges(X, weights, labels,
                                                             centers.shape[0], bounds)
        else:
            sums, cluster_weights = _loops.accumulate(X, sample_weight, labels,
                                                      centers.shape[0], bounds.size - 1)
    return labels, sums, cluster_weights


_NO_WEIGHTS = np.empty(0)


def assign_labels(X, centers, max_squared_norm=None):
    (labels, unsure, _, _), _ = _run(X, _NO_WEIGHTS.astype(X.dtype), centers, max_squared_norm)
    _loops.settle_near_ties(X, centers, labels, unsure)
    return labels


inertia = _loops.inertia
sparse_lloyd_step = _loops.sparse_lloyd_step
sparse_inertia = _loops.sparse_inertia
