"""FastKMeans on the data users have: several kinds of data, peers in the same run.

Kinds: well-separated ``blobs`` (the main benchmark's data), unstructured
standard ``normal`` data, ``heavy_tailed`` anisotropic mixtures with unequal
spreads, ``low_rank`` embedding-like data (rank d/8 plus noise), ``digits``
(scikit-learn's ``load_digits``, scaled up by jittered copies) and sparse
``tfidf``-like CSR rows (1% density, unit norm).  Per (kind, shape), every
run starts from the same k-means++ centres with ``tol=0`` and
:data:`ITERATIONS` iterations:

1. the gate: ``engine="auto"`` must give scikit-learn lloyd's labels and
   ``n_iter_`` exactly (a failed gate aborts the script);
2. interleaved rounds of sklearn lloyd, sklearn elkan and auto in float64,
   and of sklearn lloyd, auto and faiss (when ``faiss-cpu`` is installed;
   not exact, and it always runs its iterations) in float32;
3. one default fit each of auto and sklearn lloyd (``init="k-means++"``,
   ``n_init="auto"``, default ``tol``, k-means++ included), on the shapes
   up to 200,000 samples.

Reports the time per iteration, the speed-up over sklearn lloyd (and over
faiss in float32), the fraction of this machine's GEMM peak that the
distance products' ``2 n d k`` flops per iteration reach, and what auto
chose.  Every library runs with ``OMP_WAIT_POLICY=PASSIVE`` (set here
before anything loads OpenMP), so no library's idle threads spin while
another one runs.  Writes ``benchmarks/results/kmeans_kinds.json`` and
``kmeans_kinds.png``.

Usage: ``python -m benchmarks.kmeans_kinds [--quick]`` from the checkout.
"""

import os
import sys

if os.environ.get("OMP_WAIT_POLICY") != "PASSIVE":  # before numpy, sklearn or faiss load
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.execv(sys.executable, [sys.executable, "-m", "benchmarks.kmeans_kinds", *sys.argv[1:]])

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from ._common import geomean, plain_log_axis  # noqa: E402
from ._timing import RESULTS_DIR, gemm_peak_gflops, write_results  # noqa: E402

ITERATIONS = 10
DENSE_KINDS = ("blobs", "normal", "heavy_tailed", "low_rank")
FULL_SHAPES = [(100_000, 10, 5), (200_000, 2, 100), (100_000, 64, 256), (1_000_000, 256, 50)]
QUICK_SHAPES = [(20_000, 10, 5), (40_000, 2, 100), (20_000, 64, 256), (100_000, 256, 50)]
DEFAULT_FIT_MAX_SAMPLES = 200_000


def cells(quick):
    """(kind, (n_samples, n_features, n_clusters)) of every benchmark cell."""
    shapes = QUICK_SHAPES if quick else FULL_SHAPES
    n = 20_000 if quick else 100_000
    return ([(kind, shape) for shape in shapes for kind in DENSE_KINDS]
            + [("digits", (n, 64, 10)), ("tfidf", (n, 20_000, 20))])


