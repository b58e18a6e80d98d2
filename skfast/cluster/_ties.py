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
``KMeans`` does (GEMM over blocks of the size of scikit-learn's call for
the row, :func:`sklearn_call_rows`, in the data's dtype, the first minimum
wins).  What is guaranteed: every engine returns the same labels as
the numpy engine, which computes that expression for every sample; they
are scikit-learn's whenever the BLAS library gives each entry of a GEMM the
same value whatever the other rows of a call of the same size (OpenBLAS
does in every case tested, the hostile battery included; calls of other
sizes may take its small-matrix kernel, hence :func:`sklearn_call_rows`);
they are not guaranteed when
scikit-learn itself depends on its thread count (its per-thread partial sums
of more than two threads are combined in completion order).
"""

import contextvars
from contextlib import contextmanager

import numpy as np

from ._sklearn_order import SKLEARN_CHUNK

__all__ = ["blas_ready", "margin_factor", "rows_of_larger_x", "settle", "sklearn_call_rows"]


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


#: ``(first row, rows in all)`` when the X being settled is a chunk of a larger one
_ROW_SPAN = contextvars.ContextVar("sklearn_row_span", default=None)


@contextmanager
def rows_of_larger_x(first_row, n_total):
    """Settle X as rows ``first_row ...`` of an X of ``n_total`` rows (a Dask chunk)."""
    token = _ROW_SPAN.set((int(first_row), int(n_total)))
    try:
        yield
    finally:
        _ROW_SPAN.reset(token)


def sklearn_call_rows(n_samples):
    """Where scikit-learn's last, shorter GEMM call starts in X, and its row count.

    OpenBLAS computes small products with other kernels (its small-matrix
    path), whose values can differ in the last bit: a row's value is
    scikit-learn's only from a call of the size scikit-learn made for it,
    256 rows, or ``n_samples % 256`` for the rows of its last chunk.  Which
    other rows share the call, and where the row sits in it, change nothing.
    Inside :func:`rows_of_larger_x` the chunk's own rows are counted within
    the whole X: the start is then clipped to ``[0, n_samples]``.
    """
    first_row, n_total = _ROW_SPAN.get() or (0, n_samples)
    tail = n_total % SKLEARN_CHUNK
    start = min(max(n_total - tail - first_row, 0), n_samples)
    return start, tail


def blas_ready(array, dtype):
    """``array`` C-contiguous, in ``dtype`` and aligned: numpy sends a product to BLAS only then.

    An unaligned operand (a buffer unpickled on a Dask worker) makes numpy's
    ``@`` run its own loop, whose rounding is not scikit-learn's GEMM: 99 of
    1,064 near-tie labels moved.
    """
    array = np.ascontiguousarray(array, dtype=dtype)
    return array if array.flags.aligned else array.copy()


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
    centers = blas_ready(centers, X.dtype)
    squared_norms = np.einsum("ij,ij->i", centers, centers)
    tail_start, tail = sklearn_call_rows(X.shape[0])
    changed = False
    block = np.zeros((SKLEARN_CHUNK, X.shape[1]), dtype=X.dtype)
    # each group in a call of scikit-learn's size for its rows (sklearn_call_rows)
    for group, call_rows in ((rows[rows < tail_start], SKLEARN_CHUNK),
                             (rows[rows >= tail_start], tail)):
        for start in range(0, group.size, SKLEARN_CHUNK):
            part = group[start:start + SKLEARN_CHUNK]
            # the decided rows first, zeros after
            block[:part.size] = X[part]
            block[part.size:] = 0
            values = squared_norms[None, :] - 2 * (block[:call_rows] @ centers.T)
            new = values[:part.size].argmin(axis=1).astype(np.int32)
            changed |= bool(np.any(new != labels[part]))
            labels[part] = new
    return changed
