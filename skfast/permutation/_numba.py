"""numba engine: compiled loops over (relabelling, feature) pairs.

Each statistic is a dot product of one relabelling's 0/1 row with one
feature's column, the same arithmetic as the numpy engine's matrix product,
written as loops.  That wins where a matrix product is a poor fit: few
features (a thin ``X``), where BLAS spends its time packing panels instead of
multiplying.  Relabellings are processed in tiles of :data:`ROW_TILE` so that
a feature's column is read from memory once per tile, and tiles are spread
over numba's threads with ``prange`` (``compute_threads`` sets how many; one
thread runs the same compiled kernel serially).

Same three functions, same signatures as every other engine module.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext

import numba
import numpy as np
from numba import njit, prange

from ._counting import column_tiles, row_order_sums

__all__ = ["FEATURE_TILE", "prepare", "batch_statistic", "batch_counts"]

#: Features ``batch_size="auto"`` budgets statistics for: a batch squares X
#: a block at a time for Welch's t, so a batch of many relabellings pays for
#: the squares once (the kernel itself holds only per-tile counts).
FEATURE_TILE = 2048

ROW_TILE = 8
_STATISTIC_CODE = {"mean_diff": 0, "welch_t": 1, "flip_mean": 2}
# "greater" leaves the statistic as it is, which is what batch_statistic wants.
_ALTERNATIVE_CODE = {"greater": 0, "two-sided": 1, "less": 2}
# Reassociation lets LLVM vectorise the dot products; the order is still fixed
# at compile time, so the kernel stays deterministic.
_FASTMATH = {"reassoc", "contract"}
# Multiply-adds worth a thread: a parallel region costs a barrier over all
# threads, which on a busy machine can exceed a small batch's whole work.
_WORK_PER_THREAD = 2_000_000
_LAUNCH_LOCK = threading.Lock()
#: Bytes of the block of Welch's squares a batch makes at a time: 8 MiB, far
#: below a copy of X, far above a parallel region's cost.
_BLOCK_BYTES = 8 * 2**20


def _launches_must_be_serial():
    # workqueue, numba's fallback threading layer, aborts when two threads
    # (joblib workers) launch parallel kernels at once; omp and tbb do not.
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel kernel has run yet: the layer is unknown
        return True


def prepare(X, squares):
    """``X`` itself and its column sums (of ``X**2`` too, for Welch's t): no copy of X.

    X is feature-major, so ``X.T`` holds each feature's values contiguously,
    as the kernel reads them.  Parameters and return value as in
    :func:`skfast.permutation._numpy.prepare`.
    """
    Q = row_order_sums(X, square=True) if squares else np.zeros(X.shape[1])
    return np.ascontiguousarray(X.T), squares, row_order_sums(X), Q


@njit(cache=True, parallel=True, nogil=True, fastmath=_FASTMATH)
def _scan(XT, XT_sq, S, Q, group1, n_group1, var_floor, statistic_code, alternative_code,
          threshold, need_max, statistics_out, tile_counts, maxima):
    # One parallel region per batch: on a busy machine every region launch
    # waits for all threads, so the statistic and the tally share one.
    n_rows, n_samples = group1.shape
    n_features = XT.shape[0]
    n_group0 = n_samples - n_group1
    store = statistics_out.shape[0] > 0
    for tile in prange(tile_counts.shape[0]):
        first, last = tile * ROW_TILE, min((tile + 1) * ROW_TILE, n_rows)
        if need_max:
            maxima[first:last] = -np.inf
        for j in range(n_features):
            for r in range(first, last):
                s1 = 0.0
                for i in range(n_samples):
                    s1 += group1[r, i] * XT[j, i]
                if statistic_code == 2:
                    # a sign flip (n_group1 unused): the flipped samples sum
                    # to S - s1, so the mean is (s1 - (S - s1)) / n
                    stat = (2.0 * s1 - S[j]) / n_samples
                elif statistic_code == 0:
                    stat = s1 / n_group1 - (S[j] - s1) / n_group0
                else:
                    mean1 = s1 / n_group1
                    mean0 = (S[j] - s1) / n_group0
                    q1 = 0.0
                    for i in range(n_samples):
                        q1 += group1[r, i] * XT_sq[j, i]
                    var1 = max(q1 - s1 * mean1, 0.0) / (n_group1 - 1)
                    var0 = max((Q[j] - q1) - (S[j] - s1) * mean0, 0.0) / (n_group0 - 1)
                    stat = (mean1 - mean0) / np.sqrt(
                        max(var1 / n_group1 + var0 / n_group0, var_floor[j]))
                if alternative_code == 1:
                    stat = abs(stat)
                elif alternative_code == 2:
                    stat = -stat
                if store:
                    statistics_out[r, j] = stat
                if stat >= threshold[j]:
                    tile_counts[tile, j] += 1
                if need_max:
                    maxima[r] = max(maxima[r], stat)


def _run_scan(operands, group1, n_group1, threshold, var_floor, statistic, alternative,
              need_max, store):
    XT, squares, S, Q = operands
    (n_rows, n_samples), n_features = group1.shape, XT.shape[0]
    statistics_out = np.empty((n_rows, n_features) if store else (0, 0))
    counts = np.zeros(n_features, dtype=np.int64)
    maxima = np.full(n_rows if need_max else 0, -np.inf)
    allowed_threads = numba.get_num_threads()
    work = n_rows * n_features * n_samples
    numba.set_num_threads(int(min(allowed_threads, max(1, work // _WORK_PER_THREAD))))
    # Welch's squares are made a block of features at a time (never X**2 whole)
    width = max(1, _BLOCK_BYTES // (8 * n_samples)) if squares else max(n_features, 1)
    try:
        with _LAUNCH_LOCK if _launches_must_be_serial() else nullcontext():
            for block in column_tiles(n_samples, n_features, width=width):
                # per feature the same dot in any block: the blocks change no bit
                XT_sq = np.square(XT[block]) if squares else np.empty((0, n_samples))
                block_out = (np.empty((n_rows, block.stop - block.start)) if store
                             else statistics_out)
                tile_counts = np.zeros(((n_rows + ROW_TILE - 1) // ROW_TILE,
                                        block.stop - block.start), dtype=np.int64)
                block_maxima = np.empty(n_rows if need_max else 0)
                _scan(XT[block], XT_sq, S[block], Q[block], group1, np.int64(n_group1),
                      var_floor[block], np.int64(_STATISTIC_CODE[statistic]),
                      np.int64(_ALTERNATIVE_CODE[alternative]), threshold[block],
                      bool(need_max), block_out, tile_counts, block_maxima)
                counts[block] = tile_counts.sum(axis=0)
                if store:
                    statistics_out[:, block] = block_out
                if need_max:
                    np.maximum(maxima, block_maxima, out=maxima)
    finally:
        numba.set_num_threads(allowed_threads)
    return statistics_out, counts, maxima


def batch_statistic(operands, group1, n_group1, var_floor, statistic):
    """Statistic of every relabelling in ``group1``.

    Parameters and return value as in :func:`skfast.permutation._numpy.batch_statistic`.
    """
    no_threshold = np.full(var_floor.shape, np.inf)
    return _run_scan(operands, group1, n_group1, no_threshold, var_floor, statistic, "greater",
                     need_max=False, store=True)[0]


def batch_counts(operands, group1, n_group1, threshold, var_floor, statistic, alternative,
                 need_max):
    """Per-feature counts of relabellings at least as extreme, compiled loops.

    Parameters and return values as in :func:`skfast.permutation._numpy.batch_counts`.
    """
    _, counts, maxima = _run_scan(operands, group1, n_group1, threshold, var_floor, statistic,
                                  alternative, need_max, store=False)
    return counts, maxima
