"""HMASweep benchmark: the paper's Table 1 on this machine, and past it.

Workload: the paper's default sweep, 80 HMA lengths over [6, 200] on 150,000
GBM bars (``make_gbm_prices()``).  Every rung is a plain ``HMASweep`` fit:

* M0 pandas, M1 numpy and M2 numba run with ``n_threads=1``, which pins BLAS
  to one thread, so the single-core rungs are single-core;
* M3 is ``numba_parallel`` (prange threads), M4 the M2 kernel over a joblib
  process pool (``n_jobs``; workers are warmed before timing);
* then the rungs beyond the paper: jax, the feature cache, the O(1) sliding
  WMA and their combination (``fast``), all timed cold (the feature cache is
  cleared before every call); the cache reused across calls is one extra,
  separately labelled row.  ``engine="auto"`` is timed cold on the same
  workload, apart from the ladder.

The gate: every rung's (PnL, trade count) on all combos must match M0's
(trade counts exactly, PnL within 1e-6 absolute, zero relative), checked on
each rung's first (compiling) call before it is timed; a failure aborts the
script before anything is written.  JIT compilation is timed
separately (``compile_s``) and excluded; wall time is the best of
``--repeats`` calls (the paper's estimator), the median is kept too.  M0 runs
once by default (``--m0-repeats``): it takes minutes, and the paper itself
notes its spread is small.  The script also times the feature/event-loop
split of the M2 kernel, computes the paper's arithmetic-intensity bound, and
times the candidate engines of ``engine="auto"`` and auto itself on
contrasting shapes (each gated on M2's outputs).

Run it with ``python -m benchmarks --only hma [--quick]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ._timing import time_call
from ._common import NoProgress, auto_entry, comparison_row, format_table, plain_log_axis

#: Issue 4's target on the 2-core machine: twice the paper's best (340.9 on 12 cores).
TARGET_COMBOS_PER_S = 680
#: The paper's best rung: combos/s on its 12-core laptop.
PAPER_BEST_COMBOS_PER_S = 340.9

#: mode -> (n_bars, every k-th of the 80 default lengths, repeats)
PLANS = {"full": (150_000, 1, None), "quick": (20_000, 5, 1), "smoke": (3_000, 20, 1)}

AUTO_SHAPES = [  # (n_bars, n_assets, n_combos): the shapes _auto_rule separates
    (500, 1, 3),
    (150_000, 1, 80),
    (150_000, 2, 80),
    (20_000, 40, 2),
    (20_000, 8, 16),
]
SMOKE_AUTO_SHAPES = [(500, 1, 3), (3_000, 4, 2), (3_000, 1, 16)]
#: The compiled engines timed on the auto shapes (pandas, numpy and jax are
#: several times slower than these on every ladder shape).
AUTO_CANDIDATES = ("numba", "numba_parallel", "cached", "sliding", "fast")

PEER = "M0"


def _cores():
    from skfast._engines import cpu_count

    return cpu_count()


def rungs():
    """(label, description, estimator, parallelism, cold-cache) of every timed rung."""
    from skfast.backtest import FeatureCache, HMASweep

    cores = _cores()
    single = dict(n_threads=1)
    every = dict(n_threads=cores)
    table = HMASweep._engine_table
    listed = [
        ("M0", "pandas rolling().apply() + Python loop", dict(engine="pandas", **single), "1 core"),
        ("M1", "numpy sliding-window GEMV + vectorized reducer", dict(engine="numpy", **single), "1 core"),
        ("M2", "numba njit WMA + njit event loop", dict(engine="numba", **single), "1 thread"),
        ("M3", "M2 kernel, prange across combos", dict(engine="numba_parallel", **every),
         f"{cores} threads"),
        ("M4", "M2 kernel, joblib process pool across combos",
         dict(engine="numba", n_jobs=cores, n_threads=1), f"{cores} processes"),
        ("jax", "one batched tensor program (XLA CPU)", dict(engine="jax", **every),
         f"XLA, {cores} cores"),
        ("cache", "M3 + distinct raw WMAs once per grid", dict(engine="cached", **every),
         f"{cores} threads"),
        ("O(1) WMA", "M3 + sliding WMA (re-anchored sums)", dict(engine="sliding", **every),
         f"{cores} threads"),
        ("best 1T", "cache + sliding WMA + fused pass, one thread", dict(engine="fast", **single),
         "1 thread"),
        ("best", "cache + sliding WMA + fused pass", dict(engine="fast", **every),
         f"{cores} threads"),
        ("best, warm cache", "best, a FeatureCache reused from the previous call",
         dict(engine="fast", feature_cache=FeatureCache(), **every), f"{cores} threads"),
    ]
    out = []
    for label, description, params, parallelism in listed:
        if params["engine"] in table.available():
            cold = label != "best, warm cache"
            out.append((label, description, HMASweep(**params), parallelism, cold))
    return out


def fitter(estimator, X, cold):
    """``estimator.fit(X)``; cold: its feature store (if any) emptied first."""
    def fit():
        if cold and estimator.feature_cache is not None:
            estimator.feature_cache.clear()
        return estimator.fit(X)
    return fit


def snapshot(fitted):
    """The gated attributes of a fit, copied: the estimator is fitted again when timed."""
    from types import SimpleNamespace

    from skfast.backtest import HMASweep

    spec = HMASweep._engine_table.gate
    return SimpleNamespace(**{name: np.copy(getattr(fitted, name))
                              for name in spec.exact + spec.close})


def gate(reference, candidate, label):
    """Abort unless ``candidate`` passes HMASweep's gate against ``reference``; max |dPnL|."""
    from skfast.backtest import HMASweep

    problems = HMASweep._engine_table.gate.mismatches(reference, candidate)
    if problems:
        sys.exit(f"GATE FAILED for {label}: " + "; ".join(problems))
    return float(np.max(np.abs(reference.pnl_ - candidate.pnl_)))


