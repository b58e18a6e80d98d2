"""Hamerly k-means engine: Lloyd's iterations with most distances skipped.

Each sample keeps an upper bound on the distance to its own centre and a
lower bound on the distance to every other centre (Hamerly, 2010).  After the
centres move, the bounds are loosened by how far the centres moved; a sample
whose bounds still prove its centre is the nearest skips its distance scan.
The samples that do need a scan are gathered and scanned with one BLAS matrix
product per chunk, the same ``|c|^2/2 - x.c`` values the numpy engine uses, so
the labels are Lloyd's.  Bounds carry a slack that covers round-off: it can
only cause an unnecessary scan, never a wrong skip.

The first iteration scans every row in place, in parallel blocks of rows,
one float64 GEMM per chunk (:func:`_scan_all`).

The cluster sums are kept per fixed block of samples from one iteration to
the next.  A block none of whose labels changed keeps its sums: they are
bitwise what recomputing them would give.  Near convergence only the few
blocks holding a changed label re-read X, so an iteration reads the bounds,
not the data.  The blocks are reduced in block order, so results do not
depend on the thread count.  For float32 data the blocks are scikit-learn's
thread ranges and the sums float32: ``KMeans``' float32 sums
(``_sklearn_order``), which the fit would otherwise add again each
iteration.

Same ``assign_labels`` and ``inertia`` as the other engines; instead of a
stateless ``lloyd_step``, :class:`BoundedStep` carries the bounds from one
iteration to the next and is called like ``lloyd_step``.
"""

import numba
import numpy as np
from scipy.spatial.distance import cdist

from .._compile import serial_twin
from .._engines import blas_threads
from . import _numba as _loops
from . import _numpy as _blas
from ._gemm import gemm_values
from ._sklearn_order import SKLEARN_CHUNK, thread_ranges
from ._ties import settle

assign_labels = _blas.assign_labels
inertia = _loops.inertia

# Scans of at most this many features x clusters run inside the compiled
# loop; larger ones are gathered and go through BLAS.
LOOP_SCAN_MAX_WORK = 4096
# Above this share of rows needing a scan, scan them all without gathering.
FULL_SCAN_SHARE = 0.5
# The kept block sums take at most this share of X's memory; blocks are
# never smaller than _MIN_BLOCK_ROWS samples.
CACHE_SHARE = 0.125
_MIN_BLOCK_ROWS = 256
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


@numba.njit(cache=True, nogil=True, inline="always")
def _settle_from_values(X, i, values, centers, squared_norm, error_scale, center_norms, tie,
                        labels, upper, lower, unsure):
    """Label, fresh bounds and near-tie flag of sample ``i`` from its ``|c|^2/2 - x.c`` values."""
    best, best_value, second_value = 0, values[0], np.inf
    for k in range(1, values.shape[0]):
        value = values[k]
        if value < best_value:
            best, best_value, second_value = k, value, best_value
        elif value < second_value:
            second_value = value
    labels[i] = best
    unsure[i] = _loops.near_tie(best_value, second_value,
                                2.0 * tie[0] * (squared_norm + tie[1]))
    upper[i] = _distance(X, i, centers, best)
    # |x - c|^2 = |x|^2 + 2 (|c|^2/2 - x.c); subtract its round-off bound
    # so the lower bound stays below the true second-nearest distance.
    error = error_scale * (squared_norm + center_norms)
    lower[i] = np.sqrt(max(squared_norm + 2 * second_value - error, 0.0))


@numba.njit(cache=True, nogil=True, inline="always")
def _scan_in_place(X, i, centers, centers_t, half_norms, squared_norm, error_scale,
                   center_norms, tie, scratch, labels, upper, lower, unsure):
    """Lloyd's assignment of sample ``i`` and fresh bounds, computed in the loop."""
    _loops.scan_values(X, i, centers_t, half_norms, scratch)
    _settle_from_values(X, i, scratch, centers, squared_norm, error_scale, center_norms, tie,
                        labels, upper, lower, unsure)


