"""The blas engine's float32 GEMM, called from compiled code.

:func:`single_precision_values` calls OpenBLAS through numba's
``numba_xxgemm`` helper, which calls ``scipy.linalg.cython_blas`` as
scikit-learn's ``_gemm`` does, from inside the compiled parallel pass (one
BLAS thread per block of rows).  :func:`squared_norms` is the centres'
squared norms as ``KMeans`` takes them.
"""

import numba
import numpy as np
from numba import types

__all__ = ["single_precision_values", "squared_norms"]

# numba's own GEMM entry point (``numba/_helperlib.c``): kind ('s' or 'd'),
# then the Fortran-order arguments.  An external symbol keeps the callers
# cacheable, where a ctypes function pointer would not be.
_xxgemm = types.ExternalFunction(
    "numba_xxgemm",
    types.intc(types.char, types.char, types.char, types.intp, types.intp, types.intp,
               types.voidptr, types.voidptr, types.intp, types.voidptr, types.intp,
               types.voidptr, types.voidptr, types.intp),
)

_TRANS, _NO_TRANS = ord("t"), ord("n")


def squared_norms(centers):
    """The centres' squared norms as ``KMeans`` takes them (``row_norms``: one einsum)."""
    return np.einsum("ij,ij->i", centers, centers)


@numba.njit(cache=True, nogil=True)
def _negated_product(a, b, m, n, k, out, ldc):
    """``out (m x n, column-major, leading dimension ldc) -= a^T b``, a k x m, b k x n, float32."""
    scalars = np.empty(2, dtype=np.float32)
    scalars[0] = -1.0
    scalars[1] = 1.0
    status = _xxgemm(ord("s"), _TRANS, _NO_TRANS, m, n, k, scalars[:1].ctypes, a.ctypes, k,
                     b.ctypes, k, scalars[1:].ctypes, out.ctypes, ldc)
    if status != 0 or scalars[0] != -1.0:
        raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")


@numba.njit(cache=True, nogil=True)
def single_precision_values(rows32, n_rows, centers32, half_norms32, out, by_row=False):
    """``|c|^2/2 - x.c`` of ``rows32[:n_rows]`` and every centre by one float32 GEMM.

    The fast evaluation of the blas engine, in float32 whatever the data's
    dtype, for rows already scaled into float32's range.  Stored
    centre-major (``out[k, r]``, ``out`` with at least ``n_rows`` columns)
    so that the scan over centres that follows runs across rows in SIMD
    lanes, or with ``by_row`` row-major (``out[r, k]``, ``n_clusters``
    columns), the orientation OpenBLAS runs faster above a few clusters
    (``_blas._by_row``).  Its values only decide samples whose two best are
    further apart than their rounding (``_blas``).  ``out`` is C-contiguous.
    """
    n_clusters, n_features = centers32.shape
    if n_rows <= 0:
        return
    if by_row:
        for r in range(n_rows):
            for k in range(n_clusters):
                out[r, k] = half_norms32[k]
    else:
        for k in range(n_clusters):
            for r in range(n_rows):
                out[k, r] = half_norms32[k]
    scalars = np.empty(2, dtype=np.float32)
    scalars[0] = -1.0
    scalars[1] = 1.0
    if by_row:
        # row-major (r, k) is column-major (k, r): C X^T, the centres' rows as columns of A^T
        status = _xxgemm(ord("s"), _TRANS, _NO_TRANS, n_clusters, n_rows, n_features,
                         scalars[:1].ctypes, centers32.ctypes, n_features, rows32.ctypes,
                         n_features, scalars[1:].ctypes, out.ctypes, n_clusters)
    else:
        # row-major (k, r) is column-major (r, k): X C^T, X's rows as columns of A^T
        status = _xxgemm(ord("s"), _TRANS, _NO_TRANS, n_rows, n_clusters, n_features,
                         scalars[:1].ctypes, rows32.ctypes, n_features, centers32.ctypes,
                         n_features, scalars[1:].ctypes, out.ctypes, out.shape[1])
    if status != 0 or scalars[0] != -1.0:
        raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")
