"""BLAS k-means engine: a GEMM per cache-sized chunk of X, checked, argmin and update fused.

Each chunk of rows (:func:`chunk_rows`: 256 to 1,024, its rows and values
sized to stay in L2) gets ``|c|^2/2 - x.c`` from one GEMM.  float32 data goes to
``sgemm`` as it is.  float64 rows are copied into float32, scaled by a
power of two (exact) into its range, for a product at twice float64's rate
(:func:`_single_precision`), except where the product is too small to pay
for the copy: there ``dgemm`` reads them straight from X.  The rows' norms,
which the rounding bounds need, come from the fit, computed once.

The values decide a sample only when its best is ahead of every other
centre by more than both evaluations' rounding can move them (the tie rule
of ``_ties``): value ``k`` of row ``x`` is given the bound
``margin_factor(d, dtype) (|x| |c_k| + |c_k|^2)`` in the GEMM's dtype
(``d + 2`` in float32, for x, c and the half norms rounded to it), each
centre's own, so that one far centre does not widen every row's.  Then the order is the exact one,
hence scikit-learn's.  The few other samples are decided after the pass,
in as few calls as there are groups of 256, by scikit-learn's own
expression and GEMM call (``_ties.settle``, each call of the size
scikit-learn makes for its rows); only the clusters a settled sample left
or joined are summed again, in row order, in its block.  So the labels are
the numpy engine's and scikit-learn's on every input, ties included.

The values are stored centre-major (the scan runs across rows in SIMD
lanes) or, for many features and few clusters, row-major
(:func:`_by_row`).

While the chunk is in cache the same compiled pass adds its rows to their
clusters' sums.  The sums are the numba engine's, by design: the same
blocks of rows (float64 data) or scikit-learn's thread ranges (float32
data), the rows added in the same order, so the cluster sums are the numba
engine's bit for bit.  The only temporaries are one chunk of values (and
of float32 rows) per thread.  Same signatures as :mod:`skfast.cluster._reference`.
"""

import numba
import numpy as np

from .._compile import serial_twin
from . import _numba as _loops
from ._gemm import gemm_values
from ._gemm import squared_norms as centre_squared_norms
from ._sklearn_order import SKLEARN_CHUNK, reduce_blocks, thread_ranges
from ._ties import margin_factor, settle

# Bytes of one chunk's values.  Measured on the benchmark machine (1 MiB of
# L2 per core, one pass, both dtypes, interleaved): chunks whose values
# take about 200 KiB ran fastest, 1.3-1.7x faster than 2,048 rows at
# (d, k) = (2, 100) and 1.2-1.5x faster than 256 rows at (64, 10); at
# (10, 5) and (64, 256) the size hardly mattered.  At most 1,024 rows: at
# (10, 5), float64, 1,024 rows ran 1.06-1.4x faster than 2,048 (OpenBLAS's
# Haswell and SkylakeX kernels, interleaved).
_VALUES_BYTES = 200 * 2**10
_MAX_CHUNK_ROWS = 1024
# Bytes of one chunk's rows of X, their float32 copy and its values: the
# scan and the accumulation read the rows again after the GEMM, from L2 only
# if all of them fit beside OpenBLAS's packed blocks.  Binding only for
# wide rows: at (256, 50), 16 interleaved passes of 1,000,000 rows
# (SkylakeX kernel, 1.25 MiB of L2 per core), 256 rows ran 1.15x faster
# than 1,024 for float64 data and 1.09x for float32 data; 640 rows, 1.08x.
_CHUNK_BYTES = 768 * 2**10


