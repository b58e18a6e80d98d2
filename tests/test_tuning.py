"""skfast.tune(): measured crossovers in the user cache, used by engine="auto"."""

import json
import warnings

import pytest

import skfast
from skfast import _crossovers, _tuning
from skfast.cluster._kmeans import _ENGINES as KMEANS_ENGINES
from skfast.cluster._kmeans import AUTO_DENSE_MAX_CLUSTERS
from skfast.permutation._permutation_test import _NUMBA_MAX_FEATURES
from skfast.permutation._permutation_test import _ENGINES as PERM_ENGINES

K = AUTO_DENSE_MAX_CLUSTERS + 1  # just above the built-in threshold: hamerly
P = _NUMBA_MAX_FEATURES + 1  # just above the built-in threshold: numpy


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKFAST_CACHE_DIR", str(tmp_path))
    _crossovers._clear_cache()
    yield tmp_path / "tune.json"
    _crossovers._clear_cache()


def kmeans_auto(n_clusters):
    return KMEANS_ENGINES.resolve("auto", n_samples=10_000, n_features=4,
                                  n_clusters=n_clusters, algorithm="lloyd").name


def perm_auto(n_features):
    return PERM_ENGINES.resolve("auto", n_samples=200, n_features=n_features,
                                n_permutations=999).name


def valid(**changes):
    data = {"schema": _crossovers.SCHEMA, "skfast_version": skfast.__version__,
            "machine": _crossovers.machine_key(),
            "crossovers": {"kmeans_dense_max_clusters": K, "permutation_numba_max_features": P},
            "timings": {}, "created": "2026-01-01T00:00:00+00:00"}
    data.update(changes)
    return data


def assert_builtin_rules():
    assert kmeans_auto(AUTO_DENSE_MAX_CLUSTERS) == "blas" and kmeans_auto(K) == "hamerly"
    assert perm_auto(_NUMBA_MAX_FEATURES) == "numba" and perm_auto(P) == "numpy"


def test_no_file_is_silent_and_uses_the_constants(cache):
    assert not cache.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _crossovers.load_crossovers() is None
        assert_builtin_rules()


def test_valid_cache_moves_the_thresholds(cache):
    cache.write_text(json.dumps(valid()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kmeans_auto(K) == "blas" and kmeans_auto(K + 1) == "hamerly"
        assert perm_auto(P) == "numba" and perm_auto(P + 1) == "numpy"
    cache.write_text(json.dumps(valid(crossovers={"kmeans_dense_max_clusters": 0,
                                                  "permutation_numba_max_features": 0})))
    _crossovers._clear_cache()
    assert kmeans_auto(2) == "hamerly" and perm_auto(1) == "numpy"


@pytest.mark.parametrize(("content", "reason"), [
    ("{not json", "corrupt tuning cache .*JSON"),
    (json.dumps([1, 2]), "corrupt tuning cache .*not a JSON object"),
    (json.dumps({k: v for k, v in valid().items() if k != "crossovers"}), "corrupt.*missing keys"),
    (json.dumps(valid(crossovers={"kmeans_dense_max_clusters": "8",
                                  "permutation_numba_max_features": 16})), "corrupt.*not a non-neg"),
    (json.dumps(valid(crossovers={"kmeans_dense_max_clusters": 8})), "corrupt.*not a non-neg"),
    (json.dumps(valid(skfast_version="0.0.0-other")), "stale tuning cache .*skfast 0.0.0-other"),
    (json.dumps(valid(machine={**_crossovers.machine_key(), "cpu_count": 12345})),
     "stale tuning cache .*machine"),
    (json.dumps(valid(schema=999)), "stale tuning cache .*schema 999"),
])
def test_corrupt_or_stale_cache_warns_once_and_falls_back(cache, content, reason):
    cache.write_text(content)
    with pytest.warns(UserWarning, match=reason) as record:
        assert_builtin_rules()
        assert _crossovers.load_crossovers() is None
    assert len(record) == 1
    assert str(cache) in str(record[0].message)


def test_tune_writes_a_loadable_file(cache):
    result = skfast.tune(verbose=False, _preset="tiny")
    on_disk = json.loads(cache.read_text())
    assert on_disk == result
    assert set(result["crossovers"]) == set(_crossovers.CROSSOVER_KEYS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _crossovers.load_crossovers() == result["crossovers"]
    expected = "blas" if 2 <= result["crossovers"]["kmeans_dense_max_clusters"] else "hamerly"
    assert kmeans_auto(2) == expected


def test_crossover_is_the_prefix_where_numba_is_not_slower():
    t = {str(v): {"numba": n, "other": 1.0} for v, n in [(4, 0.5), (8, 1.0), (16, 2.0), (32, 0.1)]}
    assert _tuning._crossover((4, 8, 16, 32), t) == 8
    t["4"]["numba"] = 3.0
    assert _tuning._crossover((4, 8, 16, 32), t) == 0


def test_cache_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SKFAST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _crossovers.cache_path() == tmp_path / "skfast" / "tune.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _crossovers.cache_path() == tmp_path / ".cache" / "skfast" / "tune.json"
