"""Where numba caches skfast's compiled kernels, also on a read-only install.

Every kernel is compiled with ``cache=True``.  numba stores the cache beside
the source (``__pycache__``) or, failing that, in the user's cache directory
(``NUMBA_CACHE_DIR``, else ``~/.cache``); when neither is writable (a
read-only install run by a user without a writable home: a locked-down
container, the ``nobody`` user) it refuses to define the functions at all,
and ``import skfast`` would fail.  :func:`ensure_cache_location` checks this
once, before any kernel is defined, and then points numba at a fresh
temporary directory, with one warning: the kernels work, compiled once per
process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings

__all__ = ["ensure_cache_location"]


def _probe():  # a function defined in this package, for numba's locators
    pass


def _numba_can_cache(py_file) -> bool:
    from numba.core import caching

    # renamed from _CacheImpl in numba 0.61
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    for locator in impl._locator_classes:
        try:
            if locator.from_function(_probe, py_file) is not None:
                return True
        except Exception:  # noqa: BLE001 - a locator that fails is one that is unavailable
            continue
    return False


def ensure_cache_location() -> str | None:
    """Give numba a writable cache directory if it has none; return it (None: not needed)."""
    import numba

    if _numba_can_cache(os.path.abspath(__file__)):
        return None
    try:
        directory = tempfile.mkdtemp(prefix="skfast-numba-cache-")
    except OSError:  # pragma: no cover - not even a temporary directory
        directory = None
    if directory is not None:
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        numba.config.CACHE_DIR = directory
        if _numba_can_cache(os.path.abspath(__file__)):
            warnings.warn(
                "skfast: numba cannot cache compiled kernels beside the installed package "
                "or in the user's cache directory (both read-only); they are cached in "
                f"{directory} for this process only and compiled again in the next one. "
                "Set NUMBA_CACHE_DIR to a writable directory to keep them.",
                RuntimeWarning, stacklevel=3)
            return directory
    raise ImportError(  # pragma: no cover - no writable directory anywhere
        "skfast: numba needs a writable directory to cache compiled kernels and none was "
        "found; set NUMBA_CACHE_DIR to a writable directory.")
