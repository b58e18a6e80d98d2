"""First use: the first fit of every estimator and engine in a fresh process.

Each case runs twice in new interpreters sharing one fresh ``NUMBA_CACHE_DIR``:
*cold*, with the cache empty (every numba kernel compiles), then *warm*, with
the cache the cold run filled.  The time is the fit alone (the import is
excluded), on small data: FastKMeans 2,000 x 5 with 4 clusters,
PermutationTest 40 x 50 with R = 999, HMASweep 3 lengths on 3,000 bars.
Writes ``benchmarks/results/first_use.json``.

Usage: ``python -m benchmarks.first_use`` from the checkout.
"""

import os
import subprocess
import sys
import tempfile

from ._timing import write_results

CASES = ([("FastKMeans", e) for e in ("auto", "numpy", "numba", "hamerly", "jax", "reference")]
         + [("PermutationTest", e) for e in ("auto", "numpy", "numba", "jax")]
         + [("HMASweep", e) for e in ("auto", "numba", "sliding", "fast", "numpy", "jax")])

FIT = r'''
import time, numpy as np
import skfast
from skfast.datasets import make_gbm_prices
name, engine = {name!r}, {engine!r}
rng = np.random.default_rng(0)
start = time.perf_counter()
if name == "FastKMeans":
    skfast.FastKMeans(4, engine=engine, random_state=0).fit(rng.normal(size=(2000, 5)))
elif name == "PermutationTest":
    skfast.PermutationTest(999, engine=engine, random_state=0).fit(
        rng.normal(size=(40, 50)), np.arange(40) % 2)
else:
    skfast.HMASweep(lengths=[6, 20, 50], engine=engine).fit(
        make_gbm_prices(3000, random_state=0)[:, None])
print(time.perf_counter() - start)
'''


def first_fit(name, engine, cache):
    """Seconds of the first fit in a new interpreter whose numba cache is ``cache``."""
    result = subprocess.run([sys.executable, "-c", FIT.format(name=name, engine=engine)],
                            env={**os.environ, "NUMBA_CACHE_DIR": cache},
                            capture_output=True, text=True, cwd=tempfile.gettempdir())
    if result.returncode != 0:
        raise SystemExit(f"{name} engine={engine!r} failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.split()[-1])


def main():
    fits = {}
    for name, engine in CASES:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_fit(name, engine, cache)
            warm = first_fit(name, engine, cache)
        fits[f"{name} {engine}"] = {"cold_s": cold, "warm_s": warm}
        print(f"{name:<16} {engine:<10} cold {cold:6.2f} s   warm {warm:5.2f} s", flush=True)
    path = write_results("first_use", {"description": __doc__.split("\n\n")[1].replace("\n", " "),
                                       "fits": fits})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
