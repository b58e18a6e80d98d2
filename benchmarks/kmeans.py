"""FastKMeans benchmark: every engine against scikit-learn, gated on equivalence.

For each shape (n_samples, n_features, n_clusters) every engine and
``sklearn.cluster.KMeans`` (lloyd and elkan) start from the same k-means++
centres with ``tol=0`` and the same ``max_iter``.  Before any time is
recorded, each engine must reproduce sklearn's lloyd labels and ``n_iter_``
exactly and its inertia within 1e-8 relative, and the reference oracle must
agree with every engine on a subsample; a failed gate aborts the script.  Then
each fit is timed (first call separately: JIT compilation), and the script
writes ``benchmarks/results/kmeans[_quick].json`` and a PNG chart.

Usage: ``python benchmarks/kmeans.py [--quick] [--repeats N]``
"""

import argparse
import sys
import time

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus
from threadpoolctl import threadpool_limits

from skfast import FastKMeans
from skfast._bench import RESULTS_DIR, gemm_peak_gflops, machine_info, time_call, write_results
from skfast._engines import effective_n_threads

FULL_SHAPES = [(100_000, 10, 5), (200_000, 2, 100), (100_000, 64, 256), (1_000_000, 256, 50)]
QUICK_SHAPES = [(20_000, 10, 5), (40_000, 2, 100), (20_000, 64, 256), (50_000, 256, 50)]


def make_data(n_samples, n_features, n_clusters, seed=0, structured=True):
    """Gaussian clusters around random centres, and k-means++ centres from sklearn.

    ``structured=False`` draws plain standard normal data: Lloyd then keeps
    moving for many iterations, so a fixed ``max_iter`` measures the cost of
    an iteration rather than the fit's fixed set-up.
    """
    rng = np.random.default_rng(seed)
    if structured:
        centres = rng.standard_normal((n_clusters, n_features)) * 3.0
        X = centres[rng.integers(n_clusters, size=n_samples)]
        X += rng.standard_normal((n_samples, n_features))
    else:
        X = rng.standard_normal((n_samples, n_features))
    init, _ = kmeans_plusplus(X, n_clusters, random_state=seed)
    return X, init


def candidates(n_clusters, init, max_iter):
    """Name -> unfitted estimator; every one starts from ``init`` and runs ``tol=0``."""
    common = dict(n_clusters=n_clusters, init=init, n_init=1, max_iter=max_iter, tol=0.0)
    runs = {
        "sklearn lloyd": KMeans(algorithm="lloyd", **common),
        "sklearn elkan": KMeans(algorithm="elkan", **common),
    }
    for engine in FastKMeans._engine_table.available():
        if engine != "reference":
            runs[engine] = FastKMeans(engine=engine, **common)
    runs["auto"] = FastKMeans(engine="auto", **common)
    return runs


def gate(X, init, runs, max_iter, subsample=2_000):
    """Abort unless every skfast run reproduces sklearn lloyd and the reference."""
    baseline = runs["sklearn lloyd"].fit(X)
    for name, est in runs.items():
        if not name.startswith("sklearn"):
            est.fit(X)
            same = (np.array_equal(est.labels_, baseline.labels_)
                    and est.n_iter_ == baseline.n_iter_
                    and abs(est.inertia_ - baseline.inertia_) <= 1e-8 * baseline.inertia_)
            if not same:
                sys.exit(f"equivalence gate FAILED for {name!r}: no timing recorded")
    # The oracle is too slow for the full shape: it checks a subsample.
    Xs = X[:subsample]
    ref = FastKMeans(len(init), init=init, n_init=1, max_iter=max_iter, tol=0.0,
                     engine="reference").fit(Xs)
    for name, est in runs.items():
        if not name.startswith("sklearn"):
            sub = FastKMeans(**{**est.get_params(), "max_iter": max_iter}).fit(Xs)
            if not (np.array_equal(sub.labels_, ref.labels_) and sub.n_iter_ == ref.n_iter_):
                sys.exit(f"reference gate FAILED for {name!r}: no timing recorded")
    return baseline


def bench_shape(shape, max_iter, repeats, peak, warmup=1, structured=True):
    n_samples, n_features, n_clusters = shape
    X, init = make_data(*shape, structured=structured)
    runs = candidates(n_clusters, init, max_iter)
    baseline = gate(X, init, runs, max_iter)
    rows = []
    for name, est in runs.items():
        timing = time_call(lambda est=est: est.fit(X), repeats=repeats, warmup=warmup)
        fitted = timing.pop("result")
        n_iter = fitted.n_iter_
        flops = 2.0 * n_samples * n_features * n_clusters * n_iter
        rows.append({
            "name": name,
            "engine": getattr(fitted, "engine_", None),
            "n_iter": n_iter,
            "labels_equal_sklearn_lloyd": bool(np.array_equal(fitted.labels_, baseline.labels_)),
            "ms_per_iter": 1e3 * timing["wall_s"] / n_iter,
            "gflops": flops / timing["wall_s"] / 1e9,
            "fraction_of_gemm_peak": flops / timing["wall_s"] / 1e9 / peak,
            "compile_s": (max(0.0, timing["first_s"] - timing["wall_s"])
                          if timing["first_s"] is not None else None),
            **timing,
        })
    lloyd = next(r for r in rows if r["name"] == "sklearn lloyd")["wall_s"]
    for row in rows:
        row["speedup_vs_sklearn_lloyd"] = lloyd / row["wall_s"]
    return {"shape": list(shape), "max_iter": max_iter, "rows": rows}


