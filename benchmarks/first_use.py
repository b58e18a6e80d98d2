"""First use: the first fit of every estimator and engine in a fresh process.

Each case runs twice in new interpreters sharing one fresh ``NUMBA_CACHE_DIR``:
*cold*, with the cache empty (every numba kernel compiles), then *warm*, with
the cache the cold run filled.  The time is the fit alone (the import is
excluded, jax's own import timed apart), on small data: FastKMeans 2,000 x 5 with 4 clusters,
PermutationTest 40 x 50 with R = 999, HMASweep 3 lengths on 3,000 bars.
Writes ``benchmarks/results/first_use.json``.

Usage: ``python -m benchmarks.first_use`` from the checkout.
"""

import json
import os
import subprocess
import sys
import tempfile

from ._timing import RESULTS_DIR, write_results

CASES = ([("FastKMeans", e) for e in ("auto", "numpy", "numba", "blas", "hamerly", "jax",
                                     "reference")]
         + [("PermutationTest", e) for e in ("auto", "numpy", "numba", "jax")]
         + [("HMASweep", e) for e in ("auto", "numba", "numba_parallel", "cached", "sliding",
                                      "fast", "numpy", "jax")])

FIT = r'''
import time, numpy as np
import skfast
from skfast.datasets import make_gbm_prices
name, engine = {name!r}, {engine!r}
rng = np.random.default_rng(0)
start = time.perf_counter()
if engine == "jax":  # jax's own import (about 1 s) is an import: reported apart
    import jax
    print("jax_import", time.perf_counter() - start)
    start = time.perf_counter()
if name == "FastKMeans":
    skfast.FastKMeans(4, engine=engine, random_state=0).fit(rng.normal(size=(2000, 5)))
elif name == "PermutationTest":
    skfast.PermutationTest(999, engine=engine, random_state=0).fit(
        rng.normal(size=(40, 50)), np.arange(40) % 2)
else:
    skfast.HMASweep(lengths=[6, 20, 50], engine=engine).fit(
        make_gbm_prices(3000, random_state=0)[:, None])
print("fit", time.perf_counter() - start)
'''


def first_fit(name, engine, cache):
    """Seconds of the first fit in a new interpreter whose numba cache is ``cache``.

    Also the seconds ``import jax`` took before it, for the jax engines (else None).
    """
    result = subprocess.run([sys.executable, "-c", FIT.format(name=name, engine=engine)],
                            env={**os.environ, "NUMBA_CACHE_DIR": cache},
                            capture_output=True, text=True, cwd=tempfile.gettempdir())
    if result.returncode != 0:
        raise SystemExit(f"{name} engine={engine!r} failed:\n{result.stderr[-2000:]}")
    seconds = dict(line.split() for line in result.stdout.strip().splitlines()[-2:])
    jax_import = seconds.get("jax_import")
    return float(seconds["fit"]), None if jax_import is None else float(jax_import)


def main():
    fits = {}
    for name, engine in CASES:
        with tempfile.TemporaryDirectory() as cache:
            cold, jax_import = first_fit(name, engine, cache)
            warm, _ = first_fit(name, engine, cache)
        fits[f"{name} {engine}"] = {"cold_s": cold, "warm_s": warm}
        if jax_import is not None:
            fits[f"{name} {engine}"]["jax_import_s"] = jax_import
        print(f"{name:<16} {engine:<14} cold {cold:6.2f} s   warm {warm:5.2f} s", flush=True)
    results = {"description": __doc__.split("\n\n")[1].replace("\n", " "), "fits": fits}
    previous = RESULTS_DIR / "first_use.json"
    if previous.exists():  # the baseline the docs compare with stays in the report
        baseline = json.loads(previous.read_text()).get("before_this_change")
        if baseline is not None:
            results["before_this_change"] = baseline
    path = write_results("first_use", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
