"""The centred working copy of X, made in two parallel passes.

``KMeans`` centres its data (``X - X.mean(axis=0)``) so that the
``|c|^2/2 - x.c`` identity stays accurate for data far from the origin.
Here the column means and the copy come from compiled passes over fixed
blocks of rows, reduced in block order: the result does not depend on the
thread count.  The second pass also yields each row's squared norm, which
the bounds of the hamerly engine need and whose total is what
scikit-learn's tolerance needs (the mean feature variance); ``np.var`` and
``einsum`` would take three more passes.
"""

import numba
import numpy as np

_BLOCK_ROWS = 4096


@numba.njit(cache=True, parallel=True)
def _column_sums(X, block, n_blocks):
    n_samples, n_features = X.shape
    partial = np.zeros((n_blocks, n_features))
    for b in numba.prange(n_blocks):
        for i in range(b * block, min((b + 1) * block, n_samples)):
            for j in range(n_features):
                partial[b, j] += X[i, j]
    sums = np.zeros(n_features)
    for b in range(n_blocks):
        for j in range(n_features):
            sums[j] += partial[b, j]
    return sums


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


def centred_copy(X):
    """``X - mean`` as a new C-contiguous array of X's dtype.

    Returns
    -------
    X_centred : ndarray of shape (n_samples, n_features)
    mean : ndarray of shape (n_features,)
        Column means, summed in float64 and stored in X's dtype.
    squared_norms : ndarray of shape (n_samples,)
        Squared Euclidean norm of each centred row, in float64.
    mean_variance : float
        Mean over features of the (population) variance of each column.
    """
    n_samples = X.shape[0]
    n_blocks = max(1, -(-n_samples // _BLOCK_ROWS))
    block = -(-n_samples // n_blocks)
    mean = (_column_sums(X, block, n_blocks) / n_samples).astype(X.dtype)
    out = np.empty_like(X, order="C")
    squared_norms = np.empty(n_samples)
    _subtract(X, mean, out, squared_norms, block, n_blocks)
    return out, mean, squared_norms, float(np.sum(squared_norms)) / X.size
