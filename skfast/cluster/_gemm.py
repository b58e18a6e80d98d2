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

__all__ = ["single_precision_values", "single_precision_values_by_row", "squared_norms"]

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
def single_precision_values(rows32, n_rows, centers32, half_norms32, out):
    """``out[:, :n_rows] = half_norms32[:, None] - C32 rows32[:n_rows]^T`` by one float32 GEMM.

    The fast evaluation of the blas engine: ``|c|^2/2 - x.c`` in float32,
    whatever the data's dtype, for rows already scaled into float32's range,
    stored centre-major (``out[k, r]``) so that the scan over centres that
    follows runs across rows, in SIMD lanes.  Its values only decide samples
    whose two best are further apart than their rounding (``_blas``).
    ``out`` is C-contiguous with at least ``n_rows`` columns.
    """
    n_clusters, n_features = centers32.shape
    if n_rows <= 0:
        return
    for k in range(n_clusters):
        for r in range(n_rows):
            out[k, r] = half_norms32[k]
    scalars = np.empty(2, dtype=np.float32)
    scalars[0] = -1.0
    scalars[1] = 1.0
    # row-major (k, r) is column-major (r, k): X C^T, X's rows as columns of A^T
    status = _xxgemm(ord("s"), _TRANS, _NO_TRANS, n_rows, n_clusters, n_features,
                     scalars[:1].ctypes, rows32.ctypes, n_features, centers32.ctypes, n_features,
                     scalars[1:].ctypes, out.ctypes, out.shape[1])
    if status != 0 or scalars[0] != -1.0:
        raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")


@numba.njit(cache=True, nogil=True)
def single_precision_values_by_row(rows32, n_rows, centers32, half_norms32, out):
    """:func:`single_precision_values` stored row-major: ``out[r, k]``, one row's values together.

    The orientation OpenBLAS runs faster for few features or few clusters
    (``_blas._by_row``).  ``out`` is C-contiguous with ``n_clusters``
    columns and at least ``n_rows`` rows.
    """
    n_clusters, n_features = centers32.shape
    if n_rows <= 0:
        return
    for r in range(n_rows):
        for k in range(n_clusters):
            out[r, k] = half_norms32[k]
    scalars = np.empty(2, dtype=np.float32)
    scalars[0] = -1.0
    scalars[1] = 1.0
    # row-major (r, k) is column-major (k, r): C X^T, the centres' rows as columns of A^T
    status = _xxgemm(ord("s"), _TRANS, _NO_TRANS, n_clusters, n_rows, n_features,
                     scalars[:1].ctypes, centers32.ctypes, n_features, rows32.ctypes, n_features,
                     scalars[1:].ctypes, out.ctypes, n_clusters)
    if status != 0 or scalars[0] != -1.0:
        raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")
