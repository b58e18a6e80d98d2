"""BLAS k-means engine: a float32 GEMM per cache-sized chunk, checked, argmin and update fused.

Each chunk of rows (:func:`chunk_rows`: 256 to 4,096, sized to stay in L2)
gets ``|c|^2/2 - x.c`` from one single-precision GEMM, whatever the
data's dtype: float32 runs the product at twice float64's rate on every
CPU.  Float64 rows are scaled by a power of two
(exact) into float32's range while they are copied into the chunk.

The float32 values decide a sample only when its best is ahead of every
other centre by more than both evaluations' rounding can move them (the
tie rule of ``_ties``): value ``k`` of row ``x`` is given the bound
``margin_factor(d + 2, float32) (|x| |c_k| + |c_k|^2)``, the ``+ 2`` for
rounding x and c to float32, and each centre's own, so that one far
centre does not widen every row's.  Then the order is the exact one, hence
scikit-learn's.  The few other samples are decided after the pass, in as
few calls as there are groups of 256, by scikit-learn's own expression and
GEMM call in the data's dtype (``_ties.settle``, each call of the size
scikit-learn makes for its rows); only the clusters a settled sample left or
joined are summed again, in row order, in its block.  So the labels are the
numpy engine's and scikit-learn's on every input, ties included.  Where
float32 cannot order the centres at all (clusters closer than 1e-7 of the
data's magnitude), every sample goes the exact way: slower, never wrong.

The values are stored centre-major up to 8 clusters (the scan runs across
rows in SIMD lanes) and row-major above (:func:`_by_row`).

While the chunk is in cache the same compiled pass adds its rows to their
clusters' sums.  The sums are the numba engine's, by design: the same
blocks of rows (float64 data) or scikit-learn's thread ranges (float32
data), the rows added in the same order, so the cluster sums are the numba
engine's bit for bit.  The only temporaries are one chunk of float32 rows
and values per thread.  Same signatures as :mod:`skfast.cluster._reference`.
"""

import numba
import numpy as np

from .._compile import serial_twin
from . import _numba as _loops
from ._gemm import single_precision_values, squared_norms
from ._sklearn_order import SKLEARN_CHUNK, reduce_blocks, thread_ranges
from ._ties import margin_factor, settle

# Bytes of one chunk's working set per row: its float64 row (read by the
# copy, then by the accumulation), its float32 copy and its float32 values.
# Measured on the benchmark machine (1 MiB of L2 per core): chunks of
# 256-512 rows run 10-50% faster than 4,096 at (d, k) = (2, 100), (64, 256)
# and (256, 50), where a larger chunk pushes the rows out of L2 before the
# accumulation reads them again; at k <= 10 the size hardly matters.
_CHUNK_BYTES = 256 * 2**10
_MAX_CHUNK_ROWS = 4096


