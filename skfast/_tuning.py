"""One-off calibration of ``engine="auto"`` for this machine.

:func:`tune` times the engines that ``"auto"`` chooses between, derives the
shape where one overtakes the other, and stores these crossovers as JSON in
the user's cache directory.  :func:`load_crossovers` reads them back; the auto
rules of :class:`~skfast.FastKMeans` and :class:`~skfast.PermutationTest` use
them when present and their documented constants otherwise.  A corrupt cache
file, or a stale one (written by another skfast version or on another
machine), is ignored with one ``UserWarning``.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

from ._version import __version__

__all__ = ["tune", "load_crossovers", "cache_path", "machine_key"]

SCHEMA = 1
CACHE_FILE = "tune.json"
CROSSOVER_KEYS = ("kmeans_numba_max_clusters", "permutation_numba_max_features")

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


def cache_path() -> Path:
    """Path of the tuning file: ``$SKFAST_CACHE_DIR``, else the XDG cache dir.

    ``$SKFAST_CACHE_DIR/tune.json`` if that variable is set, else
    ``$XDG_CACHE_HOME/skfast/tune.json``, else ``~/.cache/skfast/tune.json``.
    """
    root = os.environ.get("SKFAST_CACHE_DIR")
    if root:
        return Path(root) / CACHE_FILE
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "skfast" / CACHE_FILE


def machine_key() -> dict:
    """What the timings depend on: core count, CPU architecture, BLAS kernels."""
    from threadpoolctl import threadpool_info

    blas = sorted({(lib.get("internal_api") or "", lib.get("architecture") or "")
                   for lib in threadpool_info() if lib.get("user_api") == "blas"})
    return {"cpu_count": os.cpu_count(), "machine": platform.machine(),
            "blas": [list(pair) for pair in blas]}


# --- reading ------------------------------------------------------------------------------

_LOADED: dict[tuple, dict | None] = {}


def _clear_cache() -> None:
    """Forget what :func:`load_crossovers` read (tests, and after :func:`tune`)."""
    _LOADED.clear()


def _problem(data) -> tuple[str, str] | None:
    """``("corrupt" | "stale", reason)`` if the parsed file cannot be used."""
    if not isinstance(data, dict):
        return "corrupt", "top level is not a JSON object"
    missing = [k for k in ("schema", "skfast_version", "machine", "crossovers") if k not in data]
    if missing:
        return "corrupt", f"missing keys {missing}"
    if data["schema"] != SCHEMA:
        return "stale", f"schema {data['schema']!r}, expected {SCHEMA}"
    crossovers = data["crossovers"]
    if not isinstance(crossovers, dict):
        return "corrupt", "'crossovers' is not an object"
    for key in CROSSOVER_KEYS:
        value = crossovers.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return "corrupt", f"crossovers[{key!r}] is {value!r}, not a non-negative integer"
    if data["skfast_version"] != __version__:
        return "stale", f"written by skfast {data['skfast_version']}, this is {__version__}"
    if data["machine"] != machine_key():
        return "stale", f"written on machine {data['machine']}, this is {machine_key()}"
    return None


def load_crossovers() -> dict | None:
    """The tuned crossovers for this machine, or None.

    Returns ``{"kmeans_numba_max_clusters": int, "permutation_numba_max_features":
    int}`` read from :func:`cache_path` when the file exists, parses, has this
    schema, and was written by this skfast version on this machine
    (:func:`machine_key`).  A corrupt or stale file is ignored with one
    ``UserWarning`` naming the file and the reason; no file returns None
    silently.  The answer is cached per process and per path.
    """
    # Keyed by the variables that locate the file: auto asks at every fit.
    env = os.environ
    key = (env.get("SKFAST_CACHE_DIR"), env.get("XDG_CACHE_HOME"), env.get("HOME"))
    if key in _LOADED:
        return _LOADED[key]
    path = cache_path()
    result = None
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problem = ("corrupt", f"cannot be read as JSON ({exc})")
        else:
            problem = _problem(data)
        if problem is None:
            result = {k: data["crossovers"][k] for k in CROSSOVER_KEYS}
        else:
            warnings.warn(
                f"skfast: ignoring {problem[0]} tuning cache {path}: {problem[1]}; "
                "engine='auto' uses its built-in thresholds. Run skfast.tune() to "
                "recalibrate, or delete the file.", UserWarning, stacklevel=2)
    _LOADED[key] = result
    return result


# --- measuring ----------------------------------------------------------------------------


def _best_time(fit, repeats):
    fit()  # warm: compiles numba kernels, fills caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        best = min(best, time.perf_counter() - start)
    return best


def _crossover(grid, timings):
    """Largest grid value up to which numba is never slower (0 if it loses at once)."""
    best = 0
    for value in grid:
        if timings[str(value)]["numba"] > timings[str(value)]["other"]:
            break
        best = value
    return best


def _time_kmeans(p, log):
    import numpy as np
    from sklearn.cluster import kmeans_plusplus
    from sklearn.datasets import make_blobs

    from .cluster import FastKMeans

    n, d = p["kmeans_shape"]
    timings = {}
    for k in p["kmeans_clusters"]:
        X, _ = make_blobs(n, d, centers=k, cluster_std=4.0, random_state=0)
        init, _ = kmeans_plusplus(X, k, random_state=0)
        fits = {}
        for engine in ("numba", "hamerly"):
            est = FastKMeans(k, init=init, n_init=1, max_iter=p["kmeans_iter"], tol=0,
                             engine=engine)
            fits[engine] = est
            est.fit(X)
        if not np.array_equal(fits["numba"].labels_, fits["hamerly"].labels_):
            raise RuntimeError(f"skfast.tune: FastKMeans engines 'numba' and 'hamerly' "
                               f"disagree on labels at n_clusters={k}; not timing them")
        t = {name: _best_time(lambda e=est: e.fit(X), p["repeats"]) for name, est in fits.items()}
        timings[str(k)] = {"numba": t["numba"], "other": t["hamerly"]}
        log(f"  FastKMeans n_clusters={k:<4} numba {t['numba']:.4f} s  hamerly {t['hamerly']:.4f} s")
    return timings


def _time_permutation(p, log):
    import numpy as np

    from .permutation import PermutationTest

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
        if not np.array_equal(fits["numba"].pvalues_, fits["numpy"].pvalues_):
            raise RuntimeError(f"skfast.tune: PermutationTest engines 'numba' and 'numpy' "
                               f"disagree on p-values at n_features={n_features}; not timing them")
        t = {name: _best_time(lambda e=est: e.fit(X, y), p["repeats"])
             for name, est in fits.items()}
        timings[str(n_features)] = {"numba": t["numba"], "other": t["numpy"]}
        log(f"  PermutationTest n_features={n_features:<4} numba {t['numba']:.4f} s  "
            f"numpy {t['numpy']:.4f} s")
    return timings


def tune(*, quick=True, verbose=True, _preset=None):
    """Time the engines ``engine="auto"`` chooses between and store the crossovers.

    A one-off calibration for this machine.  For :class:`~skfast.FastKMeans`
    it times the ``numba`` and ``hamerly`` engines over a few ``n_clusters``
    (50,000 x 8 overlapping blobs, at most 20 Lloyd iterations); for
    :class:`~skfast.PermutationTest` the ``numba`` and ``numpy`` engines over a
    few ``n_features`` (n = 200, R = 2,000).  Speed follows validation: each
    pair is first checked to give identical labels / p-values, and a mismatch
    raises.  Each time is the best of several warm runs.  A crossover is the
    largest grid value up to which numba is never slower (0: never numba).

    The result is written to ``tune.json`` in ``$SKFAST_CACHE_DIR`` if set,
    else in ``$XDG_CACHE_HOME/skfast`` or ``~/.cache/skfast``, and from then on
    ``engine="auto"`` uses these crossovers instead of its built-in thresholds,
    as long as the skfast version and the machine (core count, CPU
    architecture, BLAS kernel) are unchanged.  Delete the file to go back.

    Parameters
    ----------
    quick : bool, default=True
        Small problems (under 30 s on two cores).  ``False`` times a larger,
        finer grid with more repeats (a few minutes).
    verbose : bool, default=True
        Print each timing and where the file went.

    Returns
    -------
    result : dict
        What was written: ``schema``, ``skfast_version``, ``machine``,
        ``crossovers`` (``kmeans_numba_max_clusters``,
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
    ['kmeans_numba_max_clusters', 'permutation_numba_max_features']
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
            "kmeans_numba_max_clusters": _crossover(p["kmeans_clusters"], kmeans),
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