def feature_loop_split(X, lengths, repeats):
    """Share of the M2 kernel's time spent in the bar loop vs the WMA features.

    The loop is timed alone on precomputed features (so nothing else hides
    in it) and compared with the whole single-thread kernel; the features
    are the rest.
    """
    from skfast.backtest import _numba

    series = np.ascontiguousarray(X[:, 0])
    windows, starts, bounds, _, _ = _numba.plan(series[None, :], lengths)
    features = [_numba.features(series, int(length)) for length in lengths]

    def loops_only():
        for (hma, hma3), w, start, bound in zip(features, windows, starts, bounds[:, 0]):
            _numba.event_loop(series, hma, hma3, w, start, 0.09, bound)

    def whole_kernel():
        return _numba.sweep(series[None, :], lengths, 0.09)

    loop = min(time_call(loops_only, repeats)["wall_all"])
    total = min(time_call(whole_kernel, repeats)["wall_all"])
    return {"kernel_s": total, "loop_s": loop, "features_s": total - loop,
            "feature_share": 1.0 - loop / total, "loop_share": loop / total}


def auto_shapes(mode):
    if mode == "smoke":
        return SMOKE_AUTO_SHAPES
    return [s for s in AUTO_SHAPES if s[0] <= 20_000] if mode == "quick" else AUTO_SHAPES


def auto_rule_evidence(repeats, mode, progress=None):
    """Wall time of the candidate engines of ``engine="auto"`` and of auto itself on contrasting shapes.

    Every engine's first (compiling) call must reproduce the outputs of M2
    (``numba``, gated on M0 in the ladder) before it is timed; each time is
    the best of ``repeats`` cold calls (feature cache cleared).
    """
    from skfast.backtest import HMASweep
    from skfast.backtest._grid import DEFAULT_LENGTHS
    from skfast.datasets import make_gbm_prices

    progress = progress or NoProgress()
    cores = _cores()
    available = HMASweep._engine_table.available()
    engines = [e for e in AUTO_CANDIDATES if e in available]
    rows = []
    for n_bars, n_assets, n_combos in auto_shapes(mode):
        X = make_gbm_prices(n_bars, n_assets=n_assets, random_state=1).reshape(n_bars, n_assets)
        lengths = DEFAULT_LENGTHS[np.linspace(0, 79, n_combos).round().astype(int)]
        row = {"n_bars": n_bars, "n_assets": n_assets, "n_combos": n_combos,
               "engines": engines, "cpu_s": {}}
        reference = None
        for engine in engines + ["auto"]:
            progress.note(f"auto shape {n_bars:,} x {n_assets} x {n_combos}: {engine}")
            params = dict(n_threads=cores) if engine != "auto" else {}
            estimator = HMASweep(lengths=lengths, engine=engine, **params)
            fit = fitter(estimator, X, cold=True)
            fitted = fit()
            if reference is None:
                reference = snapshot(fitted)
            gate(reference, fitted, f"{engine} on {n_bars} x {n_assets} x {n_combos}")
            timing = time_call(fit, repeats, warmup=0)
            seconds = min(timing["wall_all"])
            if engine == "auto":
                row["auto"], row["auto_s"] = fitted.engine_, seconds
                row["auto_cpu_s"] = timing["cpu_s"]
            else:
                row[engine], row["cpu_s"][engine] = seconds, timing["cpu_s"]
        row["fastest"] = min(engines, key=row.get)
        rows.append(row)
        progress.log(f"auto rule {n_bars:>7} bars x {n_assets:>2} assets x {n_combos:>2} combos: "
                     + ", ".join(f"{e} {row[e]:.4f} s" for e in engines)
                     + f" -> auto picks {row['auto']} ({row['auto_s']:.4f} s)")
        progress.step()
    return rows


