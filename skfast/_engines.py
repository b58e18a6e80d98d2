"""The engine layer shared by every skfast estimator.

An estimator declares an :class:`EngineTable`: the engines it advertises, the
module that holds each engine's kernels, and the rule that resolves
``engine="auto"`` from the data shape.  The estimator resolves the engine once
per call, runs the kernels inside :func:`compute_threads`, and stores the
engine that actually ran in ``engine_``.  Nothing here falls back silently: an
unknown engine is a ``ValueError`` listing the valid names and a missing
optional engine is an ``ImportError`` naming the extra that installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral
from typing import Callable

from threadpoolctl import ThreadpoolController

__all__ = [
    "Engine",
    "EngineTable",
    "compute_threads",
    "effective_n_threads",
    "jax_dtype_context",
]


@dataclass(frozen=True)
class Engine:
    """One compute engine of an estimator.

    Parameters
    ----------
    name : str
        The value users pass as ``engine=``.
    module : str
        Dotted path of the module holding the engine's kernels.  It is
        imported on first use so that optional dependencies stay optional.
    requires : tuple of str
        Top-level packages the engine needs beyond the runtime dependencies.
    extra : str or None
        The ``pip install skfast[extra]`` that provides ``requires``.
    compiled_parallel : bool
        Whether the kernels run their own thread pool (numba ``prange``).  BLAS
        is then pinned to one thread so the two pools never oversubscribe.
    blas_between_regions : bool
        Whether a ``compiled_parallel`` engine also calls BLAS, only ever
        between its parallel regions, never inside one.  The two pools then
        take turns, so BLAS keeps ``n_threads`` as well.
    description : str
        One line for ``show_versions`` and the docs.
    """

    name: str
    module: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    compiled_parallel: bool = False
    blas_between_regions: bool = False
    description: str = ""

    def is_available(self) -> bool:
        """Whether every package the engine requires can be imported."""
        return all(_importable(pkg) for pkg in self.requires)

    def load(self):
        """Import and return the kernel module, or explain how to install it."""
        if not self.is_available():
            missing = [p for p in self.requires if not _importable(p)]
            raise ImportError(
                f"engine={self.name!r} needs {', '.join(missing)}, which is not "
                f"installed; install it with: pip install 'skfast[{self.extra}]'"
            )
        return importlib.import_module(self.module)


def _importable(package: str) -> bool:
    # An imported package needs no search; a found one is remembered, since
    # "auto" asks at every fit and a search costs tens of microseconds.
    if package in sys.modules or package in _FOUND:
        return True
    if importlib.util.find_spec(package) is None:
        return False
    _FOUND.add(package)
    return True


_FOUND: set[str] = set()


@dataclass(frozen=True)
class EngineTable:
    """The engines one estimator advertises, and its ``"auto"`` rule.

    Parameters
    ----------
    estimator : str
        Estimator name, used in error messages.
    engines : tuple of Engine
        Every engine except ``"auto"``, in the order the docs list them.
    auto_rule : callable
        ``auto_rule(available, **shape) -> str``: picks an engine name among
        ``available`` (the installed engines) from the data shape.
    """

    estimator: str
    engines: tuple[Engine, ...]
    auto_rule: Callable[..., str] = field(repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Every valid value of ``engine=``, ``"auto"`` first."""
        return ("auto",) + tuple(e.name for e in self.engines)

    def available(self) -> tuple[str, ...]:
        """Names of the engines whose dependencies are installed."""
        return tuple(e.name for e in self.engines if e.is_available())

    def __getitem__(self, name: str) -> Engine:
        self.check_name(name)
        return next(e for e in self.engines if e.name == name)

    def check_name(self, engine) -> None:
        """Raise ``ValueError`` unless ``engine`` is one of :attr:`names`."""
        if not isinstance(engine, str) or engine not in self.names:
            raise ValueError(
                f"{self.estimator}: unknown engine={engine!r}; valid engines are "
                f"{', '.join(repr(n) for n in self.names)}."
            )

    def resolve(self, engine: str, **shape) -> Engine:
        """Return the :class:`Engine` that will run for ``engine`` and ``shape``.

        ``"auto"`` is resolved by the table's rule among the installed
        engines.  An explicitly requested engine that is not installed raises
        ``ImportError``; it is never replaced by another one.
        """
        self.check_name(engine)
        if engine == "auto":
            engine = self.auto_rule(self.available(), **shape)
        chosen = self[engine]
        if not chosen.is_available():
            chosen.load()  # raises the ImportError naming the extra
        return chosen


def effective_n_threads(n_threads) -> int:
    """Number of threads a call may use.

    ``None`` or ``-1`` means every core this process may run on; a positive
    integer is used as given, capped at the cores numba was configured with.
    """
    import numba

    n_cores = numba.config.NUMBA_NUM_THREADS
    if n_threads is None or (isinstance(n_threads, Integral) and n_threads == -1):
        return n_cores
    if (
        isinstance(n_threads, bool)
        or not isinstance(n_threads, Integral)
        or n_threads < 1
    ):
        raise ValueError(
            f"n_threads must be None, -1 or a positive integer, got {n_threads!r}."
        )
    return int(min(n_threads, n_cores))


_blas_scan = None  # (len(sys.modules) when scanned, ThreadpoolController)


def _blas_controller():
    """The loaded BLAS libraries, rescanned only after new imports.

    A scan walks every loaded shared library (about 10 ms), which is a
    noticeable share of a small fit; libraries only appear through imports.
    """
    global _blas_scan
    if _blas_scan is None or _blas_scan[0] != len(sys.modules):
        _blas_scan = (len(sys.modules), ThreadpoolController())
    return _blas_scan[1]


@contextmanager
def compute_threads(n_threads, engine: Engine):
    """Limit BLAS and numba threads for the duration of one fit or predict.

    BLAS gets ``n_threads`` threads, except while a numba-parallel engine runs:
    then numba gets ``n_threads`` and BLAS one, so that the two pools never
    oversubscribe the cores.  An engine whose BLAS calls all fall between its
    parallel regions (``blas_between_regions``) keeps ``n_threads`` for both,
    as the pools take turns.  numba's previous thread count is restored.

    Yields
    ------
    n_threads : int
        The resolved thread count.
    """
    n = effective_n_threads(n_threads)
    if engine.compiled_parallel:
        blas_threads = n if engine.blas_between_regions else 1
        with numba_threads(n), _blas_controller().limit(limits=blas_threads, user_api="blas"):
            yield n
    else:
        with _blas_controller().limit(limits=n, user_api="blas"):
            yield n


@contextmanager
def numba_threads(n_threads):
    """numba's thread count set to ``n_threads`` (None: all cores), then restored."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(effective_n_threads(n_threads))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def jax_dtype_context(dtype):
    """Context in which jax computes in ``dtype`` (float32 or float64).

    ``jax.enable_x64`` is a scoped configuration context, so the user's global
    ``jax_enable_x64`` setting is left untouched once the call returns.
    """
    import jax
    import numpy as np

    return jax.enable_x64(np.dtype(dtype) == np.float64)


def cpu_count() -> int:
    """Cores available to this process (respects affinity masks)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
