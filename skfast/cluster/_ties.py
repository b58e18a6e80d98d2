"""The tie rule of FastKMeans: near-ties are decided by scikit-learn's expression.

``KMeans`` assigns a sample to the centre minimising ``|c|^2 - 2 x.c``, the
product ``x.c`` coming out of one BLAS GEMM per chunk of 256 samples, in the
data's dtype.  When two centres are (nearly) equidistant, which one wins is
decided by that expression's rounding, and another evaluation (direct
differences, another summation order, float64 for float32 data) can pick
the other centre.  Integer data makes such exact ties common.

So every engine decides a sample the fast way only when its two best values
are further apart than :func:`margin` (a bound on the rounding of both its
own evaluation and scikit-learn's); the few other samples are handed to
:func:`settle`, which evaluates scikit-learn's expression for them as
``KMeans`` does (GEMM over 256-row blocks in the data's dtype, the first
minimum wins).  What is guaranteed: every engine returns the same labels as
the numpy engine, which computes that expression for every sample (the
``blas`` engine settles its near ties with scikit-learn's very GEMM call,
``_gemm``); they are
scikit-learn's whenever the BLAS library gives each entry of a GEMM the same
value whatever the other rows of the block (OpenBLAS does in every case
tested, the hostile battery included); they are not guaranteed when
scikit-learn itself depends on its thread count (its per-thread partial sums
of more than two threads are combined in completion order).
"""

import numpy as np

from ._sklearn_order import SKLEARN_CHUNK

__all__ = ["margin_factor", "settle"]


def margin_factor(n_features, dtype):
    """``f`` such that ``f * (|x| + max|c|)^2`` bounds the decisive rounding.

    In units of the half squared distance (``|c|^2/2 - x.c``): each engine's
    value and scikit-learn's err by at most ``gamma_{d+2} (|x| |c| + |c|^2)``
    (a dot product of ``d`` terms in any order, the norm, the subtraction),
    in scikit-learn's case with the unit round-off of the data's dtype.  Two
    values closer than twice the sum of both errors may be ordered
    differently; the factor 2 on top absorbs the second-order terms.
    """
    unit = 2.0**-24 if np.dtype(dtype) == np.float32 else 2.0**-53
    gamma = (n_features + 2) * unit
    return 2.0 * 2.0 * 2.0 * gamma


def settle(X, centers, rows, labels):
    """Labels of ``rows`` by scikit-learn's expression, written into ``labels``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centers : ndarray of shape (n_clusters, n_features)
        In X's dtype, as ``KMeans`` holds them.
    rows : ndarray of int
        The samples to decide.
    labels : ndarray of int32, shape (n_samples,)
        Updated in place.

    Returns
    -------
    changed : bool
        Whether any label changed.
    """
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    squared_norms = np.einsum("ij,ij->i", centers, centers)
    changed = False
    block = np.zeros((SKLEARN_CHUNK, X.shape[1]), dtype=X.dtype)
    for start in range(0, rows.size, SKLEARN_CHUNK):
        part = rows[start:start + SKLEARN_CHUNK]
        # A full 256-row block, as scikit-learn's GEMM sees one: the decided
        # rows first, zeros after.
        block[:part.size] = X[part]
        block[part.size:] = 0
        values = squared_norms[None, :] - 2 * (block @ centers.T)
        new = values[:part.size].argmin(axis=1).astype(np.int32)
        changed |= bool(np.any(new != labels[part]))
        labels[part] = new
    return changed
