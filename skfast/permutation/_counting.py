"""Counting extreme relabellings in one compiled pass over a block of statistics.

Shared by the engines that form the ``(batch, features)`` block of statistics
as an array (``numpy``): ``|T| >= threshold`` (or the one-sided versions),
the per-feature counts and, for max-T, each relabelling's largest
extremeness, read from the block once instead of in four numpy passes with
their temporaries.  Counts and maxima are exact, so the result does not
depend on how the rows are split over threads.

A block of at most :data:`NUMPY_MAX_ENTRIES` entries is counted in numpy
instead, with the same result (integer counts, exact maxima, and a float64
re-check summed in the same order), so that the small fits most users start
with compile nothing.
"""

import numpy as np
from numba import njit, prange

#: Rows of statistics per parallel block.
_BLOCK_ROWS = 64
ALTERNATIVE_SIGN = {"two-sided": 0.0, "greater": 1.0, "less": -1.0}
#: Blocks of at most this many entries are counted (and drawn, see
#: ``_stream``) in numpy: a few hundred microseconds at most, against the
#: seconds a first compilation costs.
NUMPY_MAX_ENTRIES = 2**16


def _extremeness(T, sign):
    return np.abs(T) if sign == 0.0 else sign * T


@njit(cache=True, parallel=True, nogil=True)
def _count(T, threshold, sign, need_max, n_blocks):
    n_rows, n_features = T.shape
    partial = np.empty((n_blocks, n_features), dtype=np.int64)  # one parallel region (skfast._compile)
    maxima = np.empty(n_rows if need_max else 0)  # every row's written
    block = -(-n_rows // n_blocks)
    for b in prange(n_blocks):
        counts = partial[b]
        counts[:] = 0
        for r in range(b * block, min((b + 1) * block, n_rows)):
            # Separate loops per case: branch-free, they vectorise.
            if sign == 0.0:
                for j in range(n_features):
                    counts[j] += abs(T[r, j]) >= threshold[j]
            else:
                for j in range(n_features):
                    counts[j] += sign * T[r, j] >= threshold[j]
            if need_max:
                largest = -np.inf
                for j in range(n_features):
                    largest = max(largest, abs(T[r, j]) if sign == 0.0 else sign * T[r, j])
                maxima[r] = largest
    return partial, maxima


def count_extreme(T, threshold, alternative, need_max):
    """Per-feature counts of ``extremeness(T) >= threshold``, and row maxima.

    Parameters
    ----------
    T : ndarray of shape (n_rows, n_features)
        Statistics of a batch of relabellings.
    threshold : ndarray of shape (n_features,)
    alternative : {"two-sided", "greater", "less"}
    need_max : bool

    Returns
    -------
    counts : ndarray of shape (n_features,), int64
    maxima : ndarray of shape (n_rows,) (empty unless ``need_max``)
    """
    sign = ALTERNATIVE_SIGN[alternative]
    if T.size <= NUMPY_MAX_ENTRIES:
        extremeness = _extremeness(T, sign)
        return ((extremeness >= threshold).sum(axis=0, dtype=np.int64),
                extremeness.max(axis=1, initial=-np.inf) if need_max else np.full(0, -np.inf))
    n_blocks = max(1, -(-T.shape[0] // _BLOCK_ROWS))
    partial, maxima = _count(np.ascontiguousarray(T), np.ascontiguousarray(threshold), sign,
                             need_max, n_blocks)
    return partial.sum(axis=0), maxima


#: Elements of the column tiles in which the engines make their per-tile
#: temporaries (squares, float32 copies): 32 MiB of float64, never a copy of
#: X, and wide enough (2,048 columns up to n = 2,048) that each product
#: still runs at BLAS speed.  :func:`row_order_sums` takes quarter tiles.
TILE_ELEMENTS = 2**22
#: The narrowest tile: a product of a batch with fewer columns wastes BLAS.
_MIN_TILE_COLUMNS = 64


def column_tiles(n_samples, n_features, width=None, elements=TILE_ELEMENTS):
    """Slices of the columns in tiles of at most ``width`` and about ``elements`` each."""
    by_size = max(_MIN_TILE_COLUMNS, elements // max(n_samples, 1))
    width = min(width, by_size) if width else by_size
    return [slice(lo, min(lo + width, n_features)) for lo in range(0, n_features, width)]


def row_order_sums(X, square=False):
    """Per column, the sum of ``X`` (or of ``X**2``) added row after row, in float64.

    A cumulative sum is sequential, and it is the order in which numpy
    reduces a C-contiguous array over its rows: so a column's sum is the
    same bits whatever the other columns of X, its tile or its Dask chunk,
    and whatever X's layout.  Tile by tile, so no temporary (of squares)
    is as large as X.
    """
    total = np.zeros(X.shape[1])
    if X.shape[0] == 0:
        return total
    for tile in column_tiles(*X.shape, elements=TILE_ELEMENTS // 4):
        part = np.square(X[:, tile]) if square else X[:, tile]
        total[tile] = np.cumsum(part, axis=0)[-1]
    return total


@njit(cache=True, parallel=True, nogil=True)
def blocked_column_sums(A, rows, square, block_rows):
    """Per column, the sum of ``A[rows]`` (or of its squares) as numpy adds blocks of rows.

    Each block of ``block_rows`` rows is added from its first selected row on,
    in order (numpy's reduction of a C-contiguous block over its rows), then
    the block sums in order from zero: the bits of
    ``_permutation_test.column_sums``, a column at a time, so that a
    feature-major ``A`` is read contiguously.
    """
    n_samples, n_features = A.shape
    total = np.empty(n_features)  # one parallel region (skfast._compile)
    for j in prange(n_features):
        column_total = 0.0
        for lo in range(0, n_samples, block_rows):
            block_sum, started = 0.0, False
            for i in range(lo, min(lo + block_rows, n_samples)):
                if rows[i]:
                    value = np.float64(A[i, j])
                    if square:
                        value = value * value
                    # numpy's reduction starts from the block's first row
                    block_sum = block_sum + value if started else value
                    started = True
            if started:
                column_total += block_sum
        total[j] = column_total
    return total


@njit(cache=True, parallel=True, nogil=True)
def _count_checked(T32, group1, weight1, weight0, X, column, low, high, threshold, sign, margin,
                   need_max, n_blocks):
    n_rows, n_features = T32.shape
    n_samples = group1.shape[1]
    partial = np.empty((n_blocks, n_features), dtype=np.int64)  # one parallel region (skfast._compile)
    maxima = np.empty(n_rows if need_max else 0)  # every row's written
    block = -(-n_rows // n_blocks)
    for b in prange(n_blocks):
        counts = partial[b]
        counts[:] = 0
        for r in range(b * block, min((b + 1) * block, n_rows)):
            # A branch-free pass (it vectorises) settles every entry outside
            # [low, high); the rare row holding others gets a second look.
            first, last = n_features, -1
            for j in range(n_features):
                value = np.float64(T32[r, j])
                extremeness = abs(value) if sign == 0.0 else sign * value
                counts[j] += extremeness >= high[j]
                unsettled = (extremeness >= low[j]) & (extremeness < high[j])
                first = min(first, j if unsettled else n_features)
                last = max(last, j if unsettled else -1)
            for j in range(first, last + 1):
                value = np.float64(T32[r, j])
                extremeness = abs(value) if sign == 0.0 else sign * value
                if extremeness >= low[j] and extremeness < high[j]:
                    # Too close to call in single precision: the float64 dot.
                    exact = 0.0
                    for i in range(n_samples):
                        exact += (group1[r, i] * weight1 - weight0) * X[i, column + j]
                    counts[j] += (abs(exact) if sign == 0.0 else sign * exact) >= threshold[j]
            if need_max:
                # The row's largest extremeness is at least the largest lower
                # bound; only the features whose upper bound reaches it can
                # hold it (one, but for near-ties), and those get the float64 dot.
                lower = -np.inf
                for j in range(n_features):
                    value = np.float64(T32[r, j])
                    lower = max(lower, (abs(value) if sign == 0.0 else sign * value) - margin[j])
                largest = -np.inf
                for j in range(n_features):
                    value = np.float64(T32[r, j])
                    if (abs(value) if sign == 0.0 else sign * value) + margin[j] >= lower:
                        exact = 0.0
                        for i in range(n_samples):
                            exact += (group1[r, i] * weight1 - weight0) * X[i, column + j]
                        largest = max(largest, abs(exact) if sign == 0.0 else sign * exact)
                maxima[r] = largest
    return partial, maxima


def count_extreme_checked(T32, group1, weight1, weight0, X, column, threshold, margin,
                          alternative, need_max=False):
    """:func:`count_extreme` of a single-precision product, exact to double precision.

    ``T32`` approximates ``W @ X[:, column:column + n_features]`` within
    ``margin`` per feature, where ``W = group1 * weight1 - weight0`` is the
    contrast matrix and ``X`` the centred data, read a column at a time
    where a check needs it (any 2-D view; the fit's feature-major copy
    holds each column contiguously).  Entries
    whose extremeness is further than ``margin`` from the threshold are
    decided by ``T32``; the few others are recomputed as float64 dot
    products with ``W`` formed as above.  The counts are those
    of the double-precision product.  With ``need_max``, each row's largest
    extremeness too (the max-T correction), from the float64 dots of the
    features that can hold it: those whose ``T32`` entry plus ``margin``
    reaches the largest entry minus its margin.

    Returns
    -------
    counts : ndarray of shape (n_features,), int64
    maxima : ndarray of shape (n_rows,) (empty unless ``need_max``)
    """
    threshold = np.ascontiguousarray(threshold)
    margin = np.ascontiguousarray(margin)
    sign = ALTERNATIVE_SIGN[alternative]
    if T32.size <= NUMPY_MAX_ENTRIES:
        return _count_checked_numpy(T32, group1, weight1, weight0, X, column, threshold - margin,
                                    threshold + margin, threshold, sign, margin, need_max)
    n_blocks = max(1, -(-T32.shape[0] // _BLOCK_ROWS))
    partial, maxima = _count_checked(T32, group1, weight1, weight0, X, column,
                                     threshold - margin, threshold + margin, threshold, sign,
                                     margin, bool(need_max), n_blocks)
    return partial.sum(axis=0), maxima


def _exact_dots(group1, weight1, weight0, X, column, rows, features):
    # The compiled kernel's float64 dot, summed in the same sample order (a
    # cumulative sum is sequential), so the same bits decide.
    products = (group1[rows] * weight1 - weight0) * X[:, column + features].T
    return np.cumsum(products, axis=1)[:, -1]


def _count_checked_numpy(T32, group1, weight1, weight0, X, column, low, high, threshold, sign,
                         margin, need_max):
    extremeness = _extremeness(T32.astype(np.float64), sign)
    counts = (extremeness >= high).sum(axis=0, dtype=np.int64)
    rows, features = np.nonzero((extremeness >= low) & (extremeness < high))
    if rows.size:
        exact = _exact_dots(group1, weight1, weight0, X, column, rows, features)
        np.add.at(counts, features, _extremeness(exact, sign) >= threshold[features])
    maxima = np.full(T32.shape[0] if need_max else 0, -np.inf)
    if need_max and T32.shape[1]:
        lower = (extremeness - margin).max(axis=1)
        rows, features = np.nonzero(extremeness + margin >= lower[:, np.newaxis])
        exact = _exact_dots(group1, weight1, weight0, X, column, rows, features)
        np.maximum.at(maxima, rows, _extremeness(exact, sign))
    return counts, maxima


def single_contrast(group1, weight1, weight0):
    """``group1 * weight1 - weight0`` rounded to float32, without the float64 matrix."""
    if group1.size <= NUMPY_MAX_ENTRIES:
        return (group1 * weight1 - weight0).astype(np.float32)
    return _single_contrast(group1, weight1, weight0)


@njit(cache=True, parallel=True, nogil=True)
def _single_contrast(group1, weight1, weight0):
    n_rows, n_samples = group1.shape
    contrast = np.empty((n_rows, n_samples), dtype=np.float32)
    for r in prange(n_rows):
        for i in range(n_samples):
            contrast[r, i] = group1[r, i] * weight1 - weight0
    return contrast

