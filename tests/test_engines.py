"""The engine layer: every registered engine satisfies its estimator's written contract."""

import numpy as np
import pytest

from skfast import FastKMeans, HMASweep, PermutationTest
from skfast._engines import GateSpec, contract_violations
from skfast.backtest._contract import HMAEngine
from skfast.cluster._contract import KMeansEngine
from skfast.permutation._contract import PermutationEngine

ESTIMATORS = {FastKMeans: KMeansEngine, PermutationTest: PermutationEngine, HMASweep: HMAEngine}
ENGINES = [pytest.param(estimator, engine, id=f"{estimator.__name__}-{engine.name}")
           for estimator in ESTIMATORS for engine in estimator._engine_table.engines]


@pytest.mark.parametrize("estimator, engine", ENGINES)
def test_every_engine_module_satisfies_its_contract(estimator, engine):
    table = estimator._engine_table
    assert table.contract is ESTIMATORS[estimator]
    if not engine.is_available():
        pytest.skip(f"engine {engine.name!r} needs skfast[{engine.extra}]")
    module = engine.load()
    assert contract_violations(module, table.contract, engine.capabilities) == []
    assert set(engine.capabilities) <= set(table.contract.optional)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_estimator_declares_one_gate(estimator):
    table = estimator._engine_table
    assert isinstance(table.gate, GateSpec)
    assert table.gate.oracle in table.names
    assert not set(table.gate.exact) & set(table.gate.close)


def test_contract_check_names_what_is_missing():
    import types

    module = types.SimpleNamespace(lloyd_step=lambda X, sample_weight, centers: None,
                                   assign_labels=lambda X, centers, squared_norms=None: None,
                                   BoundedStep=object)
    problems = contract_violations(module, KMeansEngine)
    assert "missing inertia" in problems
    assert "lloyd_step lacks parameter(s) squared_norms" in problems
    assert "BoundedStep present but not declared in the engine's capabilities" in problems


def test_gate_reports_the_attribute_that_differs():
    import types

    import numpy as np

    gate = GateSpec("reference", exact=("labels_",), close=("inertia_",), rtol=1e-8)
    a = types.SimpleNamespace(labels_=np.array([0, 1, 1]), inertia_=1.0)
    assert gate.agree(a, types.SimpleNamespace(labels_=np.array([0, 1, 1]), inertia_=1.0 + 1e-12))
    problems = gate.mismatches(a, types.SimpleNamespace(labels_=np.array([0, 1, 0]), inertia_=2.0))
    assert problems[0].startswith("labels_ differs: 1 of 3 entries")
    assert problems[1].startswith("inertia_ differs beyond rtol=1e-08")
    assert gate.mismatches(a, types.SimpleNamespace(labels_=a.labels_)) == [
        "inertia_ is set on only one of the two fits"]


