"""BLAS k-means engine: scikit-learn's own GEMM per chunk, argmin and update fused with it.

Each chunk of 256 samples, at the place scikit-learn's Lloyd iteration puts
it, gets ``|c|^2 - 2 x.c`` from the very GEMM call ``KMeans`` makes
(:mod:`skfast.cluster._gemm`: the same ``scipy.linalg.cython_blas``
function, arguments and operands), so the values, and with them the labels
(the first smallest wins, as in scikit-learn), are scikit-learn's without a
tie margin or a second look at any sample.  While the chunk's values are in
cache the same compiled pass takes each row's argmin and adds the row to its
block's cluster sums.  The only temporary is one ``256 x n_clusters``
buffer per thread.  It is the dense path for data whose clusters overlap,
where distance bounds skip little and a full scan per sample is the work.

The sums are the numba engine's, by design: the same blocks of rows
(float64 data) or scikit-learn's thread ranges (float32 data), the rows
added in the same order, so the cluster sums are the numba engine's bit for
bit.  A block boundary inside a 256-sample chunk splits that chunk's GEMM in
two; OpenBLAS gives a row the same values whatever the other rows of the
call (``_ties``).  Same signatures as :mod:`skfast.cluster._reference`.
"""

import numba
import numpy as np

from .._compile import serial_twin
from . import _numba as _loops
from ._gemm import sklearn_values, squared_norms
from ._sklearn_order import SKLEARN_CHUNK, reduce_blocks, thread_ranges


@numba.njit(cache=True, parallel=True)
def _fused_pass(X, sample_weight, centers, norms, bounds):
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_parts = bounds.shape[0] - 1
    accumulate = sample_weight.shape[0] != 0
    labels = np.empty(n_samples, dtype=np.int32)
    partial_sums = np.zeros((n_parts if accumulate else 0, n_clusters, n_features),
                            dtype=X.dtype)
    partial_weights = np.zeros((n_parts if accumulate else 0, n_clusters), dtype=X.dtype)
    for part in numba.prange(n_parts):
        values = np.empty((SKLEARN_CHUNK, n_clusters), dtype=X.dtype)
        lo = bounds[part]
        while lo < bounds[part + 1]:
            # the end of scikit-learn's chunk holding lo, or of the block
            hi = min((lo // SKLEARN_CHUNK + 1) * SKLEARN_CHUNK, bounds[part + 1])
            sklearn_values(X, lo, hi, centers, norms, values)
            for r in range(hi - lo):
                # scikit-learn's scan: the first smallest value wins
                best, best_value = 0, values[r, 0]
                for k in range(1, n_clusters):
                    if values[r, k] < best_value:
                        best, best_value = k, values[r, k]
                i = lo + r
                labels[i] = best
                if accumulate:
                    weight = sample_weight[i]
                    partial_weights[part, best] += weight
                    for j in range(n_features):
                        partial_sums[part, best, j] += X[i, j] * weight
            lo = hi
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, sums, weights


# one part (small data): the same pass without threads, far cheaper to compile
_fused_pass_serial = serial_twin(_fused_pass)


def _partition(X, n_clusters):
    """Part boundaries: the numba engine's blocks (float64) or scikit-learn's ranges (float32)."""
    if X.dtype == np.float32:
        return thread_ranges(X.shape[0])
    n_blocks = _loops.block_count(X.shape[0], X.shape[1], n_clusters)
    block = -(-X.shape[0] // n_blocks)
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * block, X.shape[0])


def _run(X, sample_weight, centers):
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    bounds = _partition(X, centers.shape[0])
    kernel = _fused_pass_serial if bounds.size == 2 else _fused_pass
    return kernel(X, sample_weight, centers, squared_norms(centers), bounds)


def lloyd_step(X, sample_weight, centers, max_squared_norm=None):
    return _run(X, sample_weight.astype(X.dtype), centers)


_NO_WEIGHTS = np.empty(0)


def assign_labels(X, centers, max_squared_norm=None):
    return _run(X, _NO_WEIGHTS.astype(X.dtype), centers)[0]


inertia = _loops.inertia
sparse_lloyd_step = _loops.sparse_lloyd_step
sparse_inertia = _loops.sparse_inertia
