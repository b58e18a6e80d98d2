"""The FastKMeans section of ``python -m skfast``."""

import builtins
import functools
import sys
import time

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from ._kmeans import FastKMeans


def run_demo(quick=True, file=None):
    """Simulate, gate every engine on the reference and on sklearn, then time them.

    Parameters
    ----------
    quick : bool, default=True
        Use 100,000 samples (``False``: 1,000,000).
    file : file-like, default=None
        Where the report goes; ``sys.stdout`` when None.

    Returns
    -------
    rows : list of dict
        One row per timed run: name, engine, seconds, speed-up vs sklearn.
    """
    print = functools.partial(builtins.print, file=file or sys.stdout)
    n_samples, n_features, n_clusters = (100_000 if quick else 1_000_000), 10, 5
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((n_clusters, n_features)) * 3
    X = centres[rng.integers(n_clusters, size=n_samples)] + rng.standard_normal((n_samples, n_features))
    init, _ = kmeans_plusplus(X, n_clusters, random_state=0)
    params = dict(n_clusters=n_clusters, init=init, n_init=1)
    print(f"FastKMeans on simulated data: N={n_samples:,}, d={n_features}, K={n_clusters}")

    # 1. The gate: every engine against the oracle (on a subsample: it is slow)
    #    and against sklearn (on everything).  Timing only counts after it.
    table = FastKMeans._engine_table
    engines = table.available()
    small = X[:3_000]
    oracle = FastKMeans(engine=table.gate.oracle, **params).fit(small)
    sklearn_fit = KMeans(algorithm="lloyd", **params).fit(X)
    sklearn_small = KMeans(algorithm="lloyd", **params).fit(small)
    same = table.gate.agree(sklearn_small, oracle, small)
    print(f"  gate reference  vs sklearn (3,000 samples): {'identical' if same else 'FAILED'}")
    for engine in [e for e in engines if e != table.gate.oracle]:
        sub = FastKMeans(engine=engine, **params).fit(small)
        full = FastKMeans(engine=engine, **params).fit(X)
        ok = table.gate.agree(oracle, sub, small) and table.gate.agree(sklearn_fit, full, X)
        print(f"  gate {engine:<10} vs reference and sklearn: {'identical' if ok else 'FAILED'}")
        if not ok:
            raise SystemExit("equivalence gate failed: no timing reported")

    # 2. Timing, warm (the gate above already compiled the JIT engines).
    def best_of(est, repeats=3):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            est.fit(X)
            times.append(time.perf_counter() - t0)
        return min(times), est

    baseline, _ = best_of(KMeans(algorithm="lloyd", **params))
    rows = [{"name": "sklearn lloyd", "engine": "-", "seconds": baseline, "speedup": 1.0}]
    for engine in [e for e in engines if e != "reference"] + ["auto"]:
        seconds, est = best_of(FastKMeans(engine=engine, **params))
        rows.append({"name": f"FastKMeans({engine!r})", "engine": est.engine_,
                     "seconds": seconds, "speedup": baseline / seconds})
    print(f"  {'run':<24} {'ran':<8} {'seconds':>8} {'vs sklearn':>10}")
    for row in rows:
        print(f"  {row['name']:<24} {row['engine']:<8} {row['seconds']:8.3f} {row['speedup']:9.2f}x")
    return rows
