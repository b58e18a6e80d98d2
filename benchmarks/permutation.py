"""PermutationTest benchmark: engines against scipy, gated on equivalence.

1. Gate: on small workloads every installed engine must give exactly the
   reference loop's p-values and statistics within 1e-9 relative; a failure
   aborts the script before anything is timed.
2. Headline cells: n=500, p=2000, R=1000 against ``scipy.stats.permutation_test``
   (vectorized, independent relabellings, its default ``batch=None`` and the
   best of a few batch sizes) and ``scipy.stats.ttest_ind`` with a
   ``PermutationMethod`` (Welch's t); n=500, p=20000, R=10000 for the numpy
   engine's GFLOP/s against the measured float64 GEMM peak.
3. The talk's local scaling grid, n=500, p from 10 to 10^5, R from 10^3 to
   10^4, every compiled engine (the reference on the smallest cells only;
   cells predicted to exceed a time budget are skipped and listed), and a PNG
   decision map of the winning engine per (p, R) cell.

Times are warm medians (the first call, JIT compilation included, is timed
apart as ``first_s``); peak extra memory is the tracemalloc peak of one call.
Usage: ``python benchmarks/permutation.py [--quick] [--replot]``
"""

import argparse
import json
import sys
import time
import tracemalloc

import numpy as np
from scipy import stats

from skfast._bench import RESULTS_DIR, gemm_peak_gflops, machine_info, time_call, write_results
from skfast.datasets._permutation import make_two_group_data
from skfast.permutation import PermutationTest
from skfast.permutation._demo import DEMO_WORKLOADS, equivalence_gate

ENGINES = PermutationTest._engine_table.available()
# Assumed sustained rates (multiply-adds per second) used only to skip cells
# that would not finish within CELL_BUDGET_S; the measured rates are reported.
ASSUMED_RATE = {"reference": 2e8, "numpy": 2e10, "numba": 2.5e9, "jax": 1e10}
CELL_BUDGET_S = 12.0


GATE_WORKLOADS = DEMO_WORKLOADS + [
    (dict(n_samples=60, n_features=40, effect=0.5, balance=0.2), dict(correction="maxT")),
    (dict(n_samples=40, n_features=10, distribution="t3", offset=1e6), dict()),
    (dict(n_samples=12, n_features=10, distribution="discrete"), dict(statistic="welch_t")),
]


def gate(seeds):
    """Abort unless every engine reproduces the reference loop on the gate workloads."""
    result = equivalence_gate(GATE_WORKLOADS, seeds=seeds, n_permutations=299)
    print(f"gate: {len(GATE_WORKLOADS)} workloads x {len(seeds)} seeds x "
          f"{len(result['engines'])} engines: max |p diff| = {result['max_abs_p_diff']:g}, "
          f"max stat rel diff = {result['max_rel_stat_diff']:.2g} -> "
          f"{'PASS' if result['passed'] else 'FAIL'}")
    if not result["passed"]:
        sys.exit("equivalence gate failed: nothing timed")
    return result


def null_data(n, p, seed=0):
    X, y = make_two_group_data(n, p, random_state=seed)
    return X, y