def chunk_rows(dtype, gemm_dtype, n_features, n_clusters):
    """Rows per chunk, 256 (scikit-learn's) to 1,024: values of about :data:`_VALUES_BYTES`,
    the whole chunk within :data:`_CHUNK_BYTES`; ``dtype``: X's."""
    gemm_size = np.dtype(gemm_dtype).itemsize
    copy_size = gemm_size if np.dtype(gemm_dtype) != np.dtype(dtype) else 0
    row_bytes = n_features * (np.dtype(dtype).itemsize + copy_size) + n_clusters * gemm_size
    rows = min(_VALUES_BYTES // (gemm_size * n_clusters), _CHUNK_BYTES // row_bytes)
    return int(max(SKLEARN_CHUNK, min(_MAX_CHUNK_ROWS, rows)))


@numba.njit(cache=True, nogil=True, inline="always")
def _contenders(row_values, reach, reach_slope, reach_offset, label):
    """How many centres may still beat ``label`` (itself included): 1 when the label is certain.

    Value ``k`` errs by at most ``reach * reach_slope[k] + reach_offset[k]``
    (``factor (|x| |c_k| + |c_k|^2)``); a centre contends when its value
    minus its bound does not exceed the best plus the best's own.
    """
    limit = (np.float64(row_values[label]) + reach * reach_slope[label]) + reach_offset[label]
    count = 0
    for k in range(row_values.shape[0]):
        count += (np.float64(row_values[k]) - reach * reach_slope[k]) - reach_offset[k] <= limit
    return count


@numba.njit(cache=True, nogil=True, inline="always")
def _clear(best_value, second_value, reach, widest_slope, widest_offset):
    """Whether the runner-up is further than any two values' bounds: no need to count contenders.

    ``2 (reach * max slope + max offset)`` bounds the best's error plus any
    other's, so a clear row has exactly one contender (``_contenders``).
    """
    gap = np.float64(second_value) - np.float64(best_value)
    return gap > 2.0 * (reach * widest_slope + widest_offset)


# A centre's bound is wide when its slope or offset exceeds this many times
# the centres' median; at most this share of the centres is treated so.  On
# the heavy-tailed kind at (d, k) = (2, 100), 12 wide centres of 100 took the
# rows whose runner-up is near from 73% to 2.6%, and the scan 1.2x faster.
_WIDE_RATIO = 4.0
_WIDE_SHARE = 1 / 8


@numba.njit(cache=True, nogil=True)
def wide_bounds(reach_slope, reach_offset):
    """The centres whose bounds are far wider than most, and the widest bound of the others.

    Returns ``(wide, narrow_slope, narrow_offset)``: ``wide`` the indices of
    at most :data:`_WIDE_SHARE` of the centres, those whose slope or offset
    exceeds :data:`_WIDE_RATIO` times the median, widest first; the maxima
    of the slope and offset over all other centres (:func:`_scan` tests
    each wide centre on its own and the others together).  Compiled: once
    per pass, where numpy's calls cost a tenth of a pass at (d, k) = (10, 5).
    """
    n_clusters = reach_slope.shape[0]
    slope_median, offset_median = np.median(reach_slope), np.median(reach_offset)
    width = np.zeros(n_clusters)
    n_wide = 0
    for k in range(n_clusters):
        # a zero median makes every nonzero bound wide (and 0 / 0 narrow)
        if reach_slope[k] > _WIDE_RATIO * slope_median:
            width[k] = np.inf if slope_median == 0 else reach_slope[k] / slope_median
        if reach_offset[k] > _WIDE_RATIO * offset_median:
            width[k] = max(width[k], np.inf if offset_median == 0
                           else reach_offset[k] / offset_median)
        n_wide += width[k] > 0
    n_wide = min(n_wide, int(n_clusters * _WIDE_SHARE))
    wide = np.argsort(-width, kind="mergesort")[:n_wide]
    narrow = np.ones(n_clusters, dtype=np.bool_)
    narrow[wide] = False
    narrow_slope, narrow_offset = 0.0, 0.0
    for k in range(n_clusters):
        if narrow[k]:
            narrow_slope = max(narrow_slope, reach_slope[k])
            narrow_offset = max(narrow_offset, reach_offset[k])
    return wide, narrow_slope, narrow_offset


# Above this share of a chunk's rows with a near runner-up, the next test
# (and then the count of contenders) runs for every row at once, across
# rows in SIMD lanes, instead of row by row down a strided column of the
# values.  Measured on the heavy-tailed kind at (d, k) = (2, 100), where far
# centres widen the prefilter's bound (72% of the rows failed it, 0.02% had
# a second contender).
_COUNT_ALL_SHARE = 1 / 16


@numba.njit(cache=True, nogil=True)
def _scan(values, n_rows, reaches, reach_slope, reach_offset, best, best_value, second_value,
          close, limits, wide, narrow_slope, narrow_offset):
    """Each row's label (the first smallest value) and how many centres may still beat it.

    ``values[k, r]``: centres outer, rows inner, so that every step runs
    across rows in SIMD lanes.  Only rows whose runner-up is near
    (:func:`_clear`) need their contenders counted (:func:`_contenders`).
    When many are, the wide bounds of a few far centres are the likely
    cause, and a finer test runs first, across rows: the best's own bound
    (``limits[r]``, its value plus it) against the runner-up less the
    widest bound among the other centres (``narrow_slope``,
    ``narrow_offset``), and each centre of ``wide`` on its own.  Rows that
    fail it are counted, all at once when many do, the same comparisons.
    The label is certain when ``close[r] == 1``.
    """
    n_clusters = values.shape[0]
    widest_slope, widest_offset = reach_slope.max(), reach_offset.max()
    for r in range(n_rows):
        best[r] = 0
        best_value[r] = values[0, r]
        second_value[r] = np.inf
    for k in range(1, n_clusters):
        for r in range(n_rows):
            value = values[k, r]
            current = best_value[r]
            # branch-free runner-up: the larger of (value, best) can only be it.
            # np.minimum / np.maximum, not min / max: numba's builtins kept
            # this loop out of SIMD lanes on the AMD EPYC benchmark machine
            # (znver3; the scan ran 2.7x slower at (d, k) = (2, 100))
            second_value[r] = np.minimum(second_value[r], np.maximum(value, current))
            smaller = value < current  # strict: the first smallest stays
            best[r] = k if smaller else best[r]
            best_value[r] = value if smaller else current
    near = 0
    for r in range(n_rows):
        close[r] = 1
        if not _clear(best_value[r], second_value[r], reaches[r], widest_slope, widest_offset):
            close[r] = 0
            near += 1
    if near > _COUNT_ALL_SHARE * n_rows:
        near = 0
        for r in range(n_rows):
            label = best[r]
            limits[r] = ((np.float64(best_value[r]) + reaches[r] * reach_slope[label])
                         + reach_offset[label])
            # every centre outside ``wide`` is at least the runner-up's value
            # away, with at most the narrow bound
            close[r] = np.int32(((np.float64(second_value[r]) - reaches[r] * narrow_slope)
                                 - narrow_offset) > limits[r])
        for w in range(wide.shape[0]):
            k = wide[w]
            for r in range(n_rows):
                contends = ((np.float64(values[k, r]) - reaches[r] * reach_slope[k])
                            - reach_offset[k]) <= limits[r]
                close[r] = 0 if contends and best[r] != k else close[r]
        for r in range(n_rows):
            near += 1 - close[r]
        if near > _COUNT_ALL_SHARE * n_rows:
            for r in range(n_rows):
                close[r] = 0
            for k in range(n_clusters):
                for r in range(n_rows):
                    close[r] += ((np.float64(values[k, r]) - reaches[r] * reach_slope[k])
                                 - reach_offset[k]) <= limits[r]
            return
    if near:
        for r in range(n_rows):
            if close[r] == 0:
                close[r] = _contenders(values[:, r], reaches[r], reach_slope, reach_offset,
                                       best[r])


@numba.njit(cache=True, nogil=True)
def _scan_by_row(values, n_rows, reaches, reach_slope, reach_offset, best, close):
    """:func:`_scan` of row-major values (``values[r, k]``): each row's loops run across centres."""
    n_clusters = values.shape[1]
    widest_slope, widest_offset = reach_slope.max(), reach_offset.max()
    for r in range(n_rows):
        label, best_value, second_value = 0, values[r, 0], np.inf
        for k in range(1, n_clusters):
            value = values[r, k]
            second_value = min(second_value, max(value, best_value))
            if value < best_value:  # strict: the first smallest stays
                label, best_value = k, value
        best[r] = label
        close[r] = 1
        if not _clear(best_value, second_value, reaches[r], widest_slope, widest_offset):
            close[r] = _contenders(values[r], reaches[r], reach_slope, reach_offset, label)


@numba.njit(cache=True, parallel=True)
def _fused_pass(X, offset, sample_weight, squared_norms, centers, half_norms, reach_slope,
                reach_offset, scale, bounds, chunk, by_row):
    # The data are the rows of X minus ``offset`` (CentredInPass), or X itself
    # when ``offset`` is empty; an offset needs the float32 copy, which
    # centres each row on its way to the GEMM.
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_parts = bounds.shape[0] - 1
    accumulate = sample_weight.shape[0] != 0
    centre = offset.shape[0] != 0
    # np.empty, every element written by its part: a np.zeros here would be
    # a parallel region of its own (the one-region rule of skfast._compile)
    labels = np.empty(n_samples, dtype=np.int32)
    unsure = np.empty(n_samples, dtype=np.bool_)
    # per part: spares the caller a scan of ``unsure`` when it is all False
    unsure_counts = np.empty(n_parts, dtype=np.int64)
    partial_sums = np.empty((n_parts if accumulate else 0, n_clusters, n_features),
                            dtype=X.dtype)
    partial_weights = np.empty((n_parts if accumulate else 0, n_clusters), dtype=X.dtype)
    # float32 centres for float64 data: the rows are copied into float32, scaled
    copy = centers.itemsize != X.itemsize
    wide, narrow_slope, narrow_offset = wide_bounds(reach_slope, reach_offset)
    for part in numba.prange(n_parts):
        rows = np.empty((chunk if copy else 0, n_features), dtype=centers.dtype)
        values = np.empty((chunk, n_clusters) if by_row else (n_clusters, chunk),
                          dtype=centers.dtype)
        reaches = np.empty(chunk)
        best = np.empty(chunk, dtype=np.int32)
        best_value = np.empty(chunk, dtype=centers.dtype)
        second_value = np.empty(chunk, dtype=centers.dtype)
        close = np.empty(chunk, dtype=np.int32)
        limits = np.empty(0 if by_row else chunk)
        # this part's sums in memory of its own, copied out once: adjacent
        # parts' rows of the shared arrays share cache lines
        part_sums = np.zeros((n_clusters if accumulate else 0, n_features), dtype=X.dtype)
        part_weights = np.zeros(n_clusters if accumulate else 0, dtype=X.dtype)
        lo = bounds[part]
        n_unsure = 0
        while lo < bounds[part + 1]:
            hi = min(lo + chunk, bounds[part + 1])
            for r in range(hi - lo):
                reaches[r] = scale * np.sqrt(squared_norms[lo + r])
            if copy:
                for r in range(hi - lo):
                    for j in range(n_features):
                        rows[r, j] = _loops.centred_value(X, offset, lo + r, j, centre) * scale
                gemm_values(rows, hi - lo, centers, half_norms, values, by_row)
            else:
                gemm_values(X[lo:hi], hi - lo, centers, half_norms, values, by_row)
            if by_row:
                _scan_by_row(values, hi - lo, reaches, reach_slope, reach_offset, best, close)
            else:
                _scan(values, hi - lo, reaches, reach_slope, reach_offset, best, best_value,
                      second_value, close, limits, wide, narrow_slope, narrow_offset)
            for r in range(hi - lo):
                labels[lo + r] = best[r]
                unsure[lo + r] = close[r] > 1
                n_unsure += close[r] > 1
            unit_weights = accumulate
            for i in range(lo, hi if accumulate else lo):
                if sample_weight[i] != 1.0:
                    unit_weights = False
                    break
            if unit_weights:
                # x * 1 is x: the same sums without the products (the default
                # weights; 1.04x on load_digits scaled up, one process, interleaved)
                for i in range(lo, hi):
                    label = labels[i]
                    part_weights[label] += 1.0
                    for j in range(n_features):
                        part_sums[label, j] += _loops.centred_value(X, offset, i, j, centre)
            elif accumulate:
                for i in range(lo, hi):
                    label = labels[i]
                    weight = sample_weight[i]
                    part_weights[label] += weight
                    for j in range(n_features):
                        part_sums[label, j] += _loops.centred_value(X, offset, i, j,
                                                                    centre) * weight
            lo = hi
        unsure_counts[part] = n_unsure
        if accumulate:
            partial_sums[part] = part_sums
            partial_weights[part] = part_weights
    return labels, unsure, unsure_counts, partial_sums, partial_weights


@numba.njit(cache=True, nogil=True)
def _resum_changed(X, offset, sample_weight, labels, rows, old_labels, bounds, partial_sums,
                   partial_weights):
    """Sum again, in row order, the clusters of each part that a settled row left or joined.

    Only those clusters' sums can differ from a pass with the final labels,
    and summing all of a cluster's rows of the part again, in order, gives
    that pass's bits.
    """
    n_clusters = partial_weights.shape[1]
    centre = offset.shape[0] != 0
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
                    partial_sums[part, label, j] += _loops.centred_value(
                        X, offset, i, j, centre) * weight


# one part (small data): the same pass without threads, far cheaper to compile
_fused_pass_serial = serial_twin(_fused_pass)


# The values are stored row-major for many features and few clusters:
# measured on the benchmark machine (one pass, interleaved, each at its best
# chunk), row-major was 1.07-1.2x faster at (d, k) = (64, 10) for both
# dtypes of data and at (256, 50) for float32 data, where the GEMM dominates
# and OpenBLAS packs the few centres once; centre-major (the scan across
# rows in SIMD lanes) was 1.2-3x faster at (2, 100), (10, 5) and (64, 256),
# and at (256, 50) for float64 data.
def _by_row(dtype, n_features, n_clusters):
    """Whether the values are stored row-major (``_gemm.gemm_values``); ``dtype``: the data's."""
    most_clusters = 64 if np.dtype(dtype) == np.float32 else 16
    return n_features >= 32 and n_clusters <= most_clusters


def _partition(X, n_clusters):
    """Part boundaries: the numba engine's blocks (float64) or scikit-learn's ranges (float32)."""
    if X.dtype == np.float32:
        return thread_ranges(X.shape[0])
    n_blocks = _loops.block_count(X.shape[0], X.shape[1], n_clusters)
    block = -(-X.shape[0] // n_blocks)
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * block, X.shape[0])


def _single_precision_scale(max_squared_norm, centers):
    """Power of two bringing the largest |x| and |c| to at most 1: float32 can hold the product."""
    largest = max(float(max_squared_norm), float(centre_squared_norms(centers).max()), 0.0)
    if largest == 0.0 or not np.isfinite(largest):
        return 1.0
    return float(np.ldexp(1.0, -int(np.frexp(np.sqrt(largest))[1])))


def _fast_evaluation(X, centers, squared_norms, single):
    """Centres and half norms for the GEMM, each value's rounding bound, and the rows' scale.

    The GEMM runs in X's dtype, or with ``single`` in float32 on rows scaled
    by a power of two (exact) into float32's range.  The bound of value
    ``k`` of row ``x`` is ``|x| reach_slope[k] + reach_offset[k]`` =
    ``factor (|x| |c_k| + |c_k|^2)`` (scaled), each centre's own, so that
    one far centre does not widen every row's; in float32 the ``+ 2``
    covers x, c or the half norms rounded to float32.
    """
    centers64 = np.asarray(centers, dtype=np.float64)
    scale = 1.0
    if single and X.dtype == np.float64:
        scale = _single_precision_scale(squared_norms.max() if squared_norms.size else 0.0,
                                        centers64)
    scaled = centers64 * scale
    squared = centre_squared_norms(scaled)
    dtype = np.float32 if single else X.dtype
    factor = margin_factor(X.shape[1] + (2 if dtype == np.float32 else 0), dtype)
    return (np.ascontiguousarray(scaled, dtype=dtype), (0.5 * squared).astype(dtype),
            factor * np.sqrt(squared), factor * squared, scale)


# float64 data runs its GEMM in float32, on a scaled copy of each chunk,
# unless the product is tiny.  Measured on the benchmark machine (one pass,
# interleaved, labels and sums identical), the copy was 1.17-1.75x faster
# than dgemm straight from X at (d, k) = (2, 100), (64, 10), (64, 256) and
# (256, 50) (OpenBLAS's dgemm is slow on few columns: 100,000 x 64 by 64 x
# 10 took 3.8x sgemm's time), and 0.93x at (10, 5), where the copy costs
# more than the product.
_SINGLE_PRECISION_MIN_PRODUCT = 128


def _single_precision(dtype, n_features, n_clusters):
    """Whether the GEMM runs in float32 (always for float32 data)."""
    return (np.dtype(dtype) == np.float32
            or n_features * n_clusters >= _SINGLE_PRECISION_MIN_PRODUCT)


_NO_ROWS = np.empty(0, dtype=np.intp)


def _run(X, sample_weight, centers, squared_norms=None, offset=None):
    """One fused pass; returns labels, sums, weights and how many samples the exact expression decided.

    The data are the rows of X minus ``offset`` (:class:`CentredInPass`), or X itself.
    """
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    single = _single_precision(X.dtype, X.shape[1], centers.shape[0])
    if squared_norms is None:
        squared_norms = _loops.row_squared_norms(X if offset is None else X - offset)
    if offset is None:
        offset = np.empty(0, dtype=X.dtype)
    elif not CentredInPass.serves(X.dtype, X.shape[1], centers.shape[0]):
        raise ValueError("an offset needs the pass's float32 copy of float64 rows")
    bounds = _partition(X, centers.shape[0])
    squared_norms = np.ascontiguousarray(squared_norms, dtype=np.float64)
    gemm_dtype = np.float32 if single else X.dtype
    kernel = _fused_pass_serial if bounds.size == 2 else _fused_pass
    labels, unsure, unsure_counts, partial_sums, partial_weights = kernel(
        X, offset, sample_weight, squared_norms,
        *_fast_evaluation(X, centers, squared_norms, single), bounds,
        chunk_rows(X.dtype, gemm_dtype, *centers.shape[::-1]),
        _by_row(X.dtype, *centers.shape[::-1]))
    rows = np.flatnonzero(unsure) if unsure_counts.any() else _NO_ROWS
    if rows.size:
        # after the pass, in as few of scikit-learn's calls as there are rows
        old_labels = labels[rows]
        changed = settle(X, centers, rows, labels, offset if offset.size else None)
        if changed and sample_weight.size:
            _resum_changed(X, offset, sample_weight, labels, rows, old_labels, bounds,
                           partial_sums, partial_weights)
    sums, weights = reduce_blocks(partial_sums, partial_weights)
    return labels, sums, weights, rows.size


def lloyd_step(X, sample_weight, centers, squared_norms=None):
    return _run(X, sample_weight.astype(X.dtype, copy=False), centers, squared_norms)[:3]


_NO_WEIGHTS = np.empty(0)


def assign_labels(X, centers, squared_norms=None):
    return _run(X, _NO_WEIGHTS.astype(X.dtype), centers, squared_norms)[0]


class CentredInPass:
    """:func:`lloyd_step`, :func:`assign_labels` and :func:`inertia` of ``X - mean``, never stored.

    ``KMeans`` clusters a centred copy of X.  The pass centres each row
    instead as it copies it into float32 for the GEMM and as it adds it to
    its cluster's sum (``X[i, j] - mean[j]``, the copy's own value, so the
    same bits), and the near-tie settling and the inertia centre the rows
    they read: no array the size of X is written.  Only where the pass
    makes that copy (:meth:`serves`: float64 data and products large
    enough for float32); elsewhere the GEMM reads X as it is.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64, C-contiguous
    mean : ndarray of shape (n_features,)
        What the data are centred on (``X.mean(axis=0)``).
    squared_norms : ndarray of shape (n_samples,)
        Squared norms of the centred rows, float64.

    Each operation takes X again, as its function does, to keep their
    signatures; it must be the X given here.
    """

    def __init__(self, X, mean, squared_norms):
        self.mean = np.ascontiguousarray(mean, dtype=X.dtype)
        self.squared_norms = squared_norms

    @staticmethod
    def serves(dtype, n_features, n_clusters):
        """Whether the pass copies the rows (float64 data into float32), so it can centre them."""
        return (np.dtype(dtype) == np.float64
                and _single_precision(dtype, n_features, n_clusters))

    def __call__(self, X, sample_weight, centers):
        return _run(X, sample_weight.astype(X.dtype, copy=False), centers, self.squared_norms,
                    self.mean)[:3]

    def assign(self, X, centers):
        return _run(X, _NO_WEIGHTS.astype(X.dtype), centers, self.squared_norms, self.mean)[0]

    def inertia(self, X, sample_weight, centers, labels):
        return _loops.inertia(X, sample_weight, centers, labels, self.mean)


inertia = _loops.inertia
sparse_lloyd_step = _loops.sparse_lloyd_step
sparse_inertia = _loops.sparse_inertia
