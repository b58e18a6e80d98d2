"""The tuned ``engine="auto"`` crossovers of this machine: where they live and how they are read.

:func:`skfast.tune` (``_tuning``) measures them and writes them here; the
auto rules of :class:`~skfast.FastKMeans` and :class:`~skfast.PermutationTest`
read them with :func:`load_crossovers` and use their documented constants
when there are none.  This module imports no estimator, so the estimators
can import it.  A corrupt cache file, or a stale one (written by another
skfast version or on another machine), is ignored with one ``UserWarning``.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from pathlib import Path

from ._version import __version__

__all__ = ["load_crossovers", "cache_path", "machine_key", "SCHEMA", "CROSSOVER_KEYS"]

SCHEMA = 2
CACHE_FILE = "tune.json"
CROSSOVER_KEYS = ("kmeans_dense_max_clusters", "permutation_numba_max_features")


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

    Returns ``{"kmeans_dense_max_clusters": int, "permutation_numba_max_features":
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
