"""FastKMeans benchmark: every engine against scikit-learn, gated on equivalence.

For each shape (n_samples, n_features, n_clusters) every engine, ``engine="auto"``
and ``sklearn.cluster.KMeans`` (lloyd and elkan) start from the same k-means++
centres with ``tol=0`` and the same ``max_iter``.  Before any time is
recorded, each engine must reproduce sklearn's lloyd labels and ``n_iter_``
exactly and its inertia within 1e-8 relative, and the reference oracle must
agree with every engine on a subsample; a failed gate aborts the script.  Then
each fit is timed (first call separately: JIT compilation).  Run it with
``python -m benchmarks --only kmeans [--quick]``: the section goes into the
report, its chart beside it.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ._timing import gemm_peak_gflops, time_call
from ._common import NoProgress, auto_entry, comparison_row, format_table, geomean, plain_log_axis

FULL_SHAPES = [(100_000, 10, 5), (200_000, 2, 100), (100_000, 64, 256), (1_000_000, 256, 50)]
QUICK_SHAPES = [(20_000, 10, 5), (40_000, 2, 100), (20_000, 64, 256), (50_000, 256, 50)]
SMOKE_SHAPES = [(3_000, 4, 3), (3_000, 16, 20)]
SHAPES = {"full": FULL_SHAPES, "quick": QUICK_SHAPES, "smoke": SMOKE_SHAPES}

PEER = "sklearn lloyd"


def make_data(n_samples, n_features, n_clusters, seed=0, structured=True):
    """Gaussian clusters around random centres, and k-means++ centres from sklearn.

    ``structured=False`` draws plain standard normal data: Lloyd then keeps
    moving for many iterations, so a fixed ``max_iter`` measures the cost of
    an iteration rather than the fit's fixed set-up.
    """
    from sklearn.cluster import kmeans_plusplus

    rng = np.random.default_rng(seed)
    if structured:
        centres = rng.standard_normal((n_clusters, n_features)) * 3.0
        X = centres[rng.integers(n_clusters, size=n_samples)]
        X += rng.standard_normal((n_samples, n_features))
    else:
        X = rng.standard_normal((n_samples, n_features))
    init, _ = kmeans_plusplus(X, n_clusters, random_state=seed)
    return X, init


def _engines():
    from skfast import FastKMeans

    return [e for e in FastKMeans._engine_table.available() if e != "reference"]


def candidates(n_clusters, init, max_iter):
    """Name -> unfitted estimator; every one starts from ``init`` and runs ``tol=0``."""
    from sklearn.cluster import KMeans

    from skfast import FastKMeans

    common = dict(n_clusters=n_clusters, init=init, n_init=1, max_iter=max_iter, tol=0.0)
    runs = {
        "sklearn lloyd": KMeans(algorithm="lloyd", **common),
        "sklearn elkan": KMeans(algorithm="elkan", **common),
    }
    for engine in _engines():
        runs[engine] = FastKMeans(engine=engine, **common)
    runs["auto"] = FastKMeans(engine="auto", **common)
    return runs


def gate(X, init, runs, max_iter, subsample=2_000):
    """Abort unless every skfast run reproduces sklearn lloyd and the reference."""
    from skfast import FastKMeans

    spec = FastKMeans._engine_table.gate
    baseline = runs["sklearn lloyd"].fit(X)
    for name, est in runs.items():
        if not name.startswith("sklearn"):
            problems = spec.mismatches(baseline, est.fit(X), X)
            if problems:
                sys.exit(f"equivalence gate FAILED for {name!r} against sklearn lloyd: "
                         + "; ".join(problems) + "; no timing recorded")
    # The oracle is too slow for the full shape: it checks a subsample.
    Xs = X[:subsample]
    ref = FastKMeans(len(init), init=init, n_init=1, max_iter=max_iter, tol=0.0,
                     engine=spec.oracle).fit(Xs)
    for name, est in runs.items():
        if not name.startswith("sklearn"):
            sub = FastKMeans(**{**est.get_params(), "max_iter": max_iter}).fit(Xs)
            problems = spec.mismatches(ref, sub, Xs)
            if problems:
                sys.exit(f"reference gate FAILED for {name!r}: " + "; ".join(problems)
                         + "; no timing recorded")
    return baseline


def bench_shape(shape, max_iter, repeats, peak, warmup=1, structured=True, progress=None):
    progress = progress or NoProgress()
    n_samples, n_features, n_clusters = shape
    X, init = make_data(*shape, structured=structured)
    runs = candidates(n_clusters, init, max_iter)
    progress.note(f"{shape_label(shape)}: equivalence gate")
    baseline = gate(X, init, runs, max_iter)
    progress.step()
    rows = []
    for name, est in runs.items():
        progress.note(f"{shape_label(shape)}: {name}")
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
        progress.step()
    lloyd = next(r for r in rows if r["name"] == PEER)["wall_s"]
    for row in rows:
        row["speedup_vs_sklearn_lloyd"] = lloyd / row["wall_s"]
    return {"shape": list(shape), "max_iter": max_iter, "rows": rows}


def shape_label(shape):
    n, d, k = shape
    return f"N={n:,} d={d} K={k}"


def print_table(result):
    n, d, k = result["shape"]
    print(f"\n(N, d, K) = ({n:_}, {d}, {k}), {result['rows'][0]['n_iter']} iterations")
    print(f"  {'run':<15} {'wall s':>8} {'cpu s':>8} {'cpu/wall':>8} {'ms/iter':>9} "
          f"{'speed-up':>9} {'GFLOP/s':>8} {'compile s':>9}")
    for r in result["rows"]:
        print(f"  {r['name']:<15} {r['wall_s']:8.3f} {r['cpu_s']:8.3f} {r['efficiency']:8.2f} "
              f"{r['ms_per_iter']:9.2f} {r['speedup_vs_sklearn_lloyd']:8.2f}x "
              f"{r['gflops']:8.1f} {r['compile_s'] or 0.0:9.2f}")


def n_steps(mode):
    """Progress steps of :func:`run`: per shape, the gate and one per timed run."""
    return len(SHAPES[mode]) * (1 + len(_engines()) + 3)


def run(mode="full", *, repeats=3, structured=True, progress=None, tables=False):
    """Gate and time every shape of ``mode``; return the results section.

    The section holds ``gemm_peak_gflops`` (float64, measured before the
    shapes with the BLAS threads the engines use), ``data``, ``shapes`` (one
    entry per shape: ``shape``, ``max_iter``, ``rows`` of timings per run,
    ``bench_s``) and ``summary`` (auto's speed-up vs sklearn lloyd).
    """
    from threadpoolctl import threadpool_limits

    from skfast._engines import effective_n_threads

    progress = progress or NoProgress()
    progress.section("kmeans", n_steps(mode))
    shapes = SHAPES[mode]
    if mode == "smoke":
        repeats = 1
    progress.note("float64 GEMM peak")
    with threadpool_limits(effective_n_threads(None), user_api="blas"):
        peak = gemm_peak_gflops()
    progress.log(f"kmeans: float64 GEMM peak {peak:.1f} GFLOP/s")
    results = []
    for shape in shapes:
        big = shape[0] * shape[1] > 1e8
        max_iter = 10 if big else 20
        # On the big shape the gate's fit is the warm-up: a third fit of
        # every engine would take minutes more and changes nothing.
        t0 = time.perf_counter()
        result = bench_shape(shape, max_iter, 1 if big else repeats, peak,
                             warmup=0 if big else 1, structured=structured, progress=progress)
        result["bench_s"] = time.perf_counter() - t0
        if tables:
            print_table(result)
        else:
            entry = _auto_entry(result)
            progress.log(f"kmeans {shape_label(shape)}: auto ({entry['auto_engine']}) "
                         f"{result['rows'][-1]['ms_per_iter']:.2f} ms/iter, "
                         f"{result['rows'][-1]['speedup_vs_sklearn_lloyd']:.2f}x sklearn lloyd, "
                         f"{entry['ratio']:.2f}x the fastest engine ({entry['fastest_engine']})")
        results.append(result)
    auto = [_row(res, "auto")["speedup_vs_sklearn_lloyd"] for res in results]
    summary = {"auto_speedup_geomean": geomean(auto),
               "auto_speedup_min": float(min(auto)), "auto_speedup": auto}
    return {"mode": mode, "gemm_peak_gflops": peak,
            "data": "gaussian clusters" if structured else "unstructured",
            "shapes": results, "summary": summary}


def _row(result, name):
    return next(r for r in result["rows"] if r["name"] == name)


def _auto_entry(result):
    n, d, k = result["shape"]
    auto = _row(result, "auto")
    engines = {r["name"]: r["wall_s"] for r in result["rows"]
               if r["name"] != "auto" and not r["name"].startswith("sklearn")}
    return auto_entry("kmeans", {"n_samples": n, "n_features": d, "n_clusters": k},
                      f"{n:,} x {d} x {k}", auto["engine"], auto["wall_s"], engines)


def auto_vs_fastest(section):
    """engine="auto" against the fastest engine, per shape (auto is timed as itself)."""
    return [_auto_entry(result) for result in section["shapes"]]


def comparison_rows(section):
    """The rows of the report's FastKMeans table: every run on every shape."""
    rows = []
    for result in section["shapes"]:
        n, d, k = result["shape"]
        label = f"{n:,} x {d} x {k}"
        for r in result["rows"]:
            name = r["name"] if r["name"] != "auto" else f"auto ({r['engine']})"
            rows.append(comparison_row(
                label, name, r["wall_s"], r.get("cpu_s"), throughput=r["n_iter"] / r["wall_s"],
                speedup=r["speedup_vs_sklearn_lloyd"], gemm_fraction=r["fraction_of_gemm_peak"],
                compile_s=r.get("compile_s")))
    return rows


def report(section):
    """The FastKMeans comparison table as text."""
    return format_table(
        f"FastKMeans (N x d x K, Lloyd iterations from the same k-means++ centres; "
        f"float64 GEMM peak {section['gemm_peak_gflops']:.0f} GFLOP/s)",
        comparison_rows(section), "iter/s", PEER)


def plot(section, path):
    """Bar chart: speed-up of every run over sklearn lloyd, per shape."""
    results = section["shapes"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results[0]["rows"] if r["name"] != PEER]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [_row(res, name)["speedup_vs_sklearn_lloyd"] for res in results]
        ax.bar(np.arange(len(results)) + i * width, values, width, label=name)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(results)) + 0.4 - width / 2)
    ax.set_xticklabels([f"N={s[0]:,}\nd={s[1]}, K={s[2]}" for s in (r["shape"] for r in results)])
    ax.set_ylabel("speed-up vs sklearn lloyd (x)")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis, subs=(1.0, 2.0, 5.0))
    ax.set_title("FastKMeans: speed-up per iteration vs sklearn KMeans(lloyd), identical labels")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
