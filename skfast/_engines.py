"""The engine layer shared by every skfast estimator.

An estimator declares an :class:`EngineTable`: the engines it advertises, the
module that holds each engine's kernels, the rule that resolves
``engine="auto"`` from the data shape, the written contract every engine
module satisfies (a :class:`typing.Protocol`) and the :class:`GateSpec` that
says when two engines agree.  The estimator resolves the engine once per call
and runs the kernels inside :func:`engine_run`, which limits the threads and
records the engine that actually ran in ``engine_``.  Nothing here falls back silently: an
unknown engine is a ``ValueError`` listing the valid names and a missing
optional engine is an ``ImportError`` naming the extra that installs it.
"""

from __future__ import annotations

import contextvars
import importlib
import importlib.util
import os
import sys
import inspect
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral
from typing import Callable

import numpy as np

from threadpoolctl import ThreadpoolController

__all__ = [
    "available_engines",
    "blas_threads",
    "Engine",
    "EngineTable",
    "GateSpec",
    "N_JOBS_CONSTRAINT",
    "N_THREADS_CONSTRAINT",
    "compute_threads",
    "contract_violations",
    "engine_run",
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
    capabilities : frozenset of str
        Optional members of the estimator's engine contract that this
        engine's module provides (for FastKMeans, ``"BoundedStep"``).  The
        estimator asks the table, never the module (no ``hasattr`` probing).
    """

    name: str
    module: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    compiled_parallel: bool = False
    blas_between_regions: bool = False
    description: str = ""
    capabilities: frozenset[str] = frozenset()

    def provides(self, capability: str) -> bool:
        """Whether the engine declares the optional contract member ``capability``."""
        return capability in self.capabilities

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
    contract : type
        The :class:`typing.Protocol` every engine module satisfies; optional
        members are listed in its ``optional`` attribute and declared per
        engine in :attr:`Engine.capabilities`.
    gate : GateSpec
        When two fits of the estimator, with different engines, agree.
    """

    estimator: str
    engines: tuple[Engine, ...]
    auto_rule: Callable[..., str] = field(repr=False)
    contract: type = field(default=None, repr=False)
    gate: "GateSpec" = field(default=None, repr=False)

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


@dataclass(frozen=True)
class GateSpec:
    """The equivalence gate of one estimator: when two fits agree.

    Written once, beside the engine table, and used by the tests, the
    benchmarks, the demos and :func:`skfast.tune` alike.

    Parameters
    ----------
    oracle : str
        The engine every other engine is compared with.
    exact : tuple of str
        Fitted attributes that must be identical (``np.array_equal``).
    close : tuple of str
        Fitted attributes that must agree within the tolerance,
        ``|a - b| <= atol + rtol * |a|`` elementwise, ``a`` the oracle's.
    rtol, atol : float
        The tolerance of ``close``.
    tolerance : callable, optional
        ``tolerance(X, y, oracle_fit) -> (rtol, atol)`` when the tolerance
        depends on the data (its dtype or scale); ``atol`` may then be an
        array broadcasting against the attribute.

    Notes
    -----
    An attribute that neither fit has (``pvalues_corrected_`` without a
    correction) is not compared; one that only one fit has is a mismatch.
    """

    oracle: str
    exact: tuple[str, ...]
    close: tuple[str, ...] = ()
    rtol: float = 0.0
    atol: float = 0.0
    tolerance: Callable | None = field(default=None, repr=False)

    def tolerances(self, X=None, y=None, oracle_fit=None):
        """``(rtol, atol)`` for this data."""
        if self.tolerance is None or X is None:
            return self.rtol, self.atol
        return self.tolerance(X, y, oracle_fit)

    def mismatches(self, oracle_fit, candidate, X=None, y=None) -> list[str]:
        """Why ``candidate`` does not agree with ``oracle_fit``; empty when it does."""
        rtol, atol = self.tolerances(X, y, oracle_fit)
        problems = []
        for name in self.exact + self.close:
            has_a, has_b = hasattr(oracle_fit, name), hasattr(candidate, name)
            if not (has_a or has_b):
                continue
            if has_a != has_b:
                problems.append(f"{name} is set on only one of the two fits")
                continue
            a, b = np.asarray(getattr(oracle_fit, name)), np.asarray(getattr(candidate, name))
            if name in self.exact:
                if not np.array_equal(a, b):
                    problems.append(f"{name} differs: {_first_mismatch(a, b)}")
                continue
            a, b = a.astype(np.float64), b.astype(np.float64)
            if a.shape != b.shape:
                problems.append(f"{name} shape {a.shape} != {b.shape}")
                continue
            # equal infinities agree, though their difference is NaN
            with np.errstate(invalid="ignore"):
                difference = np.where(a == b, 0.0, np.abs(a - b))
            if not np.all(difference <= atol + rtol * np.abs(a)):
                problems.append(f"{name} differs beyond rtol={rtol:g}, atol={np.max(atol):g}: "
                                f"max |diff| = {np.max(difference):.3g}")
        return problems

    def agree(self, oracle_fit, candidate, X=None, y=None) -> bool:
        """Whether ``candidate`` agrees with ``oracle_fit``."""
        return not self.mismatches(oracle_fit, candidate, X, y)


def _first_mismatch(a, b):
    if a.shape != b.shape:
        return f"shapes {a.shape} vs {b.shape}"
    idx = np.flatnonzero(a.ravel() != b.ravel())
    return (f"{idx.size} of {a.size} entries, first at flat index {idx[0]}: "
            f"{a.ravel()[idx[0]]!r} vs {b.ravel()[idx[0]]!r}")


def contract_violations(module, contract, capabilities=frozenset()) -> list[str]:
    """How ``module`` falls short of ``contract`` (a Protocol); empty when it satisfies it.

    Every required member must exist and, when the contract gives it a
    signature, accept the contract's parameters by the same names.  Optional
    members (the contract's ``optional`` names) are required exactly when
    listed in ``capabilities``, and must be absent otherwise, so the table
    and the module cannot disagree.
    """
    optional = set(getattr(contract, "optional", ()))
    members = [n for n in (*vars(contract), *getattr(contract, "__annotations__", {}))
               if not n.startswith("_") and n != "optional"]
    members = list(dict.fromkeys(members))
    problems = []
    for name in members:
        declared = name in capabilities
        present = hasattr(module, name)
        if name in optional and not declared:
            if present:
                problems.append(f"{name} present but not declared in the engine's capabilities")
            continue
        if not present:
            problems.append(f"missing {name}")
            continue
        wanted = getattr(contract, name, None)  # None: an annotated constant
        if callable(wanted):
            expected = [p for p in inspect.signature(wanted).parameters if p != "self"]
            got = inspect.signature(getattr(module, name)).parameters
            absent = [p for p in expected if p not in got]
            if absent:
                problems.append(f"{name} lacks parameter(s) {', '.join(absent)}")
    return problems


def available_engines(estimator, *, installed_only=True) -> tuple[str, ...]:
    """The engines an estimator can run, as values of its ``engine=`` parameter.

    Parameters
    ----------
    estimator : estimator class or instance
        :class:`~skfast.FastKMeans`, :class:`~skfast.PermutationTest` or
        :class:`~skfast.HMASweep`.
    installed_only : bool, default=True
        Only the engines whose optional dependencies are installed; False
        lists every advertised engine.  ``"auto"`` is never listed.

    Returns
    -------
    engines : tuple of str
        In the order the documentation lists them.

    Examples
    --------
    >>> from skfast import FastKMeans, available_engines
    >>> available_engines(FastKMeans, installed_only=False)
    ('reference', 'numpy', 'numba', 'jax', 'blas', 'hamerly')
    """
    table = getattr(estimator, "_engine_table", None)
    if not isinstance(table, EngineTable):
        raise TypeError(f"{estimator!r} is not a skfast estimator with engines")
    return table.available() if installed_only else table.names[1:]


def _count_constraints():
    from sklearn.utils._param_validation import Interval, Options

    positive = Interval(Integral, 1, None, closed="left")
    # joblib's convention for n_jobs: -1 every core, -2 all but one, ...
    return ([None, Options(Integral, {-1}), positive],
            [None, Interval(Integral, None, -1, closed="right"), positive])


#: scikit-learn ``_parameter_constraints`` entries, the same in every
#: estimator.  ``n_threads``: None, -1 (every core) or a positive integer.
#: ``n_jobs``: None, a positive integer or joblib's negative counts.  0 is
#: refused by both.
N_THREADS_CONSTRAINT, N_JOBS_CONSTRAINT = _count_constraints()


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
        with numba_threads(n), blas_threads(n if engine.blas_between_regions else 1):
            yield n
    else:
        with blas_threads(n):
            yield n


_ESTIMATOR_THREADS = object()


@contextmanager
def engine_run(estimator, engine: Engine, n_threads=_ESTIMATOR_THREADS):
    """Run one engine for ``estimator``: threads limited, ``engine_`` recorded.

    The one piece every estimator's ``fit`` shares: the caller resolves the
    engine (``table.resolve``), then runs its kernels inside this context,
    which yields the loaded kernel module and the thread count (the
    estimator's ``n_threads`` unless given), and sets ``estimator.engine_``
    once the block completes without error.
    """
    kernels = engine.load()
    if n_threads is _ESTIMATOR_THREADS:
        n_threads = getattr(estimator, "n_threads", None)
    with compute_threads(n_threads, engine) as n_threads:
        yield kernels, n_threads
    estimator.engine_ = engine.name


#: The BLAS limit of the innermost :func:`blas_threads` block (per thread, per task).
_BLAS_LIMIT = contextvars.ContextVar("skfast_blas_limit", default=None)


@contextmanager
def blas_threads(n_threads):
    """BLAS limited to ``n_threads`` threads (every loaded BLAS library), then restored.

    Inside a block that set the same limit nothing is done: the near-tie
    settling asks for one thread once per iteration, within a fit that
    already runs BLAS on one, and setting and restoring every library's
    limit cost it 10-20 us.
    """
    if _BLAS_LIMIT.get() == n_threads:
        yield
        return
    token = _BLAS_LIMIT.set(n_threads)
    try:
        with _blas_controller().limit(limits=n_threads, user_api="blas"):
            yield
    finally:
        _BLAS_LIMIT.reset(token)


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
