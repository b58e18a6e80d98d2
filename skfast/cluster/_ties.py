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
``KMeans`` does: its GEMM call, argument for argument, through the same
library (:func:`sklearn_values`), each row at its own slot of a call of
the size scikit-learn made for it, on one BLAS thread
(:func:`sklearn_call_slots`), in the data's dtype, the first minimum wins.
What is guaranteed: every engine returns the same labels as the numpy
engine, which makes scikit-learn's calls for every sample; they are
scikit-learn's whenever a GEMM entry's value depends only on the call's
size and the row's slot in it, not on the other rows (OpenBLAS's SkylakeX
and Haswell kernels, in every case tested, the hostile battery included);
they are not guaranteed when scikit-learn itself depends on its thread
count (its per-thread partial sums of more than two threads are combined
in completion order).
"""

import contextvars
from contextlib import contextmanager

import numpy as np
from scipy.linalg import blas as scipy_blas

from ._sklearn_order import SKLEARN_CHUNK

# scikit-learn's _gemm calls scipy.linalg.cython_blas: the same library
_SCIPY_GEMM = {np.float32: scipy_blas.sgemm, np.float64: scipy_blas.dgemm}

__all__ = ["blas_ready", "margin_factor", "rows_of_larger_x", "settle", "sklearn_call_slots",
           "sklearn_values"]


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


def sklearn_call_slots(rows, n_samples):
    """Where scikit-learn's GEMM calls hold ``rows``: each row's slot, and the calls' sizes.

    ``KMeans`` evaluates its rows in calls of 256 (``SKLEARN_CHUNK``), then
    one call of the ``n_samples % 256`` rows left (its ``tail``).  OpenBLAS
    can give a row's values other last bits in a call of another size (its
    small-matrix path) and, with some kernels, at another position in the
    call: OpenBLAS's Haswell ``sgemm`` tiles the rows by twelve and rounds
    the first six of each tile otherwise than the last six, and the last
    rows of a call otherwise again.  So a row's values are scikit-learn's
    only at its own slot (``row % 256``, or its place in the tail) of a call
    of its size, on one BLAS thread (more threads split the call, and so
    move the slots).  The other rows of the call change nothing.
    Inside :func:`rows_of_larger_x` the rows are counted within the whole X.

    Returns
    -------
    slots : ndarray of int64
    in_tail : ndarray of bool
        Whether the row is in scikit-learn's last, shorter call.
    tail : int
        That call's row count.
    """
    first_row, n_total = _ROW_SPAN.get() or (0, n_samples)
    tail = n_total % SKLEARN_CHUNK
    tail_start = n_total - tail
    positions = np.asarray(rows, dtype=np.int64) + first_row
    in_tail = positions >= tail_start
    slots = np.where(in_tail, positions - tail_start, positions % SKLEARN_CHUNK)
    return slots, in_tail, tail


def sklearn_values(block, centers, squared_norms):
    """``|c|^2 - 2 x.c`` of every row of ``block``: scikit-learn's GEMM call, argument for argument.

    ``KMeans`` fills its buffer with the centres' squared norms and calls
    ``gemm("T", "N", n_clusters, n_rows, n_features, -2, centers, X, 1, buffer)``
    through ``scipy.linalg.cython_blas``; this is that call, through the
    same library (``scipy.linalg.blas``, no copy of any operand).  The
    values depend on where each row sits (:func:`sklearn_call_slots`): call
    it on one BLAS thread, with the rows at their slots.
    """
    gemm = _SCIPY_GEMM[block.dtype.type]
    values = np.empty((block.shape[0], centers.shape[0]), dtype=block.dtype)
    values[:] = squared_norms
    return gemm(-2.0, centers.T, block.T, beta=1.0, c=values.T, trans_a=1,
                overwrite_c=1).T


def _slot_rounds(slots):
    """Index arrays into ``slots`` that hold each slot at most once, as few as there can be."""
    if slots.size == 0:
        return
    order = np.argsort(slots, kind="stable")
    ordered = slots[order]
    repeated = ordered[1:] == ordered[:-1]
    if not repeated.any():  # the usual case, and it runs once per iteration
        yield order
        return
    position = np.arange(ordered.size)
    run_start = np.maximum.accumulate(np.where(np.concatenate(([False], repeated)), 0, position))
    occurrence = position - run_start  # the element's rank among the equal slots
    for round_ in range(int(occurrence.max()) + 1):
        yield order[occurrence == round_]


def blas_ready(array, dtype):
    """``array`` C-contiguous, in ``dtype`` and aligned: numpy sends a product to BLAS only then.

    An unaligned operand (a buffer unpickled on a Dask worker) makes numpy's
    ``@`` run its own loop, whose rounding is not scikit-learn's GEMM: 99 of
    1,064 near-tie labels moved.
    """
    array = np.ascontiguousarray(array, dtype=dtype)
    return array if array.flags.aligned else array.copy()


def settle(X, centers, rows, labels, offset=None):
    """Labels of ``rows`` by scikit-learn's expression, written into ``labels``.

    Each row is evaluated at its own slot of a call of its size, on one
    BLAS thread (:func:`sklearn_call_slots`), so its values are those
    ``KMeans`` computed; rows at different slots share a call.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centers : ndarray of shape (n_clusters, n_features)
        In X's dtype, as ``KMeans`` holds them.
    rows : ndarray of int
        The samples to decide.
    labels : ndarray of int32, shape (n_samples,)
        Updated in place.
    offset : ndarray of shape (n_features,), optional
        The data are ``X - offset`` (X centred on the fly, its rows centred
        here as the centred copy holds them).

    Returns
    -------
    changed : bool
        Whether any label changed.
    """
    from .._engines import blas_threads

    rows = np.asarray(rows)
    centers = blas_ready(centers, X.dtype)
    squared_norms = np.einsum("ij,ij->i", centers, centers)
    slots, in_tail, tail = sklearn_call_slots(rows, X.shape[0])
    changed = False
    with blas_threads(1):
        for group, call_rows in ((~in_tail, SKLEARN_CHUNK), (in_tail, tail)):
            group_rows, group_slots = rows[group], slots[group]
            if group_rows.size == 0:
                continue
            block = np.zeros((call_rows, X.shape[1]), dtype=X.dtype)
            for held in _slot_rounds(group_slots):
                part, part_slots = group_rows[held], group_slots[held]
                # zeros elsewhere: other rows change nothing
                block[part_slots] = X[part] if offset is None else X[part] - offset
                new = sklearn_values(block, centers, squared_norms)[part_slots].argmin(
                    axis=1).astype(np.int32)
                block[part_slots] = 0
                changed |= bool(np.any(new != labels[part]))
                labels[part] = new
    return changed