def peak_extra_mib(fn):
    """Largest memory block held at once by ``fn()`` beyond what existed before, in MiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def timed(fn, repeats):
    result = time_call(fn, repeats=repeats)
    result.pop("result")
    return result


def scipy_mean_diff(X, y, n_resamples, batch=None):
    return stats.permutation_test(
        (X[y == 1], X[y == 0]), lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
        vectorized=True, axis=0, n_resamples=n_resamples, batch=batch, random_state=0)


def headline_scipy(n, p, R, quick):
    """skfast vs scipy.stats.permutation_test and ttest_ind(PermutationMethod) on one data set.

    skfast runs before and after each scipy call, so both see the same load;
    the ratio uses skfast's median over all those runs.
    """
    X, y = null_data(n, p)
    out = {"n_samples": n, "n_features": p, "n_permutations": R}
    ours = PermutationTest(R, random_state=0, engine="numpy")
    welch = PermutationTest(R, statistic="welch_t", random_state=0, engine="numpy")
    auto = PermutationTest(R, random_state=0)
    out["skfast_auto"] = timed(lambda: auto.fit(X, y), repeats=5)
    out["skfast_auto"]["engine"] = auto.engine_
    out["skfast_numpy_peak_extra_mib"] = peak_extra_mib(lambda: ours.fit(X, y))
    ours_walls, welch_walls, gemm_walls = [], [], []
    # The yardstick: one bare (R, n) @ (n, p) product, no statistic, no stream.
    contrast = np.random.default_rng(0).random((R, n))

    def ours_around(call):
        for _ in range(3):
            ours_walls.append(_wall(lambda: ours.fit(X, y)))
            gemm_walls.append(_wall(lambda: contrast @ X))
        seconds = _wall(call)
        for _ in range(3):
            ours_walls.append(_wall(lambda: ours.fit(X, y)))
            gemm_walls.append(_wall(lambda: contrast @ X))
        return seconds

    started = time.perf_counter()
    out["scipy_default_s"] = ours_around(lambda: scipy_mean_diff(X, y, R))
    out["scipy_batch_s"] = {b: ours_around(lambda b=b: scipy_mean_diff(X, y, R, batch=b))
                            for b in (10, 50, 200)}
    # ttest_ind's default (one batch of all R resamples) needs several (R, n, p)
    # float64 temporaries, over 20 GiB here: it was killed for memory; 100 per batch.
    method = stats.PermutationMethod(n_resamples=R, batch=100, random_state=0)
    welch_walls.extend(_wall(lambda: welch.fit(X, y)) for _ in range(3))
    out["scipy_ttest_ind_welch_s"] = _wall(lambda: stats.ttest_ind(
        X[y == 1], X[y == 0], axis=0, equal_var=False, method=method))
    welch_walls.extend(_wall(lambda: welch.fit(X, y)) for _ in range(3))
    out["scipy_default_peak_extra_mib"] = None if quick else peak_extra_mib(
        lambda: scipy_mean_diff(X, y, R))
    out["scipy_seconds_spent"] = time.perf_counter() - started

    ours_wall, welch_wall = float(np.median(ours_walls)), float(np.median(welch_walls))
    out["skfast_numpy_walls_s"], out["skfast_numpy_welch_walls_s"] = ours_walls, welch_walls
    out["skfast_numpy_wall_s"], out["skfast_numpy_welch_wall_s"] = ours_wall, welch_wall
    out["bare_gemm_walls_s"], out["bare_gemm_wall_s"] = gemm_walls, float(np.median(gemm_walls))
    out["speedup_bare_gemm_vs_scipy_default"] = out["scipy_default_s"] / out["bare_gemm_wall_s"]
    out["speedup_vs_scipy_default"] = out["scipy_default_s"] / ours_wall
    out["speedup_vs_scipy_best_batch"] = min(out["scipy_batch_s"].values()) / ours_wall
    out["speedup_welch_vs_ttest_ind"] = out["scipy_ttest_ind_welch_s"] / welch_wall
    return out


def _wall(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def headline_gemm(n, p, R, repeats):
    """GFLOP/s of the numpy engine (2 n p R flops of W @ X) against the float64 GEMM peak.

    Other processes share this machine, so the peak is measured between the
    engine's runs, under the same load; the fraction is reported from the
    medians and from the best runs of both.
    """
    X, y = null_data(n, p)
    test = PermutationTest(R, random_state=0, engine="numpy")
    test.fit(X, y)
    flops = 2.0 * n * p * R
    walls, peaks = [], []
    for _ in range(repeats):
        peaks.append(gemm_peak_gflops())
        walls.append(_wall(lambda: test.fit(X, y)))
    peaks.append(gemm_peak_gflops())
    gflops_median = flops / float(np.median(walls)) / 1e9
    gflops_best = flops / min(walls) / 1e9
    return {"n_samples": n, "n_features": p, "n_permutations": R, "batch_size": test.batch_size_,
            "walls_s": walls, "gemm_peaks_gflops": peaks,
            "gflops_median": gflops_median, "gflops_best": gflops_best,
            "fraction_of_peak_median": gflops_median / float(np.median(peaks)),
            "fraction_of_peak_best": gflops_best / max(peaks),
            "peak_extra_mib": peak_extra_mib(lambda: test.fit(X, y))}


def grid(n, features, permutations, repeats):
    """Every engine on every (p, R) cell within budget; the winner per cell."""
    cells = []
    for p in features:
        X, y = null_data(n, p)
        for R in permutations:
            cell = {"n_features": p, "n_permutations": R, "engines": {}, "skipped": {}}
            work = float(n) * p * R
            for engine in ENGINES:
                predicted = work / ASSUMED_RATE[engine]
                # numpy is the baseline every cell keeps, however long it takes.
                if (engine == "reference" and (p > 100 or R > 1000)
                        or engine != "numpy" and predicted > CELL_BUDGET_S):
                    cell["skipped"][engine] = f"predicted {predicted:.0f} s > budget"
                    continue
                test = PermutationTest(R, random_state=0, engine=engine)
                if predicted > 5:  # one call: numpy compiles nothing
                    timing = time_call(lambda: test.fit(X, y), repeats=1, warmup=0)
                    timing.pop("result")
                else:
                    timing = timed(lambda: test.fit(X, y), repeats=repeats if predicted < 1 else 1)
                timing["gflops"] = 2.0 * work / timing["wall_s"] / 1e9
                cell["engines"][engine] = timing
            walls = {e: t["wall_s"] for e, t in cell["engines"].items() if e != "reference"}
            cell["winner"] = min(walls, key=walls.get)
            cell["auto"] = PermutationTest._engine_table.auto_rule(
                ENGINES, n_samples=n, n_features=p, n_permutations=R)
            print(f"  p={p:>6} R={R:>5}: " + ", ".join(
                f"{e} {t['wall_s']:.3f}s" for e, t in cell["engines"].items())
                + f" -> {cell['winner']} (auto: {cell['auto']})", flush=True)
            cells.append(cell)
    return cells


def plot(cells, features, permutations, path, n):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"numpy": "#4c72b0", "numba": "#dd8452", "jax": "#55a868", "reference": "#999999"}
    fig, ax = plt.subplots(figsize=(1.6 * len(features) + 2, 1.2 * len(permutations) + 1.5))
    for cell in cells:
        x, yv = features.index(cell["n_features"]), permutations.index(cell["n_permutations"])
        winner = cell["winner"]
        walls = {e: t["wall_s"] for e, t in cell["engines"].items() if e != "reference"}
        margin = (f"{sorted(walls.values())[1] / walls[winner]:.1f}x" if len(walls) > 1
                  else "others over budget")
        ax.add_patch(plt.Rectangle((x - 0.5, yv - 0.5), 1, 1, color=colours[winner], alpha=0.85))
        ax.text(x, yv, f"{winner}\n{walls[winner]:.3g} s\n{margin}",
                ha="center", va="center", fontsize=8, color="white")
    ax.set_xlim(-0.5, len(features) - 0.5)
    ax.set_ylim(-0.5, len(permutations) - 0.5)
    ax.set_xticks(range(len(features)), [f"{p:g}" for p in features])
    ax.set_yticks(range(len(permutations)), [f"{r:g}" for r in permutations])
    ax.set_xlabel("features p")
    ax.set_ylabel("permutations R")
    ax.set_title(f"PermutationTest decision map: fastest warm engine (CPU, n={n}), margin over "
                 "the runner-up\n(compilation excluded: jax's first call costs ~0.2 s more, "
                 "so auto leaves it to GPUs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cells, about a minute")
    parser.add_argument("--replot", action="store_true",
                        help="redraw the PNG from the existing JSON, time nothing")
    args = parser.parse_args(argv)
    if args.replot:
        name = "permutation_quick" if args.quick else "permutation"
        grid_result = json.loads((RESULTS_DIR / f"{name}.json").read_text())["grid"]
        plot(grid_result["cells"], grid_result["features"], grid_result["permutations"],
             RESULTS_DIR / f"{name}.png", grid_result["n_samples"])
        return
    quick = args.quick
    name = "permutation_quick" if quick else "permutation"
    started = time.perf_counter()
    info = machine_info()
    print(f"machine: {info['processor']}, {info['cores']} cores, BLAS "
          + ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']})" for b in info["blas"]))

    gate_result = gate(seeds=(0,) if quick else (0, 1))
    peak_before = gemm_peak_gflops()
    n = 500
    if quick:
        scipy_cell = headline_scipy(n, 200, 200, quick)
        gemm_cell = headline_gemm(n, 2000, 1000, repeats=2)
        features, permutations = [10, 100, 1000], [1000]
    else:
        scipy_cell = headline_scipy(n, 2000, 1000, quick)
        gemm_cell = headline_gemm(n, 20000, 10000, repeats=4)
        features, permutations = [10, 100, 1000, 10000, 100000], [1000, 3000, 10000]
    print(f"n={n} p={scipy_cell['n_features']} R={scipy_cell['n_permutations']}: skfast numpy "
          f"{scipy_cell['skfast_numpy_wall_s']:.4f} s, scipy permutation_test "
          f"{scipy_cell['scipy_default_s']:.2f} s (default batch) -> "
          f"{scipy_cell['speedup_vs_scipy_default']:.0f}x; best scipy batch -> "
          f"{scipy_cell['speedup_vs_scipy_best_batch']:.0f}x; Welch vs ttest_ind -> "
          f"{scipy_cell['speedup_welch_vs_ttest_ind']:.0f}x; a bare W @ X takes "
          f"{scipy_cell['bare_gemm_wall_s']:.4f} s "
          f"({scipy_cell['speedup_bare_gemm_vs_scipy_default']:.0f}x)", flush=True)
    print(f"n={n} p={gemm_cell['n_features']} R={gemm_cell['n_permutations']}: numpy engine "
          f"{gemm_cell['gflops_median']:.1f} GFLOP/s = "
          f"{100 * gemm_cell['fraction_of_peak_median']:.0f}% of the median interleaved GEMM "
          f"peak ({100 * gemm_cell['fraction_of_peak_best']:.0f}% best vs best)", flush=True)
    print("scaling grid:")
    cells = grid(n, features, permutations, repeats=1 if quick else 5)
    peak_after = gemm_peak_gflops()
    payload = {
        "gate": gate_result,
        "gemm_peak_gflops": {"before": peak_before, "after": peak_after},
        "headline_vs_scipy": scipy_cell,
        "headline_gemm": gemm_cell,
        "grid": {"n_samples": n, "features": features, "permutations": permutations,
                 "cell_budget_s": CELL_BUDGET_S, "cells": cells},
        "targets": {
            "speedup_vs_scipy_at_500x2000x1000": None if quick else scipy_cell["speedup_vs_scipy_default"],
            "speedup_target": 300,
            "fraction_of_peak_at_500x20000x10000": None if quick else gemm_cell["fraction_of_peak_median"],
            "fraction_target": 0.70,
        },
        "total_seconds": time.perf_counter() - started,
    }
    path = write_results(name, payload)
    plot(cells, features, permutations, RESULTS_DIR / f"{name}.png", n)
    print(f"GEMM peak before/after: {peak_before:.1f}/{peak_after:.1f} GFLOP/s; "
          f"wrote {path} and {name}.png in {payload['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
