"""Compile only what the data needs: serial twins of parallel kernels.

A ``parallel=True`` kernel costs several times the compilation of the same
loop without threads, and on data of a single block its threads have
nothing to share.  :func:`serial_twin` compiles the same Python function
without ``parallel`` (``prange`` then runs as ``range``): the same
arithmetic in the same order, so the same bits, under its own name in
numba's cache.  Callers pick the twin when their work is one block.
"""

import types

import numba

__all__ = ["serial_twin"]


def serial_twin(kernel):
    """``kernel``'s Python function compiled serially (``njit(cache=True, nogil=True)``)."""
    source = kernel.py_func
    twin = types.FunctionType(source.__code__, source.__globals__, source.__name__ + "_serial",
                              source.__defaults__, source.__closure__)
    # its own qualified name: its own entry in numba's on-disk cache
    twin.__qualname__ = source.__qualname__ + "_serial"
    twin.__module__ = source.__module__
    twin.__doc__ = source.__doc__
    return numba.njit(cache=True, nogil=True)(twin)
