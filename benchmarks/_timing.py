"""Measurement helpers shared by every benchmark in ``benchmarks/``.

Timing rules, the same for every benchmark: the equivalence gate runs first
and a failed gate aborts the script before any time is recorded; the first
(compiling) call of a JIT engine is timed separately as ``compile_s``; wall
and CPU time come from the median of ``repeats`` warm calls.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from skfast._show_versions import machine_info

__all__ = [
    "machine_info",
    "gemm_peak_gflops",
    "time_call",
    "write_results",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def gemm_peak_gflops(n: int = 2048, repeats: int = 3, dtype=np.float64) -> float:
    """Best observed GFLOP/s of an ``n x n`` matrix product with the current BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    a @ b  # warm the BLAS thread pool
    best = min(_wall(lambda: a @ b) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_call(fn, repeats: int = 3, warmup: int = 1) -> dict:
    """Time ``fn()``: the first ``warmup`` calls separately, then ``repeats`` calls.

    Returns
    -------
    timing : dict
        ``first_s`` (the first call, compilation included), ``wall_s`` and
        ``cpu_s`` (medians of the timed calls), ``wall_all`` (every timed
        wall time), ``efficiency`` (CPU time / wall time, i.e. how many cores
        were busy on average) and ``result`` (the last return value).
    """
    first = None
    result = None
    for _ in range(warmup):
        t0 = time.perf_counter()
        result = fn()
        first = time.perf_counter() - t0 if first is None else first
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - c0)
    wall = statistics.median(walls)
    cpu = statistics.median(cpus)
    return {
        "first_s": first,
        "wall_s": wall,
        "cpu_s": cpu,
        "wall_all": walls,
        "efficiency": cpu / wall if wall > 0 else float("nan"),
        "result": result,
    }


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_results(name: str, payload: dict, directory: Path | str | None = None) -> Path:
    """Write ``payload`` plus :func:`machine_info` as ``<directory>/<name>.json``."""
    directory = Path(directory) if directory is not None else RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    document = {"benchmark": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": machine_info(), **payload}
    path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
