"""The engine layer: every registered engine satisfies its estimator's written contract."""

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

