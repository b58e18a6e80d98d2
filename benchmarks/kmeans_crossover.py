"""Where does each FastKMeans engine win?  The data behind ``engine="auto"``.

Times the numba, numpy and hamerly engines on a grid of (n_features,
n_clusters) at fixed n_samples, all from the same k-means++ centres with the
same number of Lloyd iterations (``tol=0``), after checking that they return
identical labels.  Prints the winner per cell and the rule's pick, and writes
``benchmarks/results/kmeans_crossover.json``.

Usage: ``python -m benchmarks.kmeans_crossover [--n-samples N]`` from the checkout
"""

import argparse


from skfast import FastKMeans
from skfast.cluster._kmeans import _ENGINES

from ._timing import time_call, write_results
from .kmeans import make_data

FEATURES = (2, 8, 32, 128)
CLUSTERS = (4, 16, 64, 256)
ENGINES = ("numba", "numpy", "hamerly")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--max-iter", type=int, default=20)
    args = parser.parse_args(argv)
    cells = []
    for n_features in FEATURES:
        for n_clusters in CLUSTERS:
            X, init = make_data(args.n_samples, n_features, n_clusters)
            common = dict(n_clusters=n_clusters, init=init, n_init=1, max_iter=args.max_iter, tol=0.0)
            fits = {e: FastKMeans(engine=e, **common).fit(X) for e in ENGINES}
            problems = [p for f in fits.values() for p in _ENGINES.gate.mismatches(fits["numba"], f, X)]
            if problems:
                raise SystemExit(f"gate FAILED at d={n_features}, K={n_clusters}: "
                                 f"{'; '.join(problems)}; no timing recorded")
            ms = {}
            for engine in ENGINES:
                timing = time_call(lambda e=engine: FastKMeans(engine=e, **common).fit(X), repeats=3)
                ms[engine] = 1e3 * timing["wall_s"] / fits[engine].n_iter_
            winner = min(ms, key=ms.get)
            auto = _ENGINES.resolve("auto", n_samples=args.n_samples, n_features=n_features,
                                    n_clusters=n_clusters, algorithm="lloyd").name
            cells.append({"n_features": n_features, "n_clusters": n_clusters,
                          "n_iter": fits["numba"].n_iter_, "ms_per_iter": ms, "winner": winner,
                          "auto": auto, "auto_over_best": ms[auto] / ms[winner]})
            print(f"d={n_features:>4} K={n_clusters:>4}  " +
                  "  ".join(f"{e} {ms[e]:7.2f}" for e in ENGINES) +
                  f"  ms/iter  winner {winner:<8} auto {auto:<8} ({ms[auto] / ms[winner]:.2f}x best)")
    write_results("kmeans_crossover", {"n_samples": args.n_samples, "max_iter": args.max_iter,
                                       "cells": cells})


if __name__ == "__main__":
    main()
