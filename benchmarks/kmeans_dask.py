"""FastKMeans on a Dask array against ``dask_ml.cluster.KMeans``, on a two-process cluster.

The data, ``n_samples x n_features`` float64 blobs (2,000,000 x 20 by
default, 320 MB), is drawn on the workers of a ``distributed.LocalCluster``
of two worker processes (one thread each, loopback only).  Every fit starts
from the same initial centres.  Steps:

1. the gate, before any timing: the Dask fit of FastKMeans must equal
   ``FastKMeans(engine=...)`` on the computed array bit for bit (labels,
   ``n_iter_``, inertia, centres) and give scikit-learn's labels
   (``KMeans(algorithm="lloyd")`` from the same centres); a failed gate
   aborts the script.  dask-ml is compared with scikit-learn too (share
   of labels that differ, inertia), not gated: it is the peer;
2. interleaved timed fits (``--pairs``): FastKMeans on the cluster (numba
   and hamerly engines) and dask-ml's KMeans on the same Dask array, each
   fit's wall time, iterations and fit time over iterations, setup
   included (dask-ml's ``tol`` is not scikit-learn's, so it may run more
   iterations from the same centres); a one-iteration FastKMeans fit beside
   them gives the setup's share and the marginal cost of an iteration.

Writes ``benchmarks/results/kmeans_dask.json`` (with the machine's details).

Usage: ``python -m benchmarks.kmeans_dask [--n-samples N] [--pairs K]``
(``dask-ml`` is an optional bench peer).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from ._timing import write_results

N_CLUSTERS = 8
MAX_ITER = 30


def _data(n_samples, n_features, chunk_rows):
    import dask.array as da

    rs = da.random.RandomState(0)
    X = rs.standard_normal((n_samples, n_features), chunks=(chunk_rows, n_features))
    offsets = rs.randint(0, N_CLUSTERS, size=(n_samples, 1), chunks=(chunk_rows, 1))
    return X + 4.0 * offsets


def _fit_skfast(X, init, engine, max_iter=MAX_ITER):
    from skfast import FastKMeans

    return FastKMeans(N_CLUSTERS, init=init, n_init=1, engine=engine, max_iter=max_iter).fit(X)


def _fit_dask_ml(X, init):
    from dask_ml.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KMeans(N_CLUSTERS, init=init, n_init=1, max_iter=MAX_ITER).fit(X)


def gate(X, init):
    from sklearn.cluster import KMeans

    from skfast import FastKMeans

    local = X.compute()
    expected = KMeans(N_CLUSTERS, init=init, n_init=1, algorithm="lloyd",
                      max_iter=MAX_ITER).fit(local)
    report = {}
    for engine in ("numba", "hamerly"):
        dask_fit = _fit_skfast(X, init, engine)
        labels = np.asarray(dask_fit.labels_.compute())
        in_memory = FastKMeans(N_CLUSTERS, init=init, n_init=1, engine=engine,
                               max_iter=MAX_ITER).fit(local)
        same = (np.array_equal(labels, in_memory.labels_)
                and dask_fit.n_iter_ == in_memory.n_iter_
                and dask_fit.inertia_ == in_memory.inertia_
                and np.array_equal(dask_fit.cluster_centers_, in_memory.cluster_centers_))
        if not same or not np.array_equal(labels, expected.labels_):
            raise SystemExit(f"GATE FAILED: the Dask fit ({engine}) is not the in-memory fit "
                             "or not scikit-learn's labels")
        report[engine] = {"bitwise_in_memory": True, "labels_equal_sklearn": True,
                          "n_iter": dask_fit.n_iter_}
    peer = _fit_dask_ml(X, init)
    peer_labels = np.asarray(peer.labels_.compute() if hasattr(peer.labels_, "compute")
                             else peer.labels_)
    report["dask_ml"] = {
        "labels_differing_from_sklearn": float(np.mean(peer_labels != expected.labels_)),
        "inertia": float(peer.inertia_), "sklearn_inertia": float(expected.inertia_),
        "n_iter": int(peer.n_iter_)}
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args(argv)

    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        X = _data(args.n_samples, args.n_features, args.chunk_rows).persist()
        init = np.asarray(X[:: max(1, args.n_samples // N_CLUSTERS)][:N_CLUSTERS].compute())
        results = {"n_samples": args.n_samples, "n_features": args.n_features,
                   "n_clusters": N_CLUSTERS, "max_iter": MAX_ITER,
                   "chunk_rows": args.chunk_rows, "workers": 2, "threads_per_worker": 1,
                   "gate": gate(X, init)}
        runs = {"skfast numba (Dask)": lambda: _fit_skfast(X, init, "numba"),
                "skfast hamerly (Dask)": lambda: _fit_skfast(X, init, "hamerly"),
                "dask_ml KMeans": lambda: _fit_dask_ml(X, init),
                # one iteration: the setup's share of a fit
                "skfast numba (Dask), max_iter=1": lambda: _fit_skfast(X, init, "numba", 1)}
        walls = {name: [] for name in runs}
        iterations = {}
        for pair in range(args.pairs):
            for name in list(runs) if pair % 2 == 0 else list(runs)[::-1]:
                start = time.perf_counter()
                fitted = runs[name]()
                walls[name].append(time.perf_counter() - start)
                iterations[name] = int(fitted.n_iter_)
        median = {name: float(np.median(w)) for name, w in walls.items()}
        per_iteration = {name: median[name] / iterations[name] for name in runs}
        one = median["skfast numba (Dask), max_iter=1"]
        results["skfast_numba_marginal_iteration_s"] = (
            (median["skfast numba (Dask)"] - one) / (iterations["skfast numba (Dask)"] - 1)
            if iterations["skfast numba (Dask)"] > 1 else None)
        results["skfast_numba_one_iteration_fit_s"] = one
        results.update(wall_s=median, wall_all=walls, n_iter=iterations,
                       seconds_per_iteration=per_iteration,
                       dask_ml_over_skfast={name: median["dask_ml KMeans"] / median[name]
                                            for name in runs if name.startswith("skfast")
                                            and "max_iter" not in name},
                       dask_ml_over_skfast_per_iteration={
                           name: per_iteration["dask_ml KMeans"] / per_iteration[name]
                           for name in runs if name.startswith("skfast")
                           and "max_iter" not in name})
    for name, wall in median.items():
        print(f"{name}: {wall:.2f} s, {iterations[name]} iterations, "
              f"{per_iteration[name]:.3f} s per iteration, setup included")
    print(f"gate: {results['gate']}")
    path = write_results("kmeans_dask", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