def print_table(result):
    n, d, k = result["shape"]
    print(f"\n(N, d, K) = ({n:_}, {d}, {k}), {result['rows'][0]['n_iter']} iterations")
    print(f"  {'run':<15} {'wall s':>8} {'cpu s':>8} {'cpu/wall':>8} {'ms/iter':>9} "
          f"{'speed-up':>9} {'GFLOP/s':>8} {'compile s':>9}")
    for r in result["rows"]:
        print(f"  {r['name']:<15} {r['wall_s']:8.3f} {r['cpu_s']:8.3f} {r['efficiency']:8.2f} "
              f"{r['ms_per_iter']:9.2f} {r['speedup_vs_sklearn_lloyd']:8.2f}x "
              f"{r['gflops']:8.1f} {r['compile_s'] or 0.0:9.2f}")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results[0]["rows"] if r["name"] != "sklearn lloyd"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [next(r for r in res["rows"] if r["name"] == name)["speedup_vs_sklearn_lloyd"]
                  for res in results]
        ax.bar(np.arange(len(results)) + i * width, values, width, label=name)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(results)) + 0.4 - width / 2)
    ax.set_xticklabels([f"N={s[0]:,}\nd={s[1]}, K={s[2]}" for s in (r["shape"] for r in results)])
    ax.set_ylabel("speed-up vs sklearn lloyd (x)")
    ax.set_yscale("log")
    ax.set_title("FastKMeans: speed-up per iteration vs sklearn KMeans(lloyd), identical labels")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(path):
    """The README table, rendered from a results JSON (numbers are never typed by hand)."""
    import json

    doc = json.loads(open(path).read())
    blas = doc["machine"]["blas"][0]
    lines = [
        f"Measured on {doc['machine']['cores']} cores ({doc['machine']['processor']}), "
        f"OpenBLAS {blas['version']} kernel {blas['architecture']}, float64 GEMM peak "
        f"{doc['gemm_peak_gflops']:.0f} GFLOP/s; ms per Lloyd iteration, median of warm fits "
        f"from the same k-means++ centres, after the equivalence gate.",
        "",
        "| N, d, K | sklearn lloyd | sklearn elkan | numpy | numba | jax | hamerly | auto (engine) "
        "| auto speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in doc["shapes"]:
        rows = {r["name"]: r for r in res["rows"]}
        n, d, k = res["shape"]
        cell = lambda name: f"{rows[name]['ms_per_iter']:.1f}" if name in rows else "-"  # noqa: E731
        auto = rows["auto"]
        lines.append(
            f"| {n:,}, {d}, {k} | {cell('sklearn lloyd')} | {cell('sklearn elkan')} | "
            f"{cell('numpy')} | {cell('numba')} | {cell('jax')} | {cell('hamerly')} | "
            f"{auto['ms_per_iter']:.1f} ({auto['engine']}) | "
            f"**{auto['speedup_vs_sklearn_lloyd']:.2f}x** |")
    summary = doc["summary"]
    lines += ["", f"`engine=\"auto\"` vs sklearn lloyd: geometric mean "
              f"**{summary['auto_speedup_geomean']:.2f}x**, minimum "
              f"{summary['auto_speedup_min']:.2f}x, identical labels on every shape."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, about a minute")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unstructured", action="store_true",
                        help="standard normal data (no clusters): the bounds' worst case")
    parser.add_argument("--markdown", metavar="JSON", help="print the README table of a result and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    with threadpool_limits(effective_n_threads(None), user_api="blas"):
        peak = gemm_peak_gflops()
    info = machine_info()
    print(f"float64 GEMM peak {peak:.1f} GFLOP/s; BLAS: {info['blas']}")
    results = []
    for shape in shapes:
        big = shape[0] * shape[1] > 1e8
        max_iter = 10 if big else 20
        repeats = 1 if big else args.repeats
        # On the big shape the gate's fit is the warm-up: a third fit of
        # every engine would take minutes more and changes nothing.
        t0 = time.perf_counter()
        result = bench_shape(shape, max_iter, repeats, peak, warmup=0 if big else 1,
                             structured=not args.unstructured)
        result["bench_s"] = time.perf_counter() - t0
        print_table(result)
        results.append(result)
    auto = [next(r for r in res["rows"] if r["name"] == "auto")["speedup_vs_sklearn_lloyd"]
            for res in results]
    summary = {"auto_speedup_geomean": float(np.exp(np.mean(np.log(auto)))),
               "auto_speedup_min": float(min(auto)), "auto_speedup": auto}
    print(f"\nengine='auto' vs sklearn lloyd: geometric mean {summary['auto_speedup_geomean']:.2f}x,"
          f" minimum {summary['auto_speedup_min']:.2f}x")
    name = "kmeans" + ("_unstructured" if args.unstructured else "") + ("_quick" if args.quick else "")
    path = write_results(name, {"gemm_peak_gflops": peak, "data": "unstructured" if args.unstructured
                                else "gaussian clusters", "shapes": results, "summary": summary})
    plot(results, RESULTS_DIR / f"{name}.png")
    print(f"wrote {path} and {name}.png")


if __name__ == "__main__":
    main()
