"""scikit-learn's distance expression, computed by the very BLAS call ``KMeans`` makes.

``KMeans`` (``sklearn/cluster/_k_means_lloyd.pyx``) fills a chunk's buffer
with the centres' squared norms (``row_norms``, in the data's dtype) and
adds ``-2 X_chunk C^T`` to it with one ``gemm(RowMajor, NoTrans, Trans,
alpha=-2, beta=1)`` from ``scipy.linalg.cython_blas``; the first smallest
entry of a row is the sample's label.  :func:`sklearn_values` makes that
same call, through the same function pointer (numba's ``numba_xxgemm``
helper calls ``scipy.linalg.cython_blas`` as scikit-learn's ``_gemm``
does), with the same operands, so its values are scikit-learn's bit for bit
for rows at the same place of a 256-row chunk; OpenBLAS gives a row the same
values wherever it sits in the chunk (``_ties``), which the hostile battery
checks against ``KMeans`` itself.
"""

import numba
import numpy as np
from numba import types

__all__ = ["sklearn_values", "squared_norms"]

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
def sklearn_values(X, lo, hi, centers, norms, out):
    """``out[:hi - lo] = norms - 2 X[lo:hi] C^T`` by scikit-learn's GEMM call.

    ``X``, ``centers`` (in X's dtype), ``norms`` and ``out`` are C-contiguous;
    ``out`` has at least ``hi - lo`` rows.  Row-major ``A B^T`` is the
    column-major ``B A^T``: scikit-learn passes ``(Trans, NoTrans, n_clusters,
    rows, n_features, -2, C, X)``, and so does this.
    """
    n_clusters, n_features = centers.shape
    rows = hi - lo
    if rows <= 0:
        return
    for r in range(rows):
        for k in range(n_clusters):
            out[r, k] = norms[k]
    kind = ord("d") if X.itemsize == 8 else ord("s")
    scalars = np.empty(2, dtype=X.dtype)
    scalars[0] = -2.0
    scalars[1] = 1.0
    chunk = X[lo:hi]
    status = _xxgemm(kind, _TRANS, _NO_TRANS, n_clusters, rows, n_features,
                     scalars[:1].ctypes, centers.ctypes, n_features, chunk.ctypes, n_features,
                     scalars[1:].ctypes, out.ctypes, out.shape[1])
    # read after the call, so that the scalars' memory outlives it
    if status != 0 or scalars[0] != -2.0:
        raise RuntimeError("scipy.linalg.cython_blas gemm is unavailable")



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
