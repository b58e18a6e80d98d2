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
   10^4, every compiled engine and ``engine="auto"`` (the reference on the
   smallest cells only; cells predicted to exceed a time budget are skipped
   and listed), and a PNG decision map of the winning engine per (p, R) cell.

Times are warm medians (the first call, JIT compilation included, is timed
apart as ``first_s``); peak extra memory is the tracemalloc peak of one call.
Run it with ``python -m benchmarks --only permutation [--quick]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ._timing import gemm_peak_gflops, time_call
from ._common import NoProgress, auto_entry, comparison_row, format_table, peak_extra_mib, timed_call

# Assumed sustained rates (multiply-adds per second) used only to skip cells
# that would not finish within CELL_BUDGET_S; the measured rates are reported.
ASSUMED_RATE = {"reference": 2e8, "numpy": 2e10, "numba": 2.5e9, "jax": 1e10}
CELL_BUDGET_S = 12.0

N_SAMPLES = 500
#: mode -> (scipy headline (n, p, R), GEMM headline (n, p, R, repeats), grid p, grid R,
#: grid repeats, gate seeds)
PLANS = {
    "full": ((N_SAMPLES, 2000, 1000), (N_SAMPLES, 20000, 10000, 4),
             [10, 100, 1000, 10000, 100000], [1000, 3000, 10000], 5, (0, 1)),
    "quick": ((N_SAMPLES, 200, 200), (N_SAMPLES, 2000, 1000, 2), [10, 100, 1000], [1000], 1, (0,)),
    "smoke": ((200, 50, 100), (200, 500, 200, 1), [10, 300], [200], 1, (0,)),
}
PEER = "scipy"


def _engines():
    from skfast.permutation import PermutationTest

    return PermutationTest._engine_table.available()


def gate_workloads():
    from skfast.permutation._demo import DEMO_WORKLOADS

    return DEMO_WORKLOADS + [
        (dict(n_samples=60, n_features=40, effect=0.5, balance=0.2), dict(correction="maxT")),
        (dict(n_samples=40, n_features=10, distribution="t3", offset=1e6), dict()),
        (dict(n_samples=12, n_features=10, distribution="discrete"), dict(statistic="welch_t")),
    ]


def gate(seeds, log=print):
    """Abort unless every engine reproduces the reference loop on the gate workloads."""
    from skfast.permutation._demo import equivalence_gate

    workloads = gate_workloads()
    result = equivalence_gate(workloads, seeds=seeds, n_permutations=299)
    log(f"gate: {len(workloads)} workloads x {len(seeds)} seeds x "
        f"{len(result['engines'])} engines: max |p diff| = {result['max_abs_p_diff']:g}, "
        f"max stat rel diff = {result['max_rel_stat_diff']:.2g} -> "
        f"{'PASS' if result['passed'] else 'FAIL'}")
    if not result["passed"]:
        sys.exit("equivalence gate failed: nothing timed")
    return result


def null_data(n, p, seed=0):
    from skfast.datasets._permutation import make_two_group_data

    X, y = make_two_group_data(n, p, random_state=seed)
    return X, y


def timed(fn, repeats):
    result = time_call(fn, repeats=repeats)
    result.pop("result")
    return result


def scipy_mean_diff(X, y, n_resamples, batch=None):
    from scipy import stats

    return stats.permutation_test(
        (X[y == 1], X[y == 0]), lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
        vectorized=True, axis=0, n_resamples=n_resamples, batch=batch, random_state=0)


