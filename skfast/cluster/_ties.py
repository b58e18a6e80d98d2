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
``KMeans`` does: its GEMM call, argument for argument, through
``scipy.linalg.cython_blas`` as ``KMeans`` calls it (from compiled code,
:func:`_settle_rows`; the numpy engine's :func:`sklearn_values` makes the
same call through ``scipy.linalg.blas``), each row at its own slot of a call of
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

import numba
import numpy as np
from scipy.linalg import blas as scipy_blas

from ._gemm import _NO_TRANS, _TRANS, _xxgemm
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
    ``KMeans`` computed; rows at different slots share a call.  The calls
    are made from compiled code (:func:`_settle_rows`), through
    ``scipy.linalg.cython_blas`` as ``KMeans`` makes them: a settling
    runs once per iteration, and its numpy steps had cost 50-110 us a call.
    (So the reference and jax engines, which compile nothing else, compile
    it at their first near tie; numba caches it on disk.)

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

    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.size == 0:
        return False
    X = np.asarray(X)
    centers = blas_ready(centers, X.dtype)
    # row_norms' einsum, as KMeans computes the norms its buffer starts from
    squared_norms = np.einsum("ij,ij->i", centers, centers)
    first_row, n_total = _ROW_SPAN.get() or (0, X.shape[0])
    offset = _NO_OFFSET.astype(X.dtype) if offset is None else blas_ready(offset, X.dtype)
    with blas_threads(1):
        return bool(_settle_rows(X, offset, centers, squared_norms, rows, first_row, n_total,
                                 labels))


_NO_OFFSET = np.empty(0)


@numba.njit(cache=True, nogil=True)
def _settle_rows(X, offset, centers, squared_norms, rows, first_row, n_total, labels):
    """:func:`settle`'s calls: rounds in which each slot holds at most one row.

    A row's slot and call size are :func:`sklearn_call_slots`'.  The k-th
    row (in the given order) at a slot goes into round k of its call size;
    each round's rows sit at their slots in a block of zeros (the other
    rows change nothing) that ``KMeans``' GEMM call evaluates
    (:func:`sklearn_values`, argument for argument).  The first smallest
    value wins, as ``argmin``.
    """
    n_features = X.shape[1]
    n_clusters = centers.shape[0]
    tail = n_total % SKLEARN_CHUNK
    tail_start = n_total - tail
    n_rows = rows.shape[0]
    centre = offset.shape[0] != 0
    slots = np.empty(n_rows, dtype=np.int64)
    in_tail = np.empty(n_rows, dtype=np.bool_)
    rounds = np.empty(n_rows, dtype=np.int64)
    taken = np.zeros((2, SKLEARN_CHUNK), dtype=np.int64)  # rows so far at each slot
    for r in range(n_rows):
        position = rows[r] + first_row
        in_tail[r] = position >= tail_start
        slots[r] = position - tail_start if in_tail[r] else position % SKLEARN_CHUNK
        group = 1 if in_tail[r] else 0
        # the calls of 256 rows first, then the tail's; within each, round by round
        rounds[r] = group * (n_rows + 1) + taken[group, slots[r]]
        taken[group, slots[r]] += 1
    order = np.argsort(rounds, kind="mergesort")
    block = np.zeros((SKLEARN_CHUNK, n_features), dtype=X.dtype)
    values = np.empty((SKLEARN_CHUNK, n_clusters), dtype=X.dtype)
    scalars = np.empty(2, dtype=X.dtype)
    scalars[0] = -2.0
    scalars[1] = 1.0
    kind = ord("s") if X.itemsize == 4 else ord("d")
    changed = False
    first = 0
    while first < n_rows:
        last = first
        while last < n_rows and rounds[order[last]] == rounds[order[first]]:
            r = order[last]
            for j in range(n_features):
                value = X[rows[r], j]
                block[slots[r], j] = value - offset[j] if centre else value
            last += 1
        call_rows = tail if in_tail[order[first]] else SKLEARN_CHUNK
        for slot in range(call_rows):
            for k in range(n_clusters):
                values[slot, k] = squared_norms[k]
        status = _xxgemm(kind, _TRANS, _NO_TRANS, n_clusters, call_rows, n_features,
                         scalars[:1].ctypes, centers.ctypes, n_features, block.ctypes,
                         n_features, scalars[1:].ctypes, values.ctypes, n_clusters)
        if status != 0 or scalars[0] != -2.0:
            raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")
        for m in range(first, last):
            r = order[m]
            slot = slots[r]
            best = 0
            for k in range(1, n_clusters):
                # argmin's first smallest (a NaN counts as smallest, as there)
                if values[slot, k] < values[slot, best] or (
                        np.isnan(values[slot, k]) and not np.isnan(values[slot, best])):
                    best = k
            changed |= labels[rows[r]] != best
            labels[rows[r]] = best
            for j in range(n_features):
                block[slot, j] = 0
        first = last
    return changed
