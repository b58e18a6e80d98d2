"""Centred working copies of X, made in two parallel passes.

``KMeans`` centres its data (``X - X.mean(axis=0)``) so that the
``|c|^2/2 - x.c`` identity stays accurate for data far from the origin, and
the permutation test centres every feature so that its statistics carry no
offset.  Here the copy (and, for the permutation test, the column means) come from
compiled passes over fixed blocks of rows, reduced in block order: the
result does not depend on the thread count.  The k-means mean is numpy's
``X.mean(axis=0)``, the one ``KMeans`` subtracts.  The second pass also yields what each caller needs next,
which numpy would compute in further passes over X:

- :func:`centred_copy` (k-means): each row's squared norm, which the bounds
  of the hamerly engine need and whose total gives scikit-learn's tolerance
  (the mean feature variance);
- :func:`centre_columns` (permutation test): each column's sum of squares
  and whether the column is constant.
"""

import numba
import numpy as np


_BLOCK_ROWS = 4096


@numba.njit(cache=True, parallel=True)
def _subtract(X, mean, out, squared_norms, block, n_blocks):
    n_samples, n_features = X.shape
    for b in numba.prange(n_blocks):
        for i in range(b * block, min((b + 1) * block, n_samples)):
            acc = 0.0
            for j in range(n_features):
                out[i, j] = X[i, j] - mean[j]
                acc += np.float64(out[i, j]) ** 2
            squared_norms[i] = acc


@numba.njit(cache=True, parallel=True)
def _centred_squared_norms(X, mean, squared_norms, block, n_blocks):
    """:func:`_subtract`'s squared norms without its copy: each centred value as it would store it."""
    n_samples, n_features = X.shape
    for b in numba.prange(n_blocks):
        for i in range(b * block, min((b + 1) * block, n_samples)):
            acc = 0.0
            for j in range(n_features):
                acc += np.float64(X[i, j] - mean[j]) ** 2
            squared_norms[i] = acc


@numba.njit(cache=True, nogil=True)
def _sequential_mean(X):
    n_samples, n_features = X.shape
    acc = np.zeros(n_features, dtype=X.dtype)
    for i in range(n_samples):
        for j in range(n_features):
            acc[j] += X[i, j]
    return acc / X.dtype.type(n_samples)



def column_means(X):
    """``X.mean(axis=0)`` bit for bit, about five times faster.

    numpy reduces a C-contiguous array over its rows one row at a time, in
    X's dtype (a sequential sum per column), then divides by the count; a
    single column is contiguous and numpy sums it pairwise instead, so that
    case is left to numpy.  Checked bitwise in the test suite.
    """
    if X.shape[1] < 2 or X.shape[0] == 0:
        return X.mean(axis=0)
    return _sequential_mean(X)


def centring_mean(X, compiled=True):
    """``X.mean(axis=0)``: compiled (:func:`column_means`) only for more than one block of rows.

    The same bits either way; small data and engines that compile nothing
    get numpy's, so that nothing is compiled for them.
    """
    return column_means(X) if compiled and X.shape[0] > _BLOCK_ROWS else X.mean(axis=0)


def centred_copy(X, compiled=True, mean=None):
    """``X - mean`` as a new C-contiguous array of X's dtype.

    ``mean``, when the caller has it, must be :func:`centring_mean` of X.

    ``compiled=False`` computes the same in numpy, so that an engine that
    compiles nothing (numpy, jax, reference) makes its first fit without a
    compilation: the centred copy and the mean are the same bits (an
    elementwise difference and numpy's own mean), the row norms agree to
    rounding (they only size near-tie margins and bounds, which carry slack).
    Data of one block of rows is centred in numpy for every engine, with
    the compiled pass's bits throughout (checked in the test suite).

    Returns
    -------
    X_centred : ndarray of shape (n_samples, n_features)
    mean : ndarray of shape (n_features,)
        Column means, ``X.mean(axis=0)`` exactly as ``KMeans`` computes them
        (float32 sums for float32 X), so that k-means++ draws the same centres
        from the same centred data.
    squared_norms : ndarray of shape (n_samples,)
        Squared Euclidean norm of each centred row, in float64.
    mean_variance : float
        Mean over features of the (population) variance of each column.
    """
    n_samples = X.shape[0]
    if mean is None:
        mean = centring_mean(X, compiled)
    if not compiled or n_samples <= _BLOCK_ROWS:
        out = np.ascontiguousarray(X - mean)
        if n_samples <= _BLOCK_ROWS:
            # One block: the compiled pass's bits, each row summed in feature
            # order (a cumulative sum is sequential), and nothing to compile.
            squared_norms = np.cumsum(np.square(out, dtype=np.float64), axis=1)[:, -1]
        else:
            squared_norms = np.einsum("ij,ij->i", out, out, dtype=np.float64)
        return out, mean, squared_norms, float(np.sum(squared_norms)) / X.size
    n_blocks, block = _row_blocks(n_samples)
    out = np.empty_like(X, order="C")
    squared_norms = np.empty(n_samples)
    _subtract(X, mean, out, squared_norms, block, n_blocks)
    return out, mean, squared_norms, float(np.sum(squared_norms)) / X.size