def make_kind(kind, n_samples, n_features, n_clusters, seed=0):
    """Data of one kind, float64 (CSR for ``tfidf``)."""
    rng = np.random.default_rng(seed)
    if kind == "blobs":
        centres = rng.standard_normal((n_clusters, n_features)) * 3.0
        return centres[rng.integers(n_clusters, size=n_samples)] + rng.standard_normal(
            (n_samples, n_features))
    if kind == "normal":
        return rng.standard_normal((n_samples, n_features))
    if kind == "heavy_tailed":
        components = max(2, n_clusters // 4)
        centres = rng.standard_normal((components, n_features)) * 2.0
        spreads = rng.lognormal(0.0, 1.0, components)
        mixing = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
        which = rng.integers(components, size=n_samples)
        noise = rng.standard_t(3, (n_samples, n_features)) @ mixing
        return centres[which] + spreads[which, None] * noise
    if kind == "low_rank":
        rank = max(2, n_features // 8)
        factors = rng.standard_normal((n_samples, rank))
        return factors @ rng.standard_normal((rank, n_features)) + 0.1 * rng.standard_normal(
            (n_samples, n_features))
    if kind == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits().data
        return digits[rng.integers(digits.shape[0], size=n_samples)] + rng.normal(
            0.0, 0.5, (n_samples, digits.shape[1]))
    if kind == "tfidf":
        X = sp.random(n_samples, n_features, density=0.01, format="csr", random_state=seed,
                      data_rvs=lambda size: rng.exponential(size=size))
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X)
    raise ValueError(f"unknown kind {kind!r}")


def _runs(X, init, n_clusters, faiss_ok):
    """Name -> fit function, for the interleaved rounds."""
    from sklearn.cluster import KMeans

    from skfast import FastKMeans

    common = dict(n_clusters=n_clusters, n_init=1, max_iter=ITERATIONS, tol=0.0)
    X32, init32 = X.astype(np.float32), init.astype(np.float32)
    runs = {
        "sklearn lloyd": lambda: KMeans(init=init, algorithm="lloyd", **common).fit(X),
        "sklearn elkan": lambda: KMeans(init=init, algorithm="elkan", **common).fit(X),
        "auto": lambda: FastKMeans(init=init, **common).fit(X),
        "sklearn lloyd float32": lambda: KMeans(init=init32, **common).fit(X32),
        "auto float32": lambda: FastKMeans(init=init32, **common).fit(X32),
    }
    if faiss_ok and not sp.issparse(X):
        runs["faiss float32"] = lambda: _faiss_fit(X32, init32, n_clusters)
    return runs


def _faiss_fit(X32, init32, n_clusters):
    import faiss

    kmeans = faiss.Kmeans(X32.shape[1], n_clusters, niter=ITERATIONS, seed=0,
                          max_points_per_centroid=X32.shape[0])
    kmeans.train(X32, init_centroids=init32)
    return kmeans


def _gate(runs):
    expected, got = runs["sklearn lloyd"](), runs["auto"]()
    if not (np.array_equal(expected.labels_, got.labels_) and expected.n_iter_ == got.n_iter_):
        sys.exit("GATE FAILED: FastKMeans(auto) differs from sklearn lloyd")
    expected, got = runs["sklearn lloyd float32"](), runs["auto float32"]()
    if not (np.array_equal(expected.labels_, got.labels_) and expected.n_iter_ == got.n_iter_):
        sys.exit("GATE FAILED: FastKMeans(auto) differs from sklearn lloyd in float32")
    return got.engine_


def _rounds(runs, rounds):
    """Best wall time of each run over ``rounds`` interleaved rounds (warm: the gate ran them)."""
    best = {name: np.inf for name in runs}
    for round_ in range(rounds):
        names = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
        for name in names:
            start = time.perf_counter()
            runs[name]()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _default_fits(X, n_clusters):
    from sklearn.cluster import KMeans

    from skfast import FastKMeans

    seconds = {}
    for name, make in (("sklearn lloyd", KMeans), ("auto", FastKMeans)):
        start = time.perf_counter()
        make(n_clusters, random_state=0).fit(X)
        seconds[name] = time.perf_counter() - start
    return seconds


def measure_cell(kind, shape, rounds, peaks, faiss_ok):
    from sklearn.cluster import kmeans_plusplus

    n_samples, n_features, n_clusters = shape
    X = make_kind(kind, *shape)
    init, _ = kmeans_plusplus(X, n_clusters, random_state=0)
    runs = _runs(X, init, n_clusters, faiss_ok)
    auto_engine = _gate(runs)
    best = _rounds(runs, rounds)
    flops = 2.0 * n_samples * n_features * n_clusters * ITERATIONS
    if sp.issparse(X):
        flops = 2.0 * X.nnz * n_clusters * ITERATIONS
    cell = dict(kind=kind, shape=list(shape), auto_engine=auto_engine,
                seconds_per_iteration={name: s / ITERATIONS for name, s in best.items()},
                speedup_vs_sklearn=best["sklearn lloyd"] / best["auto"],
                speedup_vs_sklearn_float32=best["sklearn lloyd float32"] / best["auto float32"],
                gemm_fraction={name: flops / best[name] / 1e9 / peaks[
                    "float32" if "float32" in name else "float64"] for name in best})
    if "faiss float32" in best:
        cell["speedup_vs_faiss_float32"] = best["faiss float32"] / best["auto float32"]
    if n_samples <= DEFAULT_FIT_MAX_SAMPLES:
        cell["default_fit_s"] = _default_fits(X, n_clusters)
    return cell


def plot(cells_measured, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{c['kind']}\n{c['shape'][0]:,}x{c['shape'][1]}x{c['shape'][2]}"
              for c in cells_measured]
    y = np.arange(len(cells_measured))
    fig, axis = plt.subplots(figsize=(8, 0.42 * len(cells_measured) + 1.5))
    axis.barh(y - 0.2, [c["speedup_vs_sklearn"] for c in cells_measured], 0.4,
              label="auto vs sklearn lloyd (float64)")
    if all("speedup_vs_faiss_float32" in c for c in cells_measured if c["kind"] != "tfidf"):
        axis.barh(y + 0.2, [c.get("speedup_vs_faiss_float32", np.nan) for c in cells_measured],
                  0.4, label="auto vs faiss (float32)")
    axis.axvline(1.0, color="black", linewidth=0.8)
    axis.set_xscale("log")
    plain_log_axis(axis.xaxis, subs=(1.0, 2.0, 5.0))
    axis.set_yticks(y, labels, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel(f"speed-up per iteration (> 1: FastKMeans faster), {ITERATIONS} iterations")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller shapes")
    # best of 5: on the benchmark machine a fresh 51 MB array (the centred
    # copy, scikit-learn's or ours) now and then waited tens of ms on the
    # kernel's huge-page compaction, for any library
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        import faiss  # noqa: F401
        faiss_ok = True
    except ImportError:
        faiss_ok = False
        print("faiss-cpu is not installed: no faiss column", flush=True)
    peaks = {"float64": gemm_peak_gflops(), "float32": gemm_peak_gflops(dtype=np.float32)}
    print(f"GEMM peak: {peaks['float64']:.1f} GFLOP/s float64, "
          f"{peaks['float32']:.1f} float32", flush=True)
    measured = []
    for kind, shape in cells(args.quick):
        cell = measure_cell(kind, shape, args.rounds, peaks, faiss_ok)
        measured.append(cell)
        faiss = cell.get("speedup_vs_faiss_float32")
        print(f"{kind:<13} {str(tuple(shape)):<22} auto={cell['auto_engine']:<8} "
              f"vs sklearn {cell['speedup_vs_sklearn']:5.2f}x  float32 "
              f"{cell['speedup_vs_sklearn_float32']:5.2f}x"
              + ("" if faiss is None else f"  vs faiss {faiss:5.2f}x"), flush=True)
    dense = [c for c in measured if c["kind"] != "tfidf"]
    summary = dict(
        geomean_speedup_vs_sklearn=geomean([c["speedup_vs_sklearn"] for c in measured]),
        worst_speedup_vs_sklearn=min(c["speedup_vs_sklearn"] for c in measured),
        geomean_speedup_vs_faiss_float32=(geomean([c["speedup_vs_faiss_float32"]
                                                   for c in dense]) if faiss_ok else None))
    print(summary)
    path = write_results("kmeans_kinds", dict(
        description=__doc__.split("\n\n")[1].replace("\n", " "), iterations=ITERATIONS,
        rounds=args.rounds, quick=args.quick, gemm_peak_gflops=peaks, omp_wait_policy=os.environ["OMP_WAIT_POLICY"],
        cells=measured, summary=summary))
    plot(measured, RESULTS_DIR / "kmeans_kinds.png")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