@numba.njit(cache=True, nogil=True, inline="always")
def _skippable(upper, bound, slack, squared_norm, tie):
    """Whether the bounds prove the own centre nearest, by more than a near tie.

    Half the gap of the squared distances, ``(bound^2 - upper^2) / 2``, must
    also exceed the near-tie margin, or the sample is scanned (and settled).
    """
    up = upper * (1 + _RELATIVE_SLACK) + slack
    return up < bound and bound * bound - up * up > 4.0 * tie[0] * (squared_norm + tie[1])


@numba.njit(cache=True, nogil=True, inline="always")
def _settle(X, i, centers, centers_t, half_norms, squared_norms, labels, upper, lower, shift,
            farthest, largest, runner_up, half_gap, slack, error_scale, center_norms, tie, first,
            scan_here, scratch, unsure):
    """Bounds of sample ``i`` for the new centres.

    Returns ``(distances computed, whether a BLAS scan is still needed)``.
    """
    evaluations = 0
    unsure[i] = False
    if not first:
        k = labels[i]
        upper[i] += shift[k]
        lower[i] -= runner_up if k == farthest else largest
        bound = max(half_gap[k], lower[i])
        if _skippable(upper[i], bound, slack, squared_norms[i], tie):
            return evaluations, False
        upper[i] = _distance(X, i, centers, k)
        evaluations += 1
        if _skippable(upper[i], bound, slack, squared_norms[i], tie):
            return evaluations, False
    if not scan_here:
        return evaluations, True
    _scan_in_place(X, i, centers, centers_t, half_norms, squared_norms[i], error_scale,
                   center_norms, tie, scratch, labels, upper, lower, unsure)
    return evaluations + centers.shape[0], False


@numba.njit(cache=True, parallel=True)
def _loosen_and_test(X, centers, centers_t, half_norms, squared_norms, labels, upper, lower,
                     unsure, shift, half_gap, slack, error_scale, tie, first, scan_here, block,
                     n_blocks):
    """Move the bounds by the centre shifts and test them.

    A sample whose bounds fail is scanned on the spot when ``scan_here``
    (few features x clusters: a loop is cheapest), else flagged in the
    returned mask for a BLAS scan.  A sample whose bounds hold is not read.
    Returns the mask and the distances computed.
    """
    n_samples = X.shape[0]
    n_clusters = centers.shape[0]
    # plain loops, np.empty and no array reductions: each would be a
    # parallel region of its own (the one-region rule of skfast._compile)
    farthest, largest_half_norm = 0, half_norms[0]
    for k in range(1, n_clusters):
        if shift[k] > shift[farthest]:  # the first largest, as np.argmax
            farthest = k
        largest_half_norm = max(largest_half_norm, half_norms[k])
    largest = shift[farthest]
    runner_up = 0.0
    for k in range(n_clusters):
        if k != farthest:
            runner_up = max(runner_up, shift[k])
    center_norms = 2 * largest_half_norm
    needs_scan = np.empty(n_samples, dtype=np.bool_)
    evaluations = np.empty(n_blocks, dtype=np.int64)
    for b in numba.prange(n_blocks):
        evaluations[b] = 0
        scratch = np.empty(n_clusters)
        for i in range(b * block, min((b + 1) * block, n_samples)):
            computed, flagged = _settle(
                X, i, centers, centers_t, half_norms, squared_norms, labels, upper, lower, shift,
                farthest, largest, runner_up, half_gap, slack, error_scale, center_norms, tie,
                first, scan_here, scratch, unsure)
            evaluations[b] += computed
            needs_scan[i] = flagged
    total = 0
    for b in range(n_blocks):
        total += evaluations[b]
    return needs_scan, total