def chunk_rows(n_features, n_clusters):
    """Rows per chunk: a working set of about :data:`_CHUNK_BYTES`, at least scikit-learn's 256."""
    per_row = 12 * n_features + 4 * n_clusters
    return int(max(SKLEARN_CHUNK, min(_MAX_CHUNK_ROWS, _CHUNK_BYTES // per_row)))


@numba.njit(cache=True, nogil=True)
def _scan(values, n_rows, reaches, reach_slope, reach_offset, best, best_value, threshold, close):
    """Each row's label (the first smallest value) and how many centres may still beat it.

    ``values[k, r]``: centres outer, rows inner, so that every step runs
    across rows in SIMD lanes.  Value ``k`` of row ``r`` errs by at most
    ``reaches[r] * reach_slope[k] + reach_offset[k]`` (``factor (|x| |c_k| +
    |c_k|^2)``, scaled); the label is certain when every other value minus
    its bound exceeds the best plus its own, i.e. when ``close[r] == 1``.
    """
    n_clusters = values.shape[0]
    for r in range(n_rows):
        best[r] = 0
        best_value[r] = values[0, r]
    for k in range(1, n_clusters):
        for r in range(n_rows):
            value = values[k, r]
            smaller = value < best_value[r]  # strict: the first smallest stays
            best[r] = k if smaller else best[r]
            best_value[r] = value if smaller else best_value[r]
    for r in range(n_rows):
        k = best[r]
        threshold[r] = (np.float64(best_value[r]) + reaches[r] * reach_slope[k]) + reach_offset[k]
        close[r] = 0
    for k in range(n_clusters):
        slope, offset = reach_slope[k], reach_offset[k]
        for r in range(n_rows):
            close[r] += (np.float64(values[k, r]) - reaches[r] * slope) - offset <= threshold[r]


@numba.njit(cache=True, nogil=True)
def _scan_by_row(values, n_rows, reaches, reach_slope, reach_offset, best, threshold, close):
    """:func:`_scan` of row-major values (``values[r, k]``): each row's loops run across centres."""
    n_clusters = values.shape[1]
    for r in range(n_rows):
        label, best_value = 0, values[r, 0]
        for k in range(1, n_clusters):
            if values[r, k] < best_value:  # strict: the first smallest stays
                label, best_value = k, values[r, k]
        best[r] = label
        reach = reaches[r]
        limit = (np.float64(best_value) + reach * reach_slope[label]) + reach_offset[label]
        threshold[r] = limit
        count = 0
        for k in range(n_clusters):
            count += (np.float64(values[r, k]) - reach * reach_slope[k]) - reach_offset[k] <= limit
        close[r] = count


@numba.njit(cache=True, parallel=True)
def _fused_pass(X, sample_weight, centers32, half_norms32, scale, reach_slope, reach_offset,
                bounds, chunk, by_row):
    n_samples, n_features = X.shape
    n_clusters = centers32.shape[0]
    n_parts = bounds.shape[0] - 1
    accumulate = sample_weight.shape[0] != 0
    labels = np.empty(n_samples, dtype=np.int32)
    unsure = np.zeros(n_samples, dtype=np.bool_)
    partial_sums = np.zeros((n_parts if accumulate else 0, n_clusters, n_features),
                            dtype=X.dtype)
    partial_weights = np.zeros((n_parts if accumulate else 0, n_clusters), dtype=X.dtype)
    single = X.itemsize == 4
    for part in numba.prange(n_parts):
        rows32 = np.empty((0 if single else chunk, n_features), dtype=np.float32)
        values = np.empty((chunk, n_clusters) if by_row else (n_clusters, chunk),
                          dtype=np.float32)
        reaches = np.empty(chunk)
        best = np.empty(chunk, dtype=np.int32)
        best_value = np.empty(chunk, dtype=np.float32)
        threshold = np.empty(chunk)
        close = np.empty(chunk, dtype=np.int32)
        lo = bounds[part]
        while lo < bounds[part + 1]:
            hi = min(lo + chunk, bounds[part + 1])
            for r in range(hi - lo):
                squared = 0.0
                for j in range(n_features):
                    value = np.float64(X[lo + r, j])
                    squared += value * value
                    if not single:
                        rows32[r, j] = np.float32(value * scale)
                reaches[r] = scale * np.sqrt(squared)
            # float32 data (in range, unscaled) goes to the GEMM as it is
            if single:
                single_precision_values(X[lo:hi], hi - lo, centers32, half_norms32, values,
                                        by_row)
            else:
                single_precision_values(rows32, hi - lo, centers32, half_norms32, values, by_row)
            if by_row:
                _scan_by_row(values, hi - lo, reaches, reach_slope, reach_offset, best,
                             threshold, close)
            else:
                _scan(values, hi - lo, reaches, reach_slope, reach_offset, best, best_value,
                      threshold, close)
            for r in range(hi - lo):
                labels[lo + r] = best[r]
                unsure[lo + r] = close[r] > 1
            if accumulate:
                for i in range(lo, hi):
                    label = labels[i]
                    weight = sample_weight[i]
                    partial_weights[part, label] += weight
                    for j in range(n_features):
                        partial_sums[part, label, j] += X[i, j] * weight
            lo = hi
    return labels, unsure, partial_sums, partial_weights


@numba.njit(cache=True, nogil=True)
def _resum_changed(X, sample_weight, labels, rows, old_labels, bounds, partial_sums,
                   partial_weights):
    """Sum again, in row order, the clusters of each part that a settled row left or joined.

    Only those clusters' sums can differ from a pass with the final labels,
    and summing all of a cluster's rows of the part again, in order, gives
    that pass's bits.
    """
    n_clusters = partial_weights.shape[1]
    affected = np.zeros(n_clusters, dtype=np.bool_)
    part, r = 0, 0
    while r < rows.shape[0]:
        while rows[r] >= bounds[part + 1]:
            part += 1
        affected[:] = False
        while r < rows.shape[0] and rows[r] < bounds[part + 1]:
            if labels[rows[r]] != old_labels[r]:
                affected[labels[rows[r]]] = True
                affected[old_labels[r]] = True
            r += 1
        if not affected.any():
            continue
        for k in range(n_clusters):
            if affected[k]:
                partial_sums[part, k] = 0
                partial_weights[part, k] = 0
        for i in range(bounds[part], bounds[part + 1]):
            label = labels[i]
            if affected[label]:
                weight = sample_weight[i]
                partial_weights[part, label] += weight
                for j in range(X.shape[1]):
                    partial_sums[part, label, j] += X[i, j] * weight


# one part (small data): the same pass without threads, far cheaper to compile
_fused_pass_serial = serial_twin(_fused_pass)


# Above this many clusters the values are stored row-major: measured on the
# benchmark machine (one pass, both dtypes, labels and sums identical), the
# row-major GEMM and scan were 1.02-1.20x faster at (d, k) = (64, 10),
# (2, 100), (64, 256) and (256, 50) (OpenBLAS's sgemm packs the few centres
# once), and 0.92-0.99x at (10, 5), where the scan across rows in SIMD lanes wins.
_BY_ROW_MIN_CLUSTERS = 9


def _by_row(n_features, n_clusters):
    """Whether the values are stored row-major (``_gemm.single_precision_values``)."""
    return n_clusters >= _BY_ROW_MIN_CLUSTERS


def _partition(X, n_clusters):
    """Part boundaries: the numba engine's blocks (float64) or scikit-learn's ranges (float32)."""
    if X.dtype == np.float32:
        return thread_ranges(X.shape[0])
    n_blocks = _loops.block_count(X.shape[0], X.shape[1], n_clusters)
    block = -(-X.shape[0] // n_blocks)
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * block, X.shape[0])


def _single_precision_scale(max_squared_norm, centers):
    """Power of two bringing the largest |x| and |c| to at most 1: float32 can hold the product."""
    largest = max(float(max_squared_norm), float(squared_norms(centers).max()), 0.0)
    if largest == 0.0 or not np.isfinite(largest):
        return 1.0
    return float(np.ldexp(1.0, -int(np.frexp(np.sqrt(largest))[1])))


def _run(X, sample_weight, centers, max_squared_norm=None):
    """One fused pass; returns labels, sums, weights and how many samples the exact expression decided."""
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    centers64 = centers.astype(np.float64)
    if max_squared_norm is None:
        max_squared_norm = (float(_loops.row_squared_norms(X).max()) if X.shape[0] else 0.0)
    # float32 data is kept inside float32's range by the fit (``_safe_bounds``)
    scale = 1.0 if X.dtype == np.float32 else _single_precision_scale(max_squared_norm,
                                                                       centers64)
    scaled = centers64 * scale
    centers32 = np.ascontiguousarray(scaled, dtype=np.float32)
    scaled_squared = np.einsum("ij,ij->i", scaled, scaled)
    half_norms32 = (0.5 * scaled_squared).astype(np.float32)
    # each value's rounding bound, factor (|x| |c_k| + |c_k|^2), in scaled units
    factor = margin_factor(X.shape[1] + 2, np.float32)
    reach_slope, reach_offset = factor * np.sqrt(scaled_squared), factor * scaled_squared
    bounds = _partition(X, centers.shape[0])
    kernel = _fused_pass_serial if bounds.size == 2 else _fused_pass
    labels, unsure, partial_sums, partial_weights = kernel(
        X, sample_weight, centers32, half_norms32, scale, reach_slope, reach_offset, bounds,
        chunk_rows(*centers.shape[::-1]), _by_row(*centers.shape[::-1]))
    rows = np.flatnonzero(unsure)
    if rows.size:
        # after the pass, in as few of scikit-learn's calls as there are rows
        old_labels = labels[rows]
        if settle(X, centers, rows, labels) and sample_weight.size:
            _resum_changed(X, sample_weight, labels, rows, old_labels, bounds, partial_sums,
                           partial_weights)
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, sums, weights, rows.size


def lloyd_step(X, sample_weight, centers, max_squared_norm=None):
    return _run(X, sample_weight.astype(X.dtype), centers, max_squared_norm)[:3]


_NO_WEIGHTS = np.empty(0)


def assign_labels(X, centers, max_squared_norm=None):
    return _run(X, _NO_WEIGHTS.astype(X.dtype), centers, max_squared_norm)[0]


inertia = _loops.inertia
sparse_lloyd_step = _loops.sparse_lloyd_step
sparse_inertia = _loops.sparse_inertia
