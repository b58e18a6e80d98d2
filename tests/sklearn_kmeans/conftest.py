"""Fixtures scikit-learn's own test files expect, and the MiniBatch tests left out.

``global_random_seed`` and ``global_dtype`` follow scikit-learn's conftest:
seed 42 unless ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` asks for others
(``all`` or ``a-b``); float32 only with ``SKLEARN_RUN_FLOAT32_TESTS=1``.
"""

import os

import numpy as np
import pytest


def _seeds():
    asked = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if asked is None:
        return [42]
    if asked == "all":
        return list(range(100))
    if "-" in asked:
        low, high = map(int, asked.split("-"))
        return list(range(low, high + 1))
    return [int(asked)]


def pytest_generate_tests(metafunc):
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", _seeds())


@pytest.fixture(params=[
    pytest.param(np.float32, marks=pytest.mark.skipif(
        os.environ.get("SKLEARN_RUN_FLOAT32_TESTS", "0") != "1",
        reason="Set SKLEARN_RUN_FLOAT32_TESTS=1 to run float32 dtype tests")),
    np.float64,
])
def global_dtype(request):
    return request.param


def pytest_collection_modifyitems(config, items):
    # MiniBatchKMeans is not what FastKMeans replaces
    kept = [item for item in items
            if "sklearn_kmeans" not in str(item.path) or "minibatch" not in item.name.lower()]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