def test_estimators_do_not_import_the_tuner():
    """The crossovers are read from a module that imports no estimator: no import cycle."""
    import ast
    from pathlib import Path

    import skfast

    root = Path(skfast.__file__).parent

    def imported(path):
        tree = ast.parse(path.read_text())
        return {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert not {m for m in imported(root / "_crossovers.py")
                if any(p in m for p in ("cluster", "permutation", "backtest", "_tuning"))}
    for module in ("cluster/_kmeans.py", "permutation/_permutation_test.py", "backtest/_hma.py"):
        assert not any(m.endswith("_tuning") for m in imported(root / module)), module


def test_html_repr_links_to_the_estimators_page():
    for estimator in ESTIMATORS:
        link = estimator()._get_doc_link()
        assert link.startswith("https://skfast.readthedocs.io/en/")
        assert link.endswith(f"/generated/skfast.{estimator.__name__}.html")
        assert link in estimator()._repr_html_()


def test_nested_blas_limit_of_the_same_count_changes_nothing_and_restores():
    from threadpoolctl import threadpool_info

    from skfast._engines import blas_threads

    def blas_counts():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_counts()
    with blas_threads(1):
        with blas_threads(1):  # the near-tie settling inside a fit
            assert blas_counts() == {1}
        assert blas_counts() == {1}
        with blas_threads(2):
            assert blas_counts() == {2}
        assert blas_counts() == {1}
    assert blas_counts() == before


def test_settle_takes_rows_sharing_a_slot_in_rounds_and_any_order():
    """Rows at the same slot of scikit-learn's calls (n, n + 256, ...) go in separate calls."""
    import numpy as np
    from sklearn.cluster import KMeans

    from skfast.cluster._ties import settle

    rng = np.random.default_rng(0)
    X = rng.integers(-2, 3, (256 * 3 + 17, 4)).astype(np.float64)  # exact ties
    centers = np.ascontiguousarray(X[:6] + 0.5)
    expected = KMeans(6, init=centers, n_init=1, max_iter=1).fit(X)
    expected.cluster_centers_ = centers
    expected = expected.predict(X)
    for rows in (np.arange(X.shape[0]), rng.permutation(X.shape[0]),
                 np.array([5, 261, 517, 773, 3]), np.array([], dtype=np.int64)):
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        changed = settle(X, centers, rows, labels)
        assert changed == bool(rows.size)
        np.testing.assert_array_equal(labels[rows], expected[rows])
        untouched = np.setdiff1d(np.arange(X.shape[0]), rows)
        assert (labels[untouched] == -1).all()
    offset = np.full(4, 3.0)
    labels = np.zeros(X.shape[0], dtype=np.int32)
    settle(X + offset, centers, np.arange(X.shape[0]), labels, offset)
    np.testing.assert_array_equal(labels, expected)



def _naive_contenders(values, reaches, slope, offset):
    """Per row: the first smallest value's centre and how many centres its bound lets contend."""
    labels = np.argmin(values, axis=0)
    counts = np.zeros(values.shape[1], dtype=np.int64)
    for r in range(values.shape[1]):
        label = labels[r]
        limit = (float(values[label, r]) + reaches[r] * slope[label]) + offset[label]
        for k in range(values.shape[0]):
            counts[r] += ((float(values[k, r]) - reaches[r] * slope[k]) - offset[k]) <= limit
    return labels, counts


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["few_near", "wide_centres", "all_near"])
def test_blas_scan_counts_the_contenders_of_every_row_it_does_not_clear(case, dtype):
    """The blas scan's prefilters only clear rows with one contender; the rest are counted.

    ``few_near``: the first prefilter clears all rows but 8 near ties,
    counted one by one; ``wide_centres``: three far centres with bounds 1000
    times wider fail it for most rows, and the second test (each wide centre
    on its own) clears them; ``all_near``: values closer than the bounds, so
    every row is counted, all at once.
    """
    from skfast.cluster import _blas

    rng = np.random.default_rng(11)
    n_clusters, n_rows = 24, 1000
    values = rng.standard_normal((n_clusters, n_rows))
    slope = rng.uniform(0.5e-4, 1e-4, n_clusters)
    offset = rng.uniform(0.5e-4, 1e-4, n_clusters)
    reaches = rng.uniform(0.5, 2.0, n_rows)
    if case == "few_near":
        values[0, :8], values[1, :8] = -5.0, -5.0 + 1e-5  # a near tie in 8 rows
    elif case == "wide_centres":
        slope[[3, 10, 17]] *= 1000
        offset[[3, 10, 17]] *= 1000
        values[[3, 10, 17]] += 10.0  # far: they never contend
        values[10, :5] = np.delete(values, 10, axis=0)[:, :5].min(axis=0) + 1e-3  # near 5 rows
    elif case == "all_near":
        values = 1e-6 * values
    values = np.ascontiguousarray(values.astype(dtype))
    wide, narrow_slope, narrow_offset = _blas.wide_bounds(slope, offset)
    assert sorted(wide) == ([3, 10, 17] if case == "wide_centres" else [])
    best = np.empty(n_rows, dtype=np.int32)
    best_value, second_value = np.empty(n_rows, dtype=dtype), np.empty(n_rows, dtype=dtype)
    close, limits = np.empty(n_rows, dtype=np.int32), np.empty(n_rows)
    _blas._scan(values, n_rows, reaches, slope, offset, best, best_value, second_value, close,
                limits, wide, narrow_slope, narrow_offset)
    labels, counts = _naive_contenders(values, reaches, slope, offset)
    assert np.array_equal(best, labels)
    assert np.array_equal(close, counts)  # 1 where cleared, and the count elsewhere
    # each case takes the path it is named for
    ordered = np.sort(values.astype(np.float64), axis=0)
    first_fails = np.mean(ordered[1] - ordered[0]
                          <= 2.0 * (reaches * slope.max() + offset.max()))
    if case == "few_near":
        assert 0 < first_fails < _blas._COUNT_ALL_SHARE
        assert np.array_equal(np.flatnonzero(counts > 1), np.arange(8))
    else:
        assert first_fails > 0.5
    if case == "wide_centres":
        assert np.array_equal(np.flatnonzero(counts > 1), np.arange(5))
    if case == "all_near":
        assert (counts > 1).all()


def test_wide_bounds_takes_at_most_an_eighth_of_the_centres_and_handles_zero_bounds():
    from skfast.cluster import _blas

    slope = np.ones(16)
    slope[[2, 5, 9]] = [100.0, 50.0, 10.0]
    wide, narrow_slope, narrow_offset = _blas.wide_bounds(slope, np.ones(16))
    assert list(wide) == [2, 5] and narrow_slope == 10.0 and narrow_offset == 1.0
    wide, narrow_slope, narrow_offset = _blas.wide_bounds(np.zeros(5), np.zeros(5))
    assert wide.size == 0 and narrow_slope == 0.0 and narrow_offset == 0.0
    offset = np.zeros(9)
    offset[8] = 1.0  # the median bound is 0: any nonzero one is wide
    wide, _, narrow_offset = _blas.wide_bounds(np.zeros(9), offset)
    assert list(wide) == [8] and narrow_offset == 0.0
