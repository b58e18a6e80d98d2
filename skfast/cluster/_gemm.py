"""The blas engine's GEMM, called from compiled code.

:func:`gemm_values` calls OpenBLAS through numba's
``numba_xxgemm`` helper, which calls ``scipy.linalg.cython_blas`` as
scikit-learn's ``_gemm`` does, from inside the compiled parallel pass (one
BLAS thread per block of rows).  :func:`squared_norms` is the centres'
squared norms as ``KMeans`` takes them.
"""

import numba
import numpy as np
from numba import types

__all__ = ["gemm_values", "squared_norms"]

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
def gemm_values(rows, n_rows, centers, half_norms, out, by_row=False):
    """``|c|^2/2 - x.c`` of ``rows[:n_rows]`` and every centre by one GEMM in the rows' dtype.

    The fast evaluation of the blas engine (``sgemm`` for float32 rows,
    ``dgemm`` for float64; ``centers``, ``half_norms`` and ``out`` in the
    same dtype, C-contiguous).  Stored centre-major (``out[k, r]``, ``out``
    with at least ``n_rows`` columns) so that the scan over centres that
    follows runs across rows in SIMD lanes, or with ``by_row`` row-major
    (``out[r, k]``, ``n_clusters`` columns), the orientation OpenBLAS runs
    faster above a few clusters (``_blas._by_row``).  Its values only decide
    samples whose two best are further apart than their rounding (``_blas``).
    """
    n_clusters, n_features = centers.shape
    if n_rows <= 0:
        return
    if by_row:
        for r in range(n_rows):
            for k in range(n_clusters):
                out[r, k] = half_norms[k]
    else:
        for k in range(n_clusters):
            for r in range(n_rows):
                out[k, r] = half_norms[k]
    scalars = np.empty(2, dtype=rows.dtype)
    scalars[0] = -1.0
    scalars[1] = 1.0
    kind = ord("s") if rows.itemsize == 4 else ord("d")
    if by_row:
        # row-major (r, k) is column-major (k, r): C X^T, the centres' rows as columns of A^T
        status = _xxgemm(kind, _TRANS, _NO_TRANS, n_clusters, n_rows, n_features,
                         scalars[:1].ctypes, centers.ctypes, n_features, rows.ctypes,
                         n_features, scalars[1:].ctypes, out.ctypes, n_clusters)
    else:
        # row-major (k, r) is column-major (r, k): X C^T, X's rows as columns of A^T
        status = _xxgemm(kind, _TRANS, _NO_TRANS, n_rows, n_clusters, n_features,
                         scalars[:1].ctypes, rows.ctypes, n_features, centers.ctypes,
                         n_features, scalars[1:].ctypes, out.ctypes, out.shape[1])
    if status != 0 or scalars[0] != -1.0:
        raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")
