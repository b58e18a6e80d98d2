"""Test helpers: one engine fixture factory and one equivalence assertion.

Every estimator's test module builds its ``engine`` fixture with
:func:`engine_params` and gates every engine against the reference engine
with :func:`assert_engines_agree`, so the equivalence rule is written once.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

__all__ = ["engine_params", "assert_engines_agree", "assert_fitted_equal"]


def engine_params(table, *, include_auto=True):
    """``pytest.param`` for every advertised engine of ``table``.

    Engines whose optional dependency is missing are kept, marked as skipped
    with the reason, so a test report shows what was not exercised.
    """
    names = table.names if include_auto else table.names[1:]
    params = []
    for name in names:
        marks = []
        if name != "auto" and not table[name].is_available():
            extra = table[name].extra
            marks.append(
                pytest.mark.skip(reason=f"engine {name!r} missing: pip install skfast[{extra}]")
            )
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def assert_fitted_equal(reference, candidate, *, exact=(), close=(), rtol=1e-8, atol=0.0, context=""):
    """Assert two fitted estimators agree attribute by attribute.

    ``exact`` attributes must be identical (``np.array_equal``); ``close``
    attributes must satisfy ``|a - b| <= atol + rtol * |a|`` elementwise.
    """
    for name in exact:
        a, b = getattr(reference, name), getattr(candidate, name)
        assert np.array_equal(np.asarray(a), np.asarray(b)), (
            f"{context}{name} differs: {_first_mismatch(a, b)}"
        )
    for name in close:
        a = np.asarray(getattr(reference, name), dtype=np.float64)
        b = np.asarray(getattr(candidate, name), dtype=np.float64)
        assert a.shape == b.shape, f"{context}{name} shape {a.shape} != {b.shape}"
        excess = np.abs(a - b) - (atol + rtol * np.abs(a))
        assert np.all(excess <= 0), (
            f"{context}{name} differs beyond rtol={rtol}, atol={atol}: "
            f"max |diff| = {np.max(np.abs(a - b)):.3g}"
        )


def assert_engines_agree(estimator, X, y=None, *, engines, reference="reference", exact=(),
                         close=(), rtol=1e-8, atol=0.0, fit_params=None):
    """Fit ``estimator`` with each engine and compare it to ``reference``.

    Returns
    -------
    fitted : dict
        Engine name -> fitted estimator, the reference included.
    """
    fit_params = fit_params or {}
    fitted = {}
    for name in (reference, *[e for e in engines if e != reference]):
        est = clone(estimator).set_params(engine=name)
        fitted[name] = est.fit(X, y, **fit_params) if y is not None else est.fit(X, **fit_params)
    for name, est in fitted.items():
        if name != reference:
            assert_fitted_equal(fitted[reference], est, exact=exact, close=close, rtol=rtol,
                                atol=atol, context=f"engine={name!r} vs {reference!r}: ")
    return fitted


def _first_mismatch(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shapes {a.shape} vs {b.shape}"
    idx = np.flatnonzero(a.ravel() != b.ravel())
    return f"{idx.size} of {a.size} entries, first at flat index {idx[0]}: {a.ravel()[idx[0]]!r} vs {b.ravel()[idx[0]]!r}"