@numba.njit(cache=True, parallel=True)
def _refresh_sums(X, sample_weight, labels, previous, first, bounds, block_sums, block_weights,
                  sums, weights):
    """Bring the kept block sums and the cluster sums up to date with ``labels``.

    In each block, only the clusters that gained or lost a sample since
    ``previous`` are summed again, from scratch and in row order, so every
    kept value is bitwise what a full recomputation would give; only the
    rows of those clusters are read.  The touched clusters are then reduced
    over the blocks in block order, whatever the thread count.  Block ``b``
    holds rows ``bounds[b]`` to ``bounds[b + 1]``; the sums are in the block
    sums' dtype.
    """
    n_blocks, n_clusters, n_features = block_sums.shape
    touched = np.empty((n_blocks, n_clusters), dtype=np.bool_)  # no region of its own
    for b in numba.prange(n_blocks):
        start, stop = bounds[b], bounds[b + 1]
        for k in range(n_clusters):
            touched[b, k] = first
        if not first:
            for i in range(start, stop):
                if labels[i] != previous[i]:
                    touched[b, labels[i]] = True
                    touched[b, previous[i]] = True
        refresh = False
        for k in range(n_clusters):
            if touched[b, k]:
                refresh = True
                block_weights[b, k] = 0.0
                for j in range(n_features):
                    block_sums[b, k, j] = 0.0
        if refresh:
            for i in range(start, stop):
                if touched[b, labels[i]]:
                    _loops.accumulate_sample(X, sample_weight, labels, i, block_sums[b],
                                             block_weights[b])
    for k in numba.prange(n_clusters):
        stale = False
        for b in range(n_blocks):
            stale |= touched[b, k]
        if not stale:
            continue
        weights[k] = 0.0
        for j in range(n_features):
            sums[k, j] = 0.0
        for b in range(n_blocks):
            weights[k] += block_weights[b, k]
            for j in range(n_features):
                sums[k, j] += block_sums[b, k, j]


