"""The order in which ``KMeans`` adds float32 samples, written once.

``KMeans`` accumulates float32 data in float32: its samples are cut into
chunks of :data:`SKLEARN_CHUNK`, the chunks are dealt to its OpenMP threads
in contiguous ranges (a static schedule), each thread sums its samples in
order into its own buffer, and the buffers are added to zero.  The rounding
of those sums moves float32 centres, and with them the labels of samples
near a boundary at large N, so skfast adds float32 sums the same way:
:func:`thread_ranges` gives the ranges, :func:`accumulate_ranges` the sums.
For more than two threads scikit-learn adds the buffers in completion order,
which no one can reproduce; skfast adds them in range order.
:func:`center_shift` is the shift of the centres between two iterations,
summed as scikit-learn sums it, so that the tolerance test decides alike.
"""

import contextvars
from contextlib import contextmanager

import numba
import numpy as np
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

__all__ = ["SKLEARN_CHUNK", "sklearn_thread_count", "sklearn_threads", "thread_ranges", "accumulate_ranges", "reduce_blocks",
           "center_shift"]

#: Samples per chunk in scikit-learn's Lloyd iteration (``CHUNK_SIZE``).
SKLEARN_CHUNK = 256


#: The thread count ``KMeans`` would use, read when the fit starts
#: (:func:`sklearn_thread_count`), before skfast limits any thread pool.
_SKLEARN_THREADS = contextvars.ContextVar("sklearn_threads", default=None)


@contextmanager
def sklearn_thread_count():
    """Fix, for the block, the thread count ``KMeans`` would use now.

    ``KMeans.fit`` reads ``_openmp_effective_n_threads()`` once, at its
    start.  Read later, inside skfast's own thread limits, the count can be
    lower: limiting an OpenMP build of OpenBLAS (faiss's wheel loads one)
    sets the OpenMP thread count that scikit-learn's helper reads, and one
    range instead of two changed the float32 sums, hence 26 of 100,000
    labels, on the kinds benchmark.
    """
    token = _SKLEARN_THREADS.set(_openmp_effective_n_threads())
    try:
        yield
    finally:
        _SKLEARN_THREADS.reset(token)


def sklearn_threads():
    """The thread count ``KMeans`` would use: as read when the fit started, else now."""
    return _SKLEARN_THREADS.get() or _openmp_effective_n_threads()


def thread_ranges(n_samples):
    """Boundaries of the sample ranges of scikit-learn's threads, shape (n_threads + 1,).

    The thread count is the one ``KMeans`` would use
    (``_openmp_effective_n_threads``, as read by :func:`sklearn_thread_count`
    when the fit started), never more than the chunks.
    """
    n_chunks = -(-n_samples // SKLEARN_CHUNK)
    n_parts = max(1, min(sklearn_threads(), n_chunks))
    per_part, extra = divmod(n_chunks, n_parts)
    first_chunks = [p * per_part + min(p, extra) for p in range(n_parts + 1)]
    return np.minimum(np.array(first_chunks, dtype=np.int64) * SKLEARN_CHUNK, n_samples)


@numba.njit(cache=True, nogil=True)
def reduce_blocks(partial_sums, partial_weights):
    """Sum the per-block partials in block order: thread-count independent.

    A separate serial function on purpose: written as array expressions
    inside a parallel function, each block's addition would become a
    parallel region of its own, launched once per block.
    """
    n_blocks, n_clusters, n_features = partial_sums.shape
    sums = np.zeros((n_clusters, n_features), dtype=partial_sums.dtype)
    weights = np.zeros(n_clusters, dtype=partial_weights.dtype)
    for b in range(n_blocks):
        for k in range(n_clusters):
            weights[k] += partial_weights[b, k]
            for j in range(n_features):
                sums[k, j] += partial_sums[b, k, j]
    return sums, weights


@numba.njit(cache=True, parallel=True)
def accumulate_ranges(X, sample_weight, labels, n_clusters, bounds):
    """Cluster sums and weights in X's dtype, each range in order, the ranges in order."""
    n_parts = bounds.shape[0] - 1
    n_features = X.shape[1]
    partial_sums = np.empty((n_parts, n_clusters, n_features), dtype=X.dtype)
    partial_weights = np.empty((n_parts, n_clusters), dtype=X.dtype)
    for part in numba.prange(n_parts):
        part_sums, part_weights = partial_sums[part], partial_weights[part]
        part_sums[:] = 0
        part_weights[:] = 0
        for i in range(bounds[part], bounds[part + 1]):
            k = labels[i]
            weight = sample_weight[i]
            part_weights[k] += weight
            for j in range(n_features):
                part_sums[k, j] += X[i, j] * weight
    return reduce_blocks(partial_sums, partial_weights)


@numba.njit(cache=True, nogil=True)
def same_labels(labels, labels_old):
    """``np.array_equal(labels, labels_old)`` that stops at the first difference.

    Every iteration but the last finds one early; numpy compares all
    samples and allocates their booleans (30 us a call at 100,000 samples).
    """
    if labels.shape != labels_old.shape:
        return False
    for i in range(labels.shape[0]):
        if labels[i] != labels_old[i]:
            return False
    return True


def center_shift(centers_new, centers_old):
    """Euclidean shift of each centre in its dtype, summed as scikit-learn's Cython does.

    Four features at a time (``((d0 + d1) + d2) + d3`` added to the total),
    then the remainder one by one, then the square root.
    """
    squares = (centers_new - centers_old) ** 2
    n_features = squares.shape[1]
    total = np.zeros(squares.shape[0], dtype=squares.dtype)
    for start in range(0, n_features - n_features % 4, 4):
        total += ((squares[:, start] + squares[:, start + 1]) + squares[:, start + 2]
                  + squares[:, start + 3])
    for j in range(n_features - n_features % 4, n_features):
        total += squares[:, j]
    return np.sqrt(total)
