"""One-off calibration of ``engine="auto"`` for this machine: :func:`tune`.

:func:`tune` times the engines that ``"auto"`` chooses between, derives the
shape where one overtakes the other, and stores these crossovers as JSON in
the user's cache directory (:mod:`skfast._crossovers`, which the estimators
read; this module imports the estimators, never the reverse).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

import numpy as np
from sklearn.cluster import kmeans_plusplus
from sklearn.datasets import make_blobs

from ._crossovers import SCHEMA, _clear_cache, cache_path, machine_key
from ._version import __version__
from .cluster import FastKMeans
from .permutation import PermutationTest

__all__ = ["tune"]

# Grid sizes: quick (the default, well under 30 s on 2 cores), full, and a
# tiny one for the test suite.
_PRESETS = {
    "quick": dict(kmeans_shape=(50_000, 8), kmeans_iter=20, kmeans_clusters=(4, 8, 16, 32),
                  perm_shape=(500, 10_000), perm_features=(4, 8, 16, 32, 64), repeats=3),
    "full": dict(kmeans_shape=(100_000, 8), kmeans_iter=20, kmeans_clusters=(2, 4, 8, 16, 32, 64),
                 perm_shape=(500, 10_000), perm_features=(2, 4, 8, 16, 32, 64, 128), repeats=5),
    "tiny": dict(kmeans_shape=(600, 3), kmeans_iter=5, kmeans_clusters=(2, 4),
                 perm_shape=(30, 99), perm_features=(2, 4), repeats=1),
}


# --- measuring ----------------------------------------------------------------------------


def _best_time(fit, repeats):
    fit()  # warm: compiles numba kernels, fills caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        best = min(best, time.perf_counter() - start)
    return best


def _crossover(grid, timings, engine="numba"):
    """Largest grid value up to which ``engine`` is never slower (0 if it loses at once)."""
    best = 0
    for value in grid:
        if timings[str(value)][engine] > timings[str(value)]["other"]:
            break
        best = value
    return best


def _time_kmeans(p, log):

    n, d = p["kmeans_shape"]
    timings = {}
    for k in p["kmeans_clusters"]:
        X, _ = make_blobs(n, d, centers=k, cluster_std=4.0, random_state=0)
        init, _ = kmeans_plusplus(X, k, random_state=0)
        fits = {}
        for engine in ("blas", "hamerly"):
            est = FastKMeans(k, init=init, n_init=1, max_iter=p["kmeans_iter"], tol=0,
                             engine=engine)
            fits[engine] = est
            est.fit(X)
        problems = FastKMeans._engine_table.gate.mismatches(fits["blas"], fits["hamerly"], X)
        if problems:
            raise RuntimeError(f"skfast.tune: FastKMeans engines 'blas' and 'hamerly' "
                               f"disagree at n_clusters={k} ({'; '.join(problems)}); "
                               "not timing them")
        t = {name: _best_time(lambda e=est: e.fit(X), p["repeats"]) for name, est in fits.items()}
        timings[str(k)] = {"blas": t["blas"], "other": t["hamerly"]}
        log(f"  FastKMeans n_clusters={k:<4} blas {t['blas']:.4f} s  hamerly {t['hamerly']:.4f} s")
    return timings


def _time_permutation(p, log):

    n, n_permutations = p["perm_shape"]
    rng = np.random.default_rng(0)
    timings = {}
    for n_features in p["perm_features"]:
        X = rng.standard_normal((n, n_features))
        y = np.arange(n) % 2
        fits = {}
        for engine in ("numba", "numpy"):
            est = PermutationTest(n_permutations, engine=engine, random_state=0)
            fits[engine] = est
            est.fit(X, y)
        problems = PermutationTest._engine_table.gate.mismatches(fits["numba"], fits["numpy"],
                                                                 X, y)
        if problems:
            raise RuntimeError(f"skfast.tune: PermutationTest engines 'numba' and 'numpy' "
                               f"disagree at n_features={n_features} ({'; '.join(problems)}); "
                               "not timing them")
        t = {name: _best_time(lambda e=est: e.fit(X, y), p["repeats"])
             for name, est in fits.items()}
        timings[str(n_features)] = {"numba": t["numba"], "other": t["numpy"]}
        log(f"  PermutationTest n_features={n_features:<4} numba {t['numba']:.4f} s  "
            f"numpy {t['numpy']:.4f} s")
    return timings


def tune(*, quick=True, verbose=True, _preset=None):
    """Time the engines ``engine="auto"`` chooses between and store the crossovers.

    A one-off calibration for this machine.  For :class:`~skfast.FastKMeans`
    it times the ``blas`` and ``hamerly`` engines over a few ``n_clusters``
    (50,000 x 8 overlapping blobs, at most 20 Lloyd iterations); for
    :class:`~skfast.PermutationTest` the ``numba`` and ``numpy`` engines over a
    few ``n_features`` (n = 500, R = 10,000).  Speed follows validation: each
    pair is first checked to give identical labels / p-values, and a mismatch
    raises.  Each time is the best of several warm runs.  A crossover is the
    largest grid value up to which the dense engine (``blas``; ``numba`` for
    PermutationTest) is never slower (0: never it).

    The result is written to ``tune.json`` in ``$SKFAST_CACHE_DIR`` if set,
    else in ``$XDG_CACHE_HOME/skfast`` or ``~/.cache/skfast``, and from then on
    ``engine="auto"`` uses these crossovers instead of its built-in thresholds,
    as long as the skfast version and the machine (core count, CPU
    architecture, BLAS kernel) are unchanged.  Delete the file to go back.

    Parameters
    ----------
    quick : bool, default=True
        The default grid.  ``False`` times a larger, finer grid with more
        repeats.  Measured on two cores: about 10 s either way once the
        kernels are compiled (quick 9.6 s, full 10.4 s); the first call in
        a fresh environment adds their compilation, about 30 s in all.
    verbose : bool, default=True
        Print each timing and where the file went.

    Returns
    -------
    result : dict
        What was written: ``schema``, ``skfast_version``, ``machine``,
        ``crossovers`` (``kmeans_dense_max_clusters``,
        ``permutation_numba_max_features``), ``timings`` (seconds per grid
        value and engine, ``"other"`` being hamerly or numpy), ``created``.

    Raises
    ------
    RuntimeError
        If two engines disagree on a calibration problem.

    Examples
    --------
    >>> import skfast
    >>> result = skfast.tune(verbose=False)  # doctest: +SKIP
    >>> sorted(result["crossovers"])  # doctest: +SKIP
    ['kmeans_dense_max_clusters', 'permutation_numba_max_features']
    """
    p = _PRESETS[_preset or ("quick" if quick else "full")]
    log = print if verbose else (lambda *args, **kwargs: None)
    log("skfast.tune: timing engines on this machine")
    kmeans = _time_kmeans(p, log)
    perm = _time_permutation(p, log)
    result = {
        "schema": SCHEMA,
        "skfast_version": __version__,
        "machine": machine_key(),
        "crossovers": {
            "kmeans_dense_max_clusters": _crossover(p["kmeans_clusters"], kmeans, "blas"),
            "permutation_numba_max_features": _crossover(p["perm_features"], perm),
        },
        "timings": {
            "kmeans": {"shape": list(p["kmeans_shape"]), "max_iter": p["kmeans_iter"],
                       "other": "hamerly", "by_n_clusters": kmeans},
            "permutation": {"shape": list(p["perm_shape"]), "other": "numpy",
                            "by_n_features": perm},
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    _clear_cache()
    log(f"skfast.tune: crossovers {result['crossovers']} written to {path}")
    return result