@numba.njit(cache=True, parallel=True)
def _scan_all(X, centers, half_norms, squared_norms, center_norms, error_scale, tie, labels,
              upper, lower, unsure, block, chunk):
    """:func:`_settle_scanned` of every row, its values from one GEMM per chunk in float64.

    The first iteration's scan, parallel over blocks of ``block`` rows (a
    function of the shape, so the values do not depend on the thread
    count), each a GEMM per ``chunk`` rows on one BLAS thread; float32 rows
    are copied into float64 first, as the gathered scan's product promotes
    them.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_blocks = -(-n_samples // block)
    copy = X.itemsize != centers.itemsize
    for b in numba.prange(n_blocks):
        rows = np.empty((chunk if copy else 0, n_features))
        values = np.empty((chunk, n_clusters))
        lo, stop = b * block, min((b + 1) * block, n_samples)
        while lo < stop:
            hi = min(lo + chunk, stop)
            if copy:
                for r in range(hi - lo):
                    for j in range(n_features):
                        rows[r, j] = X[lo + r, j]
                gemm_values(rows, hi - lo, centers, half_norms, values, True)
            else:
                gemm_values(X[lo:hi], hi - lo, centers, half_norms, values, True)
            for r in range(hi - lo):
                _settle_from_values(X, lo + r, values[r], centers, squared_norms[lo + r],
                                    error_scale, center_norms, tie, labels, upper, lower,
                                    unsure)
            lo = hi


@numba.njit(cache=True, nogil=True)
def _settle_scanned(X, rows, values, centers, squared_norms, center_norms, error_scale, tie,
                    labels, upper, lower, unsure):
    """Labels and fresh bounds of the scanned ``rows`` from their ``|c|^2/2 - x.c`` values.

    Serial on purpose: it runs between two BLAS products of a scan, and a
    parallel region there would fight BLAS's spinning threads for the cores.
    """
    for r in range(rows.shape[0]):
        i = rows[r]
        _settle_from_values(X, i, values[r], centers, squared_norms[i], error_scale,
                            center_norms, tie, labels, upper, lower, unsure)


# Up to this many samples the passes run on their serial twins: the same
# blocks and bits, no threads to start, and far less to compile on small data.
SERIAL_MAX_ROWS = 4096
_loosen_and_test_serial = serial_twin(_loosen_and_test)
_refresh_sums_serial = serial_twin(_refresh_sums)
_scan_all_serial = serial_twin(_scan_all)
# Rows per block and per GEMM of the first iteration's parallel scan.
_SCAN_BLOCK_ROWS = 8 * SKLEARN_CHUNK
_SCAN_CHUNK_ROWS = SKLEARN_CHUNK


def cache_block_count(n_samples, n_features, n_clusters, itemsize):
    """Blocks whose sums are kept: a function of the shape, never of the threads."""
    by_rows = max(1, n_samples // _MIN_BLOCK_ROWS)
    by_memory = int(CACHE_SHARE * n_samples * itemsize) // (8 * n_clusters)
    return max(1, min(by_rows, by_memory))


def _error_scale(n_features):
    """Round-off bound of ``|x|^2 + 2 (|c|^2/2 - x.c)``, relative to ``|x|^2 + |c|^2``."""
    return 4 * (n_features + 4) * _EPS


class BoundedStep:
    """A ``lloyd_step`` with Hamerly's bounds, carried from call to call.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The (centred) data of this run; the bounds and the kept block sums
        belong to it, and so does the ``sample_weight`` of every call.
    squared_norms : ndarray of shape (n_samples,), default=None
        The squared norm of each row of X in float64, when already known.
    block : int, default=None
        Rows per block of kept sums; None chooses them from X's shape
        (:func:`cache_block_count`).  A Dask chunk passes its whole array's.

    Attributes
    ----------
    distance_evaluations : int
        Sample-to-centre distances computed so far (a scan counts
        ``n_clusters``).
    """

    def __init__(self, X, squared_norms=None, block=None):
        n_samples = X.shape[0]
        self._block = block
        self.labels = np.zeros(n_samples, dtype=np.int32)
        self.upper = np.zeros(n_samples)
        self.lower = np.zeros(n_samples)
        self.unsure = np.zeros(n_samples, dtype=np.bool_)
        self.squared_norms = (np.einsum("ij,ij->i", X, X, dtype=np.float64)
                              if squared_norms is None else squared_norms)
        self._largest_norm = np.sqrt(self.squared_norms.max())
        self.previous_centers = None
        self.distance_evaluations = 0
        self._block_sums = None
        self._block_weights = None

    def _scan(self, X, rows, centers, half_norms, tie):
        """Full Lloyd assignment of ``rows``, and fresh bounds for them."""
        n_clusters, n_features = centers.shape
        self.distance_evaluations += rows.size * n_clusters
        if rows.size == X.shape[0]:
            # every row (the first iteration): in place, in parallel, no gathered copy
            scan_all = _scan_all_serial if X.shape[0] <= SERIAL_MAX_ROWS else _scan_all
            X = np.ascontiguousarray(X)  # the GEMM reads rows by pointer
            with blas_threads(1):  # one BLAS thread inside each block of the parallel scan
                scan_all(X, centers, half_norms, self.squared_norms, 2 * half_norms.max(),
                         _error_scale(n_features), tie, self.labels, self.upper, self.lower,
                         self.unsure, _SCAN_BLOCK_ROWS, _SCAN_CHUNK_ROWS)
            return
        for part in _blas.row_chunks(rows.size, n_features, n_clusters):
            values = _blas.half_distances(X[rows[part]], centers, half_norms)
            _settle_scanned(X, rows[part], values, centers, self.squared_norms,
                            2 * half_norms.max(), _error_scale(n_features), tie, self.labels,
                            self.upper, self.lower, self.unsure)

    def _blocks(self, X, n_clusters):
        if self._block is not None:  # a chunk of a larger X, in that X's blocks
            return self._block, max(1, -(-X.shape[0] // self._block))
        n_blocks = cache_block_count(X.shape[0], X.shape[1], n_clusters, X.itemsize)
        return -(-X.shape[0] // n_blocks), n_blocks

    def _sum_blocks(self, X, n_clusters):
        """Boundaries of the blocks whose sums are kept, and the sums' dtype.

        float64 sums over fixed blocks, except for float32 data in memory:
        float32 sums over scikit-learn's thread ranges, each range added in
        row order, so that the kept sums are ``KMeans``' float32 sums
        (``_sklearn_order``) and the fit need not add them again.
        """
        if X.dtype == np.float32 and self._block is None:
            return thread_ranges(X.shape[0]), np.float32
        block, n_blocks = self._blocks(X, n_clusters)
        return (np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * block, X.shape[0]),
                np.float64)

    def copy(self):
        """An independent copy of the bounds and kept sums (the squared norms are shared)."""
        other = object.__new__(type(self))
        other.__dict__.update({name: value.copy() if isinstance(value, np.ndarray)
                               and name != "squared_norms" else value
                               for name, value in self.__dict__.items()})
        return other

    def assign(self, X, centers):
        """Lloyd's labels of X for ``centers``, from the bounds; updates them."""
        data_centers = centers
        centers, centers_t, half_norms, tie = _loops.prepared_centers(centers, X.dtype)
        n_clusters, n_features = centers.shape
        block, n_blocks = self._blocks(X, n_clusters)
        first = self.previous_centers is None
        if first:
            shift = np.zeros(n_clusters)
            half_gap = np.zeros(n_clusters)
        else:
            shift = np.sqrt(((centers - self.previous_centers) ** 2).sum(axis=1))
            shift *= 1 + _RELATIVE_SLACK
            between = cdist(centers, centers)  # direct differences: accurate when small
            np.fill_diagonal(between, np.inf)
            half_gap = 0.5 * between.min(axis=1) * (1 - _RELATIVE_SLACK)
        scale = self._largest_norm + np.sqrt(2 * half_norms.max())
        scan_here = n_features * n_clusters <= LOOP_SCAN_MAX_WORK
        small = X.shape[0] <= SERIAL_MAX_ROWS
        loosen_and_test = _loosen_and_test_serial if small else _loosen_and_test
        needs_scan, evaluations = loosen_and_test(
            X, centers, centers_t, half_norms, self.squared_norms, self.labels, self.upper,
            self.lower, self.unsure, shift, half_gap, _ABSOLUTE_SLACK * scale,
            _error_scale(n_features), tie, first, scan_here, block, n_blocks)
        self.distance_evaluations += int(evaluations)
        self.previous_centers = centers
        rows = np.flatnonzero(needs_scan)
        if rows.size > FULL_SCAN_SHARE * X.shape[0]:
            # The bounds saved little this time: scanning every row in place
            # costs no more than gathering most of them.
            rows = np.arange(X.shape[0])
        if rows.size:
            self._scan(X, rows, centers, half_norms, tie)
        self._settle_near_ties(X, data_centers)
        return self.labels

    def _settle_near_ties(self, X, centers):
        """Near ties decided by scikit-learn's expression (``_ties``); their bounds reset.

        A settled sample's lower bound drops to 0 (its runner-up is about as
        near as its centre) and, if its label changed, its upper bound to
        infinity: it is scanned again next time, which near ties always need.
        """
        rows = np.flatnonzero(self.unsure)
        if rows.size:
            before = self.labels[rows].copy()
            settle(X, centers, rows, self.labels)
            self.lower[rows] = 0.0
            self.upper[rows[self.labels[rows] != before]] = np.inf

    def __call__(self, X, sample_weight, centers):
        n_clusters, n_features = centers.shape
        bounds, dtype = self._sum_blocks(X, n_clusters)
        previous = self.labels.copy()
        labels = self.assign(X, centers)
        first = self._block_sums is None
        if first:
            n_blocks = bounds.size - 1
            self._block_sums = np.zeros((n_blocks, n_clusters, n_features), dtype=dtype)
            self._block_weights = np.zeros((n_blocks, n_clusters), dtype=dtype)
            self._sums = np.zeros((n_clusters, n_features), dtype=dtype)
            self._weights = np.zeros(n_clusters, dtype=dtype)
        (_refresh_sums_serial if X.shape[0] <= SERIAL_MAX_ROWS else _refresh_sums)(
            X, sample_weight.astype(dtype, copy=False), labels, previous, first, bounds,
            self._block_sums, self._block_weights, self._sums, self._weights)
        # Copies: the caller relocates empty clusters in what it is given.
        return labels.copy(), self._sums.copy(), self._weights.copy()


def lloyd_step(X, sample_weight, centers, squared_norms=None):
    """One stateless step (a fresh :class:`BoundedStep`): a full scan."""
    return BoundedStep(X)(X, sample_weight, centers)


# Sparse input: numba's sparse pass (scikit-learn's, bit for bit).  Bounds for
# sparse data are not written yet, so on sparse X this engine skips nothing.
sparse_lloyd_step = _loops.sparse_lloyd_step
sparse_inertia = _loops.sparse_inertia