def headline_scipy(n, p, R, quick, progress=None):
    """skfast vs scipy.stats.permutation_test and ttest_ind(PermutationMethod) on one data set.

    skfast runs before and after each scipy call, so both see the same load;
    the ratio uses skfast's median over all those runs.  Every call's CPU
    time is kept beside its wall time (``*_cpu_s``).
    """
    from scipy import stats

    from skfast.permutation import PermutationTest

    progress = progress or NoProgress()
    X, y = null_data(n, p)
    out = {"n_samples": n, "n_features": p, "n_permutations": R}
    ours = PermutationTest(R, random_state=0, engine="numpy")
    welch = PermutationTest(R, statistic="welch_t", random_state=0, engine="numpy")
    auto = PermutationTest(R, random_state=0)
    out["skfast_auto"] = timed(lambda: auto.fit(X, y), repeats=5)
    out["skfast_auto"]["engine"] = auto.engine_
    out["skfast_numpy_peak_extra_mib"] = peak_extra_mib(lambda: ours.fit(X, y))
    ours_walls, welch_walls, gemm_walls = [], [], []
    ours_cpus, welch_cpus = [], []
    # The yardstick: one bare (R, n) @ (n, p) product, no statistic, no stream.
    contrast = np.random.default_rng(0).random((R, n))

    def ours_fit():
        wall, cpu = timed_call(lambda: ours.fit(X, y))
        ours_walls.append(wall)
        ours_cpus.append(cpu)

    def welch_fit():
        wall, cpu = timed_call(lambda: welch.fit(X, y))
        welch_walls.append(wall)
        welch_cpus.append(cpu)

    def ours_around(call):
        for _ in range(3):
            ours_fit()
            gemm_walls.append(_wall(lambda: contrast @ X))
        seconds = timed_call(call)
        for _ in range(3):
            ours_fit()
            gemm_walls.append(_wall(lambda: contrast @ X))
        return seconds

    started = time.perf_counter()
    progress.note(f"p={p} R={R}: scipy.stats.permutation_test")
    out["scipy_default_s"], out["scipy_default_cpu_s"] = ours_around(lambda: scipy_mean_diff(X, y, R))
    progress.note(f"p={p} R={R}: scipy.stats.permutation_test(batch=...)")
    batch = {b: ours_around(lambda b=b: scipy_mean_diff(X, y, R, batch=b)) for b in (10, 50, 200)}
    out["scipy_batch_s"] = {b: wall for b, (wall, _) in batch.items()}
    out["scipy_batch_cpu_s"] = {b: cpu for b, (_, cpu) in batch.items()}
    # ttest_ind's default (one batch of all R resamples) needs several (R, n, p)
    # float64 temporaries, over 20 GiB here: it was killed for memory; 100 per batch.
    progress.note(f"p={p} R={R}: scipy.stats.ttest_ind(method=PermutationMethod)")
    method = stats.PermutationMethod(n_resamples=R, batch=100, random_state=0)
    for _ in range(3):
        welch_fit()
    out["scipy_ttest_ind_welch_s"], out["scipy_ttest_ind_welch_cpu_s"] = timed_call(
        lambda: stats.ttest_ind(X[y == 1], X[y == 0], axis=0, equal_var=False, method=method))
    for _ in range(3):
        welch_fit()
    out["scipy_default_peak_extra_mib"] = None if quick else peak_extra_mib(
        lambda: scipy_mean_diff(X, y, R))
    out["scipy_seconds_spent"] = time.perf_counter() - started

    ours_wall, welch_wall = float(np.median(ours_walls)), float(np.median(welch_walls))
    out["skfast_numpy_walls_s"], out["skfast_numpy_welch_walls_s"] = ours_walls, welch_walls
    out["skfast_numpy_wall_s"], out["skfast_numpy_welch_wall_s"] = ours_wall, welch_wall
    out["skfast_numpy_cpu_s"] = float(np.median(ours_cpus))
    out["skfast_numpy_welch_cpu_s"] = float(np.median(welch_cpus))
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
    from skfast.permutation import PermutationTest

    X, y = null_data(n, p)
    test = PermutationTest(R, random_state=0, engine="numpy")
    test.fit(X, y)
    flops = 2.0 * n * p * R
    walls, cpus, peaks, peaks32 = [], [], [], []
    for _ in range(repeats):
        peaks.append(gemm_peak_gflops())
        peaks32.append(gemm_peak_gflops(dtype=np.float32))
        wall, cpu = timed_call(lambda: test.fit(X, y))
        walls.append(wall)
        cpus.append(cpu)
    peaks.append(gemm_peak_gflops())
    peaks32.append(gemm_peak_gflops(dtype=np.float32))
    gflops_median = flops / float(np.median(walls)) / 1e9
    gflops_best = flops / min(walls) / 1e9
    # The difference of means runs its products in float32, checked to float64:
    # the float32 peak is the ceiling of the product it actually runs.
    return {"n_samples": n, "n_features": p, "n_permutations": R, "batch_size": test.batch_size_,
            "walls_s": walls, "cpus_s": cpus, "gemm_peaks_gflops": peaks,
            "gemm_peaks_float32_gflops": peaks32,
            "gflops_median": gflops_median, "gflops_best": gflops_best,
            "fraction_of_peak_median": gflops_median / float(np.median(peaks)),
            "fraction_of_peak_best": gflops_best / max(peaks),
            "fraction_of_float32_peak_median": gflops_median / float(np.median(peaks32)),
            "peak_extra_mib": peak_extra_mib(lambda: test.fit(X, y))}


