"""Check that every engine of an estimator gives the oracle's answer, on your data.

Each estimator declares its equivalence gate once, beside its engine table
(:class:`skfast._engines.GateSpec`: the oracle engine, the fitted attributes
that must be identical and those that must agree within a tolerance).
:func:`assert_engines_agree` fits every engine and applies that gate; the
test suite, the benchmarks, the demos and :func:`skfast.tune` use the same
declaration.  :func:`engine_params` builds a pytest ``engine`` fixture over
every advertised engine.
"""

from __future__ import annotations

from sklearn.base import clone

__all__ = ["assert_engines_agree", "assert_fitted_equal", "assert_same_answer", "engine_params"]


def _table(estimator_or_table):
    return getattr(estimator_or_table, "_engine_table", estimator_or_table)


def engine_params(estimator_or_table, *, include_auto=True):
    """``pytest.param`` for every advertised engine of an estimator (class or table).

    Engines whose optional dependency is missing are kept, marked as skipped
    with the extra that installs them, so a test report shows what was not
    exercised.  Needs ``pytest``.

    Examples
    --------
    >>> from skfast import FastKMeans
    >>> from skfast.testing import engine_params
    >>> [p.id for p in engine_params(FastKMeans)][:3]
    ['auto', 'reference', 'numpy']
    """
    import pytest

    table = _table(estimator_or_table)
    names = table.names if include_auto else table.names[1:]
    params = []
    for name in names:
        marks = []
        if name != "auto" and not table[name].is_available():
            marks.append(pytest.mark.skip(
                reason=f"engine {name!r} missing: pip install skfast[{table[name].extra}]"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def assert_fitted_equal(reference, candidate, *, exact=(), close=(), rtol=1e-8, atol=0.0,
                        context=""):
    """Assert two fitted estimators agree attribute by attribute.

    For comparisons the gate does not cover (a pickled copy, a refit with
    other ``n_jobs``).  ``exact`` attributes must be identical
    (``np.array_equal``); ``close`` attributes must satisfy
    ``|a - b| <= atol + rtol * |a|`` elementwise.

    Raises
    ------
    AssertionError
        Naming the first attribute that differs, and how.
    """
    from ._engines import GateSpec

    problems = GateSpec("", tuple(exact), tuple(close), rtol, atol).mismatches(reference,
                                                                              candidate)
    assert not problems, context + "; ".join(problems)


def assert_same_answer(reference, candidate, X=None, y=None, *, context=""):
    """Assert two fits give the same answer by their estimator's gate.

    For two fits that differ in something other than the engine (``n_jobs``,
    a Dask backend, a scikit-learn peer such as ``KMeans``): the gate of
    whichever of the two is a skfast estimator decides, with the tolerance
    for ``X`` (and ``y``) when given.

    Raises
    ------
    AssertionError
        Naming the first attribute that differs, and how.
    """
    table = getattr(reference, "_engine_table", None) or _table(candidate)
    problems = table.gate.mismatches(reference, candidate, X, y)
    assert not problems, context + "; ".join(problems)


def assert_engines_agree(estimator, X, y=None, *, engines=None, reference=None, gate=None,
                         fit_params=None):
    """Fit ``estimator`` with each engine and assert each agrees with the oracle.

    Parameters
    ----------
    estimator : FastKMeans, PermutationTest or HMASweep
        Unfitted; it is cloned for every engine.
    X, y : array-like
        The data (``y`` for PermutationTest).
    engines : sequence of str, default=None
        Engines to compare; None means every installed engine.
    reference : str, default=None
        The engine compared with; None means the gate's oracle.
    gate : GateSpec, default=None
        None means the estimator's own gate (``_engine_table.gate``).
    fit_params : dict, default=None
        Passed to every ``fit`` (e.g. ``sample_weight``).

    Returns
    -------
    fitted : dict
        Engine name -> fitted estimator, the reference included.

    Raises
    ------
    AssertionError
        Naming the engine and the first attribute that differs.

    Examples
    --------
    >>> from skfast import FastKMeans
    >>> from skfast.datasets import make_kmeans_scenario
    >>> from skfast.testing import assert_engines_agree
    >>> X, _ = make_kmeans_scenario("separated", n_samples=300, random_state=0)
    >>> fitted = assert_engines_agree(FastKMeans(4, random_state=0), X,
    ...                               engines=["numpy", "numba"])
    >>> sorted(fitted)
    ['numba', 'numpy', 'reference']
    """
    table = _table(estimator)
    gate = gate or table.gate
    reference = reference or gate.oracle
    engines = table.available() if engines is None else engines
    fit_params = fit_params or {}
    fitted = {}
    for name in (reference, *[e for e in engines if e != reference]):
        est = clone(estimator).set_params(engine=name)
        fitted[name] = est.fit(X, y, **fit_params) if y is not None else est.fit(X, **fit_params)
    for name, est in fitted.items():
        if name != reference:
            problems = gate.mismatches(fitted[reference], est, X, y)
            assert not problems, f"engine={name!r} vs {reference!r}: " + "; ".join(problems)
    return fitted
