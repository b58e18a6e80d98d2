"""Compile only what the data needs: serial twins of parallel kernels.

A ``parallel=True`` kernel costs several times the compilation of the same
loop without threads, and on data of a single block its threads have
nothing to share.  :func:`serial_twin` compiles the same Python function
without ``parallel`` (``prange`` then runs as ``range``): the same
arithmetic in the same order, so the same bits, under its own name in
numba's cache.  Callers pick the twin when their work is one block.

One parallel region per call.  Inside a ``parallel=True`` kernel numba
turns every array expression outside the ``prange`` loop (``np.zeros``,
``a.sum()``, ``a.max()``, ``np.argmax``, ``2 * a``) into a parallel loop of
its own, and each one wakes the thread pool.  Under
``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep, as every library's do in
the benchmarks) a wake-up cost 40-100 us on the benchmark machine (2
cores): four regions took 0.16-0.36 ms, a third of a (100,000, 10, 5)
blas pass, which ran 1.35x (float64) and 1.54x (float32) faster with one.
So the kernels allocate with ``np.empty``, each part zeroes its own slice
inside the ``prange`` body, and small reductions are plain loops;
``tests/test_parallel_regions.py`` checks the sources.
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