def _time_cell(test, X, y, predicted, repeats):
    if predicted > 5:  # one call: numpy compiles nothing
        timing = time_call(lambda: test.fit(X, y), repeats=1, warmup=0)
        timing.pop("result")
    else:
        timing = timed(lambda: test.fit(X, y), repeats=repeats if predicted < 1 else 1)
    return timing


def grid(n, features, permutations, repeats, progress=None):
    """Every engine and ``engine="auto"`` on every (p, R) cell within budget; the winner per cell."""
    from skfast.permutation import PermutationTest

    progress = progress or NoProgress()
    engines = _engines()
    cells = []
    for p in features:
        X, y = null_data(n, p)
        for R in permutations:
            cell = {"n_features": p, "n_permutations": R, "engines": {}, "skipped": {}}
            work = float(n) * p * R
            for engine in engines:
                predicted = work / ASSUMED_RATE[engine]
                # numpy is the baseline every cell keeps, however long it takes.
                if (engine == "reference" and (p > 100 or R > 1000)
                        or engine != "numpy" and predicted > CELL_BUDGET_S):
                    cell["skipped"][engine] = f"predicted {predicted:.0f} s > budget"
                    continue
                progress.note(f"p={p} R={R}: {engine}")
                test = PermutationTest(R, random_state=0, engine=engine)
                timing = _time_cell(test, X, y, predicted, repeats)
                timing["gflops"] = 2.0 * work / timing["wall_s"] / 1e9
                cell["engines"][engine] = timing
            walls = {e: t["wall_s"] for e, t in cell["engines"].items() if e != "reference"}
            cell["winner"] = min(walls, key=walls.get)
            cell["auto"] = PermutationTest._engine_table.auto_rule(
                engines, n_samples=n, n_features=p, n_permutations=R)
            # engine="auto" itself, timed as the engine it resolves to is timed
            progress.note(f"p={p} R={R}: auto")
            test = PermutationTest(R, random_state=0)
            timing = _time_cell(test, X, y, work / ASSUMED_RATE[cell["auto"]], repeats)
            timing["gflops"] = 2.0 * work / timing["wall_s"] / 1e9
            timing["engine"] = test.engine_
            cell["auto_timing"] = timing
            # Head to head: engine="auto" and the cell's winner alternately, so
            # that both see the same machine (single runs of big cells drift).
            winner = PermutationTest(R, random_state=0, engine=cell["winner"])
            pairs = 9 if timing["wall_s"] < 0.2 else 5 if timing["wall_s"] < 2.5 else 3
            auto_walls, winner_walls = [], []
            for _ in range(pairs):
                auto_walls.append(timed_call(lambda: test.fit(X, y))[0])
                winner_walls.append(timed_call(lambda: winner.fit(X, y))[0])
            cell["auto_head_to_head"] = {"engine": cell["winner"], "auto_walls_s": auto_walls,
                                         "winner_walls_s": winner_walls}
            progress.log(f"  p={p:>6} R={R:>5}: " + ", ".join(
                f"{e} {t['wall_s']:.3f}s" for e, t in cell["engines"].items())
                + f" -> {cell['winner']} (auto: {cell['auto']} {timing['wall_s']:.3f}s)")
            progress.step()
            cells.append(cell)
    return cells