def arithmetic_intensity(lengths, n_bars):
    """The paper's GPU-favourable bound: 2p FLOP per bar over 8 bytes per bar streamed."""
    from skfast.backtest._grid import FULL, HALF, HALF_Q, Q, THIRD_Q, hma_windows

    w = hma_windows(lengths)
    distinct = np.stack([w[:, c] for c in (HALF, FULL, 2, THIRD_Q, HALF_Q)], axis=1)
    flops_distinct = 2.0 * distinct.sum() * n_bars
    flops_issued = flops_distinct + 2.0 * w[:, Q].sum() * n_bars * 2  # r(q): raw again + outer
    flops_distinct += 2.0 * w[:, Q].sum() * n_bars  # the outer HMA3 WMA
    bytes_distinct = 6 * 8.0 * n_bars * len(lengths)
    bytes_issued = 7 * 8.0 * n_bars * len(lengths)
    return {"gflop": flops_distinct / 1e9, "mb": bytes_distinct / 1e6,
            "intensity": flops_distinct / bytes_distinct,
            "intensity_as_executed": flops_issued / bytes_issued}


def chart(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the engine= value (and its n_threads / n_jobs) a user would pass, rung in brackets
    labels = [_engine_label(r) for r in rows][::-1]
    rates = [r["combos_per_s"] for r in rows][::-1]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.4))
    bars = ax.barh(labels, rates, color=["#888" if r["rung"].startswith("M") else "#2a6" for r in rows][::-1])
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set_xlabel("combos per second (log scale, higher is better)")
    ax.set_title(title, fontsize=10, wrap=True)
    for bar, row in zip(bars, rows[::-1]):
        ax.text(bar.get_width() * 1.05, bar.get_y() + bar.get_height() / 2,
                f"{row['wall_s']:.3g} s, {row['speedup']:.0f}x", va="center", fontsize=8)
    ax.axvline(TARGET_COMBOS_PER_S, color="#c33", linestyle="--", linewidth=1)
    ax.text(TARGET_COMBOS_PER_S, -0.9, f"target {TARGET_COMBOS_PER_S} combos/s", color="#c33",
            fontsize=8, ha="center")
    ax.set_xlim(right=max(rates) * 8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _engine_label(row):
    settings = [f"n_jobs={row['n_jobs']}"] if row.get("n_jobs") not in (None, 1) else []
    if row.get("n_threads") == 1:
        settings.append("n_threads=1")
    call = f"engine={row['engine']!r}" + "".join(f", {s}" for s in settings)
    return f"{call}  [{row['rung']}]"


def best_cold(section):
    """The fastest cold rung (the warm-cache row reuses the previous call's features)."""
    return max((r for r in section["ladder"] if r["rung"] != "best, warm cache"),
               key=lambda r: r["combos_per_s"])


def plot(section, path):
    """The ladder chart: combos per second of every rung."""
    w = section["workload"]
    rows = list(section["ladder"])
    if "ladder_auto" in section:
        rows.append({**section["ladder_auto"], "rung": f"auto ({section['ladder_auto']['engine']})"})
    chart(rows, path,
          f"HMA sweep, {w['n_combos']} combos x {w['n_bars']:,} bars, "
          f"{section.get('cores') or _cores()} cores: best cold rung {best_cold(section)['speedup']:.0f}x M0")


def n_steps(mode):
    """Progress steps of :func:`run`: the rungs, auto, the split and the auto shapes."""
    return len(rungs()) + 2 + len(auto_shapes(mode))


def run(mode="full", *, repeats=3, m0_repeats=1, progress=None):
    """Gate and time every rung, auto and the auto-rule shapes; return the results section."""
    from skfast.backtest import HMASweep
    from skfast.backtest._grid import DEFAULT_LENGTHS
    from skfast.datasets import make_gbm_prices

    progress = progress or NoProgress()
    progress.section("hma", n_steps(mode))
    n_bars, every, mode_repeats = PLANS[mode]
    quick = mode != "full"
    lengths = DEFAULT_LENGTHS[::every]
    repeats = mode_repeats or repeats
    X = make_gbm_prices(n_bars)[:, None]
    load_before = os.getloadavg()

    results = []
    for label, description, estimator, parallelism, cold in rungs():
        progress.note(f"{label} ({estimator.engine})")
        estimator.set_params(lengths=lengths)
        fit = fitter(estimator, X, cold)
        if estimator.n_jobs:  # start and warm the pool's workers (imports, numba cache)
            HMASweep(lengths=[6, 8, 10, 12], engine=estimator.engine, n_jobs=estimator.n_jobs).fit(X[:2_000])
        if label == "M0":
            # nothing to compile: M0's timed call is its gate call, and its
            # outputs are the reference every other rung must reproduce
            n = repeats if quick else m0_repeats
            timing = time_call(fit, repeats=n, warmup=0)
            fitted, compile_s = timing["result"], None
            reference = snapshot(fitted)
        else:
            t0 = time.perf_counter()
            fitted = fit()  # compiles; its outputs pass the gate before any timing
            compile_s = time.perf_counter() - t0
        max_diff = gate(reference, fitted, label)
        if label != "M0":
            n = repeats
            timing = time_call(fit, repeats=n, warmup=0)
        best = min(timing["wall_all"])
        row = {"rung": label, "implementation": description, "engine": estimator.engine,
               "n_threads": estimator.n_threads, "n_jobs": estimator.n_jobs,
               "parallelism": parallelism, "wall_s": best, "median_wall_s": timing["wall_s"],
               "wall_all": timing["wall_all"], "cpu_s": timing["cpu_s"],
               "efficiency": timing["efficiency"], "first_call_s": compile_s, "repeats": n,
               "combos_per_s": len(lengths) / best, "gate_max_abs_pnl_diff": max_diff}
        results.append(row)
        progress.log(f"{label:<17} {best:9.4f} s  {row['combos_per_s']:9.1f} combos/s  "
                     f"cpu/wall {timing['efficiency']:.2f}  first call {compile_s or 0:.2f} s")
        progress.step()
    m0 = results[0]["wall_s"]
    for row in results:
        row["speedup"] = m0 / row["wall_s"]

    # engine="auto" on the ladder's workload, cold, gated like every rung
    progress.note("auto")
    fit = fitter(HMASweep(lengths=lengths), X, cold=True)
    t0 = time.perf_counter()
    fitted = fit()
    compile_s = time.perf_counter() - t0
    max_diff = gate(reference, fitted, "auto")
    timing = time_call(fit, repeats=repeats, warmup=0)
    best = min(timing["wall_all"])
    ladder_auto = {"engine": fitted.engine_, "wall_s": best, "median_wall_s": timing["wall_s"],
                   "wall_all": timing["wall_all"], "cpu_s": timing["cpu_s"],
                   "efficiency": timing["efficiency"], "first_call_s": compile_s,
                   "repeats": repeats, "combos_per_s": len(lengths) / best, "speedup": m0 / best,
                   "gate_max_abs_pnl_diff": max_diff}
    progress.log(f"{'auto (' + fitted.engine_ + ')':<17} {best:9.4f} s  "
                 f"{ladder_auto['combos_per_s']:9.1f} combos/s")
    progress.step("feature/loop split")

    split = feature_loop_split(X, lengths, repeats)
    progress.step()
    auto = auto_rule_evidence(repeats, mode, progress=progress)
    return {
        "mode": mode,
        "cores": _cores(),
        "workload": {"n_bars": n_bars, "n_combos": int(len(lengths)), "n_assets": 1, "fee": 0.09,
                     "data": "make_gbm_prices(n_bars, sigma=0.0008, s0=30_000, random_state=42)"},
        "fingerprint_L6": {"pnl": float(reference.pnl_[0, 0]),
                           "n_trades": int(reference.n_trades_[0, 0])},
        "gate": "all rungs: HMASweep's gate against M0 (trade counts and best lengths "
                "identical on every combo, |dPnL| <= 1e-6)",
        "timing": "best of repeats (median kept), first call (JIT) excluded; "
                  "M0 repeats = %d" % (repeats if quick else m0_repeats),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "ladder": results,
        "ladder_auto": ladder_auto,
        "feature_loop_split_M2": split,
        "arithmetic_intensity": arithmetic_intensity(lengths, n_bars),
        "auto_rule": auto,
    }


def _shape_label(n_bars, n_assets, n_combos):
    return f"{n_bars:,} bars x {n_assets} asset{'s' if n_assets > 1 else ''} x {n_combos} combos"


def auto_vs_fastest(section):
    """engine="auto" against the fastest engine: the ladder's workload, then the auto-rule shapes.

    On the ladder's workload the candidates are the cold rungs.  Results
    written before the report timed no ``engine="auto"`` call; their entries
    use the time of the engine the rule picks (``auto_timed`` False).
    """
    w = section["workload"]
    cold = [r for r in section["ladder"] if r["rung"] != "best, warm cache"]
    seconds = {f"{r['rung']} ({r['engine']})": r["wall_s"] for r in cold}
    entries = []
    shape = {"n_bars": w["n_bars"], "n_assets": w["n_assets"], "n_combos": w["n_combos"]}
    label = _shape_label(w["n_bars"], w["n_assets"], w["n_combos"]) + " (ladder)"
    if "ladder_auto" in section:
        auto = section["ladder_auto"]
        entries.append(auto_entry("hma", shape, label, auto["engine"], auto["wall_s"], seconds))
    else:  # the rule's pick with every thread, as auto runs it
        from skfast.backtest import HMASweep

        engine = HMASweep._engine_table.auto_rule(
            HMASweep._engine_table.available(), **shape)
        rung = next((r for r in cold if r["engine"] == engine and not r["n_jobs"]
                     and r["n_threads"] == section.get("cores", r["n_threads"])
                     and r["n_threads"] != 1), None)
        if rung is not None:
            entries.append(auto_entry("hma", shape, label, engine, rung["wall_s"], seconds,
                                      auto_timed=False))
    for row in section["auto_rule"]:
        engines = row.get("engines", ("numba", "sliding", "fast"))
        times = {e: row[e] for e in engines}
        timed_auto = "auto_s" in row
        entries.append(auto_entry(
            "hma", {"n_bars": row["n_bars"], "n_assets": row["n_assets"], "n_combos": row["n_combos"]},
            _shape_label(row["n_bars"], row["n_assets"], row["n_combos"]), row["auto"],
            row["auto_s"] if timed_auto else row[row["auto"]], times, timed_auto))
    return entries


def comparison_rows(section):
    """The rows of the report's HMASweep table: the ladder, auto, then the auto-rule shapes."""
    w = section["workload"]
    label = _shape_label(w["n_bars"], w["n_assets"], w["n_combos"])
    rows = []
    m0 = section["ladder"][0]["wall_s"]
    ladder = list(section["ladder"])
    for r in ladder:
        compile_s = None if r["first_call_s"] is None else max(0.0, r["first_call_s"] - r["wall_s"])
        rows.append(comparison_row(label, f"{r['rung']} ({r['engine']})", r["wall_s"], r["cpu_s"],
                                   throughput=r["combos_per_s"], speedup=r["speedup"],
                                   compile_s=compile_s))
        rows[-1]["efficiency"] = r["efficiency"]  # median CPU / median wall, as measured
    if "ladder_auto" in section:
        a = section["ladder_auto"]
        rows.append(comparison_row(label, f"auto ({a['engine']})", a["wall_s"], a["cpu_s"],
                                   throughput=a["combos_per_s"], speedup=m0 / a["wall_s"],
                                   compile_s=max(0.0, a["first_call_s"] - a["wall_s"])))
        rows[-1]["efficiency"] = a["efficiency"]
    for row in section["auto_rule"]:
        label = _shape_label(row["n_bars"], row["n_assets"], row["n_combos"])
        combos = row["n_assets"] * row["n_combos"]
        timings = [(e, row[e], row.get("cpu_s", {}).get(e)) for e in
                   row.get("engines", ("numba", "sliding", "fast"))]
        if "auto_s" in row:
            timings.append((f"auto ({row['auto']})", row["auto_s"], row.get("auto_cpu_s")))
        for engine, seconds, cpu in timings:
            rows.append(comparison_row(label, engine, seconds, cpu, throughput=combos / seconds))
    return rows


def report(section):
    """The HMASweep comparison table as text."""
    w = section["workload"]
    return format_table(
        f"HMASweep (the paper's ladder: {w['n_combos']} combos x {w['n_bars']:,} bars, best of "
        f"repeats, cold feature cache; then the auto-rule shapes, combos counted per asset)",
        comparison_rows(section), "combos/s", PEER, gemm=False)


def markdown_table(rows):
    lines = ["| Rung | Implementation | Wall (s) | Speed-up vs M0 | Combos/s | Parallelism |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['rung']} | {r['implementation']} | {r['wall_s']:.3g} | "
                     f"{r['speedup']:.1f}x | {r['combos_per_s']:.1f} | {r['parallelism']} |")
    return "\n".join(lines)