def _row_blocks(n_samples):
    n_blocks = max(1, -(-n_samples // _BLOCK_ROWS))
    return n_blocks, -(-n_samples // n_blocks)


def centring_without_copy(X, mean=None):
    """What :func:`centred_copy` returns but the copy: ``(mean, squared_norms, mean_variance)``.

    For an engine that centres the rows as it reads them
    (``skfast.cluster._blas.CentredInPass``); the same bits as the compiled
    path of :func:`centred_copy` (X of more than one block of rows), one
    pass that reads X and writes only the norms.
    """
    n_samples = X.shape[0]
    if n_samples <= _BLOCK_ROWS:
        raise ValueError(f"centring without a copy needs more than {_BLOCK_ROWS} rows")
    n_blocks, block = _row_blocks(n_samples)
    mean = column_means(X) if mean is None else mean
    squared_norms = np.empty(n_samples)
    _centred_squared_norms(X, mean, squared_norms, block, n_blocks)
    return mean, squared_norms, float(np.sum(squared_norms)) / X.size


@numba.njit(cache=True, parallel=True)
def _column_max_abs(X, block, n_blocks):
    n_samples, n_features = X.shape
    partial = np.empty((n_blocks, n_features))  # one parallel region (skfast._compile)
    for b in numba.prange(n_blocks):
        partial[b] = 0.0
        for i in range(b * block, min((b + 1) * block, n_samples)):
            for j in range(n_features):
                partial[b, j] = max(partial[b, j], abs(np.float64(X[i, j])))
    return partial


def _column_scales(X, block, n_blocks):
    """Per column, the power of two that brings its largest |value| into [0.5, 1).

    Capped at 2**1000 (the largest power of two a subnormal column may need
    exceeds the float range); such a column is still far from underflow.
    """
    largest = _column_max_abs(X, block, n_blocks).max(axis=0)
    exponent = np.where(largest > 0, np.frexp(largest)[1], 0)
    return np.ldexp(1.0, np.minimum(-exponent, 1000))


@numba.njit(cache=True, parallel=True)
def _scaled_column_sums(X, scales, block, n_blocks):
    n_samples, n_features = X.shape
    partial = np.empty((n_blocks, n_features))  # one parallel region (skfast._compile)
    for b in numba.prange(n_blocks):
        partial[b] = 0.0
        for i in range(b * block, min((b + 1) * block, n_samples)):
            for j in range(n_features):
                partial[b, j] += np.float64(X[i, j]) * scales[j]
    sums = np.empty(n_features)
    for j in range(n_features):
        sums[j] = 0.0
    for b in range(n_blocks):
        for j in range(n_features):
            sums[j] += partial[b, j]
    return sums


# The feature-major copy is written through a small row-major scratch of
# _SCRATCH_ROWS x _SCRATCH_COLUMNS: values computed along rows (contiguous
# reads, vectorised), then stored a column at a time (contiguous writes).
# Writing out[j, i] directly from the row loop was four to five times slower.
_SCRATCH_ROWS, _SCRATCH_COLUMNS = 64, 32


@numba.njit(cache=True, parallel=True)
def _subtract_columns(X, scales, mean, out_t, block, n_blocks):
    """``out_t[j, i] = X[i, j] * scales[j] - mean[j]``: centred and feature-major in one pass.

    Threads take tiles of columns; within a tile, each column still adds
    its rows in row order, block by block: the same sums whatever the tiles.
    """
    n_samples, n_features = X.shape
    squares = np.empty((n_blocks, n_features))  # one parallel region (skfast._compile)
    varies = np.empty((n_blocks, n_features), dtype=np.bool_)
    first = np.empty(n_features)
    for j in range(n_features):
        first[j] = np.float64(X[0, j]) * scales[j] - mean[j]
    for tile in numba.prange(-(-n_features // _SCRATCH_COLUMNS)):
        lo = tile * _SCRATCH_COLUMNS
        width = min(lo + _SCRATCH_COLUMNS, n_features) - lo
        scratch = np.empty((_SCRATCH_ROWS, _SCRATCH_COLUMNS))
        for b in range(n_blocks):
            for j in range(lo, lo + width):
                squares[b, j] = 0.0
                varies[b, j] = False
        for b in range(n_blocks):
            block_end = min((b + 1) * block, n_samples)
            for start in range(b * block, block_end, _SCRATCH_ROWS):
                stop = min(start + _SCRATCH_ROWS, block_end)
                for i in range(start, stop):
                    for k in range(width):
                        j = lo + k
                        value = np.float64(X[i, j]) * scales[j] - mean[j]
                        scratch[i - start, k] = value
                        squares[b, j] += value * value
                        varies[b, j] |= value != first[j]
                for k in range(width):
                    for i in range(start, stop):
                        out_t[lo + k, i] = scratch[i - start, k]
    return squares, varies


# Data of at most this many elements (and one row block) is centred in numpy.
_NUMPY_MAX_ELEMENTS = 2**16
# Elements per column tile of the numpy path: its temporaries stay small.
_TILE_ELEMENTS = 2**22


def _centre_columns_in_numpy(X, centre=True):
    """:func:`centre_columns` for data of one row block, in numpy: the same bits.

    With a single block the compiled passes add each column's values in row
    order, and so does numpy when it reduces a C-contiguous array of two
    or more columns over its rows (a single column, which numpy would sum
    pairwise, is summed cumulatively), so the results are bitwise those of
    the compiled path (checked in the test suite) and nothing is compiled
    for the small data most permutation tests have.  Columns go in tiles, so
    no temporary is as large as X.
    """
    n_samples, n_features = X.shape
    out_t = np.empty((n_features, n_samples))
    constant = np.empty(n_features, dtype=bool)
    squares = np.empty(n_features)
    scales = np.empty(n_features)
    width = max(1, _TILE_ELEMENTS // max(n_samples, 1))
    for lo in range(0, n_features, width):
        hi = min(lo + width, n_features)
        tile = X[:, lo:hi]
        largest = np.maximum(tile.max(axis=0), -tile.min(axis=0)).astype(np.float64)
        exponent = np.where(largest > 0, np.frexp(largest)[1], 0)
        scales[lo:hi] = np.ldexp(1.0, np.minimum(-exponent, 1000))
        centred = np.multiply(tile, scales[lo:hi], dtype=np.float64)  # C-contiguous
        if centre:
            mean = (np.zeros(hi - lo) + _sums_in_row_order(centred)) / n_samples
            centred -= mean
        squares[lo:hi] = _sums_in_row_order(np.square(centred))
        constant[lo:hi] = ~(centred != centred[0]).any(axis=0)
        out_t[lo:hi] = centred.T
        if hi == n_features:
            break
    return out_t.T, constant, squares, scales


def _sums_in_row_order(a):
    # numpy sums the columns of a C-contiguous array row after row, but a
    # single (contiguous) column pairwise; a cumulative sum is sequential.
    return a.sum(axis=0) if a.shape[1] >= 2 else np.cumsum(a, axis=0)[-1]


def centre_columns(X, centre=True):
    """``(X - mean) * scale`` as a new feature-major float64 array, with column summaries.

    Each column is first scaled by the power of two that brings its largest
    absolute value into [0.5, 1): exact, so every scale-free statistic comes
    out bitwise as it would unscaled, and neither the squares of values near
    1e308 overflow nor those of values near 1e-160 underflow.
    ``centre=False`` scales without centring (the sign-flip tests, whose
    null hypothesis is a mean of zero); the summaries are then those of the
    scaled values.

    Returns
    -------
    X_centred : ndarray of shape (n_samples, n_features), float64
        The scaled, centred columns, feature-major (F-contiguous: the
        transpose of a C-contiguous array), the layout every permutation
        engine reads: a feature's values are contiguous, for the numba
        engine's dot products and the float64 checks, and the numpy
        engine's products take it as it is.
    constant : ndarray of shape (n_features,), bool
        Columns whose centred values are all equal.
    squares : ndarray of shape (n_features,)
        Sum of the squared scaled, centred values of each column.
    scales : ndarray of shape (n_features,)
        The power of two each column was multiplied by.
    """
    # small data: numpy, nothing to compile; above it the compiled passes,
    # two of them over X, in parallel, are faster
    if X.shape[0] <= _BLOCK_ROWS and X.size <= _NUMPY_MAX_ELEMENTS:
        return _centre_columns_in_numpy(X, centre)
    return _centre_columns_compiled(X, centre)


def _centre_columns_compiled(X, centre=True):
    n_samples = X.shape[0]
    n_blocks = max(1, -(-n_samples // _BLOCK_ROWS))
    block = -(-n_samples // n_blocks)
    scales = _column_scales(X, block, n_blocks)
    mean = (_scaled_column_sums(X, scales, block, n_blocks) / n_samples if centre
            else np.zeros(X.shape[1]))
    out_t = np.empty((X.shape[1], n_samples))
    squares, varies = _subtract_columns(X, scales, mean, out_t, block, n_blocks)
    # Reduced here in block order (numba would parallelise a reduction
    # inside the kernel, and its rounding would follow the thread count).
    return out_t.T, ~varies.any(axis=0), squares.sum(axis=0), scales