def plot_cells(cells, features, permutations, path, n, auto_ratios=None):
    """The decision map; ``auto_ratios``: (p, R) -> auto / fastest, as the auto table has it."""
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
        ratio = (auto_ratios or {}).get((cell["n_features"], cell["n_permutations"]))
        auto_text = f"\nauto {ratio:.2f}x" if ratio is not None else ""
        ax.add_patch(plt.Rectangle((x - 0.5, yv - 0.5), 1, 1, color=colours[winner], alpha=0.85))
        ax.text(x, yv, f"{winner}\n{walls[winner]:.3g} s\n{margin}{auto_text}",
                ha="center", va="center", fontsize=8, color="white")
    ax.set_xlim(-0.5, len(features) - 0.5)
    ax.set_ylim(-0.5, len(permutations) - 0.5)
    ax.set_xticks(range(len(features)), [f"{p:g}" for p in features])
    ax.set_yticks(range(len(permutations)), [f"{r:g}" for r in permutations])
    ax.set_xlabel("features p")
    ax.set_ylabel("permutations R")
    ax.set_title(f"PermutationTest decision map: fastest warm engine (CPU, n={n}), margin over "
                 "the runner-up,\nauto / fastest as in the auto table (compilation excluded: "
                 "jax's first call costs ~0.2 s more, so auto leaves it to GPUs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot(section, path):
    """The decision map: the winning engine per (p, R) cell."""
    g = section["grid"]
    ratios = {(e["shape"]["n_features"], e["shape"]["n_permutations"]): e["ratio"]
              for e in auto_vs_fastest(section)}
    plot_cells(g["cells"], g["features"], g["permutations"], path, g["n_samples"], ratios)


def n_steps(mode):
    """Progress steps of :func:`run`: gate, two headline cells, one per grid cell."""
    _, _, features, permutations, _, _ = PLANS[mode]
    return 3 + len(features) * len(permutations)


def run(mode="full", *, progress=None):
    """Gate, then the headline cells and the grid of ``mode``; return the results section."""
    progress = progress or NoProgress()
    progress.section("permutation", n_steps(mode))
    quick = mode != "full"
    started = time.perf_counter()
    scipy_shape, gemm_shape, features, permutations, repeats, seeds = PLANS[mode]
    progress.note("equivalence gate")
    gate_result = gate(seeds=seeds, log=progress.log)
    progress.step("float64 GEMM peak")
    peak_before = gemm_peak_gflops()
    scipy_cell = headline_scipy(*scipy_shape, quick, progress=progress)
    n, p, R = scipy_shape
    progress.log(
        f"n={n} p={p} R={R}: skfast numpy "
        f"{scipy_cell['skfast_numpy_wall_s']:.4f} s, scipy permutation_test "
        f"{scipy_cell['scipy_default_s']:.2f} s (default batch) -> "
        f"{scipy_cell['speedup_vs_scipy_default']:.0f}x; best scipy batch -> "
        f"{scipy_cell['speedup_vs_scipy_best_batch']:.0f}x; Welch vs ttest_ind -> "
        f"{scipy_cell['speedup_welch_vs_ttest_ind']:.0f}x; a bare W @ X takes "
        f"{scipy_cell['bare_gemm_wall_s']:.4f} s "
        f"({scipy_cell['speedup_bare_gemm_vs_scipy_default']:.0f}x)")
    progress.step(f"GEMM headline n={gemm_shape[0]} p={gemm_shape[1]} R={gemm_shape[2]}")
    gemm_cell = headline_gemm(*gemm_shape)
    progress.log(
        f"n={gemm_cell['n_samples']} p={gemm_cell['n_features']} R={gemm_cell['n_permutations']}: "
        f"numpy engine {gemm_cell['gflops_median']:.1f} GFLOP/s = "
        f"{100 * gemm_cell['fraction_of_peak_median']:.0f}% of the median interleaved float64 "
        f"GEMM peak ({100 * gemm_cell['fraction_of_peak_best']:.0f}% best vs best), "
        f"{100 * gemm_cell['fraction_of_float32_peak_median']:.0f}% of the float32 peak")
    progress.step("scaling grid")
    progress.log("scaling grid:")
    cells = grid(scipy_shape[0], features, permutations, repeats=repeats, progress=progress)
    peak_after = gemm_peak_gflops()
    full = mode == "full"
    return {
        "mode": mode,
        "gate": gate_result,
        "gemm_peak_gflops": {"before": peak_before, "after": peak_after},
        "headline_vs_scipy": scipy_cell,
        "headline_gemm": gemm_cell,
        "grid": {"n_samples": scipy_shape[0], "features": features, "permutations": permutations,
                 "cell_budget_s": CELL_BUDGET_S, "cells": cells},
        "targets": {
            "speedup_vs_scipy_at_500x2000x1000": scipy_cell["speedup_vs_scipy_default"] if full else None,
            "speedup_target": 300,
            "fraction_of_peak_at_500x20000x10000": gemm_cell["fraction_of_peak_median"] if full else None,
            "fraction_target": 0.70,
        },
        "total_seconds": time.perf_counter() - started,
    }


def _peak(section):
    peaks = section["gemm_peak_gflops"]
    return float(np.median([peaks["before"], peaks["after"]]))


def _shape_label(n, p, R):
    return f"n={n} p={p:,} R={R:,}"


def auto_vs_fastest(section):
    """engine="auto" against the fastest engine per grid cell (reference excluded).

    Results written before the report timed no ``engine="auto"`` call; their
    entries use the time of the engine the rule picks (``auto_timed`` False).
    """
    n = section["grid"]["n_samples"]
    entries = []
    for cell in section["grid"]["cells"]:
        walls = {e: t["wall_s"] for e, t in cell["engines"].items() if e != "reference"}
        timing = cell.get("auto_timing")
        duel = cell.get("auto_head_to_head")
        if duel is not None:
            # auto against the winner, timed alternately in the same run: the
            # median of the paired ratios, which the machine's drift cancels out of.
            winner_s = float(np.median(duel["winner_walls_s"]))
            ratio = float(np.median(np.divide(duel["auto_walls_s"], duel["winner_walls_s"])))
            engine, seconds, timed_auto = timing["engine"], ratio * winner_s, True
            walls = {duel["engine"]: winner_s}
        elif timing is not None:
            engine, seconds, timed_auto = timing["engine"], timing["wall_s"], True
        elif cell["auto"] in walls:
            engine, seconds, timed_auto = cell["auto"], walls[cell["auto"]], False
        else:
            continue
        p, R = cell["n_features"], cell["n_permutations"]
        entries.append(auto_entry("permutation", {"n_samples": n, "n_features": p,
                                                  "n_permutations": R},
                                  _shape_label(n, p, R), engine, seconds, walls, timed_auto))
    return entries


def comparison_rows(section):
    """The rows of the report's PermutationTest table.

    The headline cell against scipy (speed-ups vs ``scipy.stats.permutation_test``;
    the Welch row vs ``ttest_ind``), the GEMM headline cell, then every grid
    cell (scipy is not run there).  Throughput is permutations x features / s;
    every row does ``2 n p R`` flops of ``W @ X``.
    """
    peak = _peak(section)
    rows = []
    h = section["headline_vs_scipy"]
    n, p, R = h["n_samples"], h["n_features"], h["n_permutations"]
    label, work = _shape_label(n, p, R), float(p) * R
    flops = 2.0 * n * p * R

    def row(engine, wall, cpu=None, speedup=None, compile_s=None, gemm=True):
        return comparison_row(label, engine, wall, cpu, throughput=work / wall, speedup=speedup,
                              gemm_fraction=flops / wall / 1e9 / peak if gemm else None,
                              compile_s=compile_s)

    scipy_s = h["scipy_default_s"]
    auto = h["skfast_auto"]
    rows.append(row(f"auto ({auto['engine']})", auto["wall_s"], auto["cpu_s"], scipy_s / auto["wall_s"],
                    _compile(auto)))
    rows.append(row("numpy", h["skfast_numpy_wall_s"], h.get("skfast_numpy_cpu_s"),
                    h["speedup_vs_scipy_default"]))
    rows.append(row("scipy permutation_test", scipy_s, h.get("scipy_default_cpu_s"), 1.0, gemm=False))
    best = min(h["scipy_batch_s"], key=h["scipy_batch_s"].get)
    rows.append(row(f"scipy permutation_test batch={best}", h["scipy_batch_s"][best],
                    (h.get("scipy_batch_cpu_s") or {}).get(best), scipy_s / h["scipy_batch_s"][best],
                    gemm=False))
    rows.append(row("numpy welch_t (vs ttest_ind)", h["skfast_numpy_welch_wall_s"],
                    h.get("skfast_numpy_welch_cpu_s"), h["speedup_welch_vs_ttest_ind"], gemm=False))
    rows.append(row("scipy ttest_ind welch", h["scipy_ttest_ind_welch_s"],
                    h.get("scipy_ttest_ind_welch_cpu_s"), 1.0, gemm=False))

    g = section["headline_gemm"]
    n, p, R = g["n_samples"], g["n_features"], g["n_permutations"]
    wall = float(np.median(g["walls_s"]))
    cpu = float(np.median(g["cpus_s"])) if "cpus_s" in g else None
    rows.append(comparison_row(_shape_label(n, p, R), "numpy", wall, cpu,
                               throughput=float(p) * R / wall,
                               gemm_fraction=g["fraction_of_peak_median"]))

    n = section["grid"]["n_samples"]
    for cell in section["grid"]["cells"]:
        p, R = cell["n_features"], cell["n_permutations"]
        label, work, flops = _shape_label(n, p, R), float(p) * R, 2.0 * n * p * R
        timings = list(cell["engines"].items())
        if cell.get("auto_timing"):
            timings.append((f"auto ({cell['auto_timing']['engine']})", cell["auto_timing"]))
        for engine, t in timings:
            rows.append(comparison_row(label, engine, t["wall_s"], t.get("cpu_s"),
                                       throughput=work / t["wall_s"],
                                       gemm_fraction=flops / t["wall_s"] / 1e9 / peak,
                                       compile_s=_compile(t)))
    return rows


def _compile(timing):
    first = timing.get("first_s")
    return None if first is None else max(0.0, first - timing["wall_s"])


def report(section):
    """The PermutationTest comparison table as text."""
    return format_table(
        f"PermutationTest (n samples, p features, R permutations; difference of means unless "
        f"noted; float64 GEMM peak {_peak(section):.0f} GFLOP/s)",
        comparison_rows(section), "perm x feat/s", PEER)
