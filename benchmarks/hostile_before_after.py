"""Hostile data, before and after the tie rules: mismatches, then the cost on friendly data.

Two parts, both against a *baseline*: the ``skfast`` package of an earlier
checkout (``--baseline DIR``, the folder holding its ``skfast/``), imported
side by side in this process as ``skfast_baseline``.

1. Correctness: the seeded hostile cases of ``skfast.utils._hostile`` (the
   same generator the test suite uses), every engine against the oracle
   (HMASweep: pandas; FastKMeans: scikit-learn; PermutationTest: the
   unscaled data and exact enumeration), counted for the baseline and for
   this checkout.
2. Cost of the exact tie handling on the benchmark workloads, where no tie
   occurs: each workload is gated first (the baseline and this checkout give
   identical trade counts, labels or p-values), then timed alternately, the
   compilation excluded; the cost is the median of the paired time ratios,
   robust to the drift of a shared machine.  The pairs run in several fresh
   processes, half of them importing the baseline first: one process's
   memory layout can move a tight loop by several per cent either way, for
   the same code.  ``--self-check`` measures that resolution: the same
   procedure with this checkout as its own baseline (an A/A run), whose
   ratios should all be 1.

Writes ``benchmarks/results/hostile_before_after.json`` with the machine's
details (cores, BLAS kernel from threadpoolctl, versions).

Usage: ``python -m benchmarks.hostile_before_after --baseline /path/to/old/checkout
[--self-check]`` (for example ``git worktree add /tmp/base 90b043f``).
"""

import argparse
import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ._timing import write_results

HMA_LENGTHS = [1, 2, 3, 5, 8, 13, 21, 30]
#: Timed pairs of the HMA workloads per ``--pairs``.
HMA_PAIRS_FACTOR = 4


def copy_baseline(checkout, folder=None):
    """Copy the checkout's ``skfast`` into ``folder`` as ``skfast_baseline``; returns ``folder``.

    Worker processes import the one copy, so its numba cache serves them all.
    """
    folder = Path(folder or tempfile.mkdtemp())
    target = folder / "skfast_baseline"
    shutil.copytree(Path(checkout) / "skfast", target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*.py"):
        path.write_text(re.sub(r"\bskfast\b", "skfast_baseline", path.read_text()))
    return folder


def load_baseline(checkout=None, copied=None):
    """The checkout's ``skfast`` package (or an existing copy), imported as ``skfast_baseline``."""
    folder = copied or copy_baseline(checkout)
    sys.path.insert(0, str(folder))
    return importlib.import_module("skfast_baseline")


def count_mismatches(package, seeds):
    """Hostile runs in which an engine of ``package`` differs from the oracle."""
    from sklearn.cluster import KMeans

    from skfast.utils._hostile import (KMEANS_KINDS, PRICE_KINDS, hostile_kmeans,
                                       hostile_permutation, hostile_prices)

    HMASweep, FastKMeans = package.backtest.HMASweep, package.FastKMeans
    PermutationTest = package.permutation.PermutationTest
    hma_engines = [e for e in HMASweep._engine_table.available() if e != "pandas"]
    hma = dict(series=0, series_with_a_mismatch=0, mismatching_engine_runs=0,
               engine_runs=0)
    for kind in PRICE_KINDS:
        for seed in range(seeds):
            X = hostile_prices(kind, seed)
            reference = HMASweep(lengths=HMA_LENGTHS, engine="pandas").fit(X).n_trades_
            bad = [not _same(lambda e=e: HMASweep(lengths=HMA_LENGTHS, engine=e).fit(X).n_trades_,
                             reference) for e in hma_engines]
            hma["series"] += 1
            hma["series_with_a_mismatch"] += any(bad)
            hma["mismatching_engine_runs"] += sum(bad)
            hma["engine_runs"] += len(bad)

    kmeans_engines = FastKMeans._engine_table.available()
    kmeans = dict(cases=0, mismatching_runs={e: 0 for e in kmeans_engines})
    for kind in KMEANS_KINDS:
        for seed in range(seeds):
            X, k, weight = hostile_kmeans(kind, seed)
            for init in ("k-means++", "random"):
                try:
                    expected = KMeans(k, init=init, n_init=1, random_state=seed).fit(
                        X, sample_weight=weight)
                except ValueError:  # more random centres than weighted samples
                    continue
                kmeans["cases"] += 1
                for e in kmeans_engines:
                    fit = lambda e=e: FastKMeans(k, init=init, n_init=1, random_state=seed,  # noqa: E731
                                                 engine=e).fit(X, sample_weight=weight)
                    ok = _same(lambda: fit().labels_, expected.labels_) and fit().n_iter_ == expected.n_iter_
                    kmeans["mismatching_runs"][e] += not ok

    permutation_engines = PermutationTest._engine_table.available()
    crashes = 0
    for n0, n1 in [(2, 65), (3, 87), (65, 2), (87, 3)]:
        y = np.r_[np.zeros(n0), np.ones(n1)]
        X = np.random.default_rng(0).normal(size=(n0 + n1, 2))
        crashes += not _same(lambda: PermutationTest(200_000).fit(X, y).exact_, True)
    scale = dict(runs=0, runs_with_changed_pvalues=0)
    X, y = hostile_permutation("integer_ties", 2, n_samples=30)
    for statistic in ("mean_diff", "welch_t"):
        for e in permutation_engines:
            test = lambda data, e=e: PermutationTest(199, statistic=statistic, engine=e,  # noqa: E731
                                                     random_state=0).fit(data, y).pvalues_
            reference = test(X)
            for factor in (1e-300, 1e-160, 1e154, 1e300):
                scale["runs"] += 1
                scale["runs_with_changed_pvalues"] += not _same(lambda: test(X * factor), reference)
    permutation = dict(exact_mode_group_sizes=4, exact_mode_crashes=crashes, scale=scale)
    return dict(hma=hma, kmeans=kmeans, permutation=permutation)


def _same(compute, expected):
    try:
        return bool(np.array_equal(compute(), expected))
    except Exception:  # a crash is a mismatch
        return False


def paired_cost(new, old, gate, pairs, baseline_first=False):
    """Median of the paired time ratios new/old, after the gate.

    The order within a pair alternates, so whatever the first run of a pair
    pays (or saves) falls on both sides equally.  The gate's runs (which
    compile) go in the order asked.
    """
    first, second = (old, new) if baseline_first else (new, old)
    answers = (first(), second())
    if not gate(*answers):
        sys.exit("GATE FAILED: the baseline and this checkout disagree")
    ratios, times = [], {"new": [], "old": []}
    for pair in range(pairs):
        order = (("old", old), ("new", new))
        for name, fn in order if pair % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        ratios.append(times["new"][-1] / times["old"][-1])
    return dict(new_s=float(np.median(times["new"])), baseline_s=float(np.median(times["old"])),
                median_paired_ratio=float(np.median(ratios)), pairs=pairs, ratios=ratios)


def measure_costs(base, pairs, baseline_first=False):
    import skfast
    from skfast.datasets import make_gbm_prices

    costs = {}
    close = make_gbm_prices()[:, None]
    for engine in ("fast", "sliding", "cached", "numba_parallel"):
        def run(package, engine=engine):
            # The baseline kept a hidden module-level cache; this checkout
            # keeps none.  It is emptied after the run as well: rows it still
            # held made the next run of the *other* package 2.5 times slower
            # (the cached engine's bimodal timings of earlier runs).
            cached = importlib.import_module(package.__name__ + ".backtest._cached")
            clear = getattr(cached, "clear_feature_cache", lambda: None)
            clear()
            n_trades = package.backtest.HMASweep(engine=engine).fit(close).n_trades_
            clear()
            return n_trades
        # a sweep takes 0.05-0.5 s: four times the pairs cost little and
        # narrow the spread that one slow run gives a process's median
        costs[f"HMASweep {engine}, 150,000 bars x 80 combos"] = paired_cost(
            lambda: run(skfast), lambda: run(base), np.array_equal, HMA_PAIRS_FACTOR * pairs,
            baseline_first)

    rng = np.random.default_rng(0)
    for n, d, k in ((100_000, 10, 5), (200_000, 2, 100), (100_000, 64, 256)):
        centres = rng.normal(size=(k, d)) * 3
        X = centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))
        init = X[rng.choice(n, k, replace=False)]

        def fit(package):
            return package.FastKMeans(k, init=init, n_init=1, max_iter=20, tol=0).fit(X).labels_
        costs[f"FastKMeans auto, {n:,} x {d} x {k}"] = paired_cost(
            lambda: fit(skfast), lambda: fit(base), np.array_equal, pairs, baseline_first)

    X = rng.normal(size=(500, 2_000))
    y = np.arange(500) % 2

    def test(package):
        return package.permutation.PermutationTest(1_000, random_state=0).fit(X, y).pvalues_
    costs["PermutationTest auto, n=500 p=2,000 R=1,000"] = paired_cost(
        lambda: test(skfast), lambda: test(base), np.array_equal, pairs, baseline_first)
    return costs


# One fresh process's share of the cost measurement, JSON on its last line.
# Nothing is imported before the two packages, in the order asked.
_WORKER = """
import json, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {copied!r})
if {baseline_first!r}:
    import skfast_baseline as base
    import skfast
else:
    import skfast
    import skfast_baseline as base
from benchmarks.hostile_before_after import measure_costs
print(json.dumps(measure_costs(base, {pairs!r}, {baseline_first!r})))
"""


def costs_in_processes(copied, processes, pairs):
    """:func:`measure_costs` in ``processes`` fresh interpreters, pooled per workload.

    Half the processes import the baseline first.  The cost is the median of
    every paired ratio; the per-process medians show the spread.
    """
    runs = []
    for index in range(processes):
        code = _WORKER.format(copied=str(copied), baseline_first=bool(index % 2), pairs=pairs)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent.parent)
        if result.returncode != 0:
            sys.exit(f"worker failed:\n{result.stderr[-3000:]}")
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"  process {index + 1}/{processes} done", flush=True)
    pooled = {}
    for name in runs[0]:
        ratios = [r for run in runs for r in run[name]["ratios"]]
        pooled[name] = dict(
            new_s=float(np.median([run[name]["new_s"] for run in runs])),
            baseline_s=float(np.median([run[name]["baseline_s"] for run in runs])),
            median_paired_ratio=float(np.median(ratios)),
            per_process_median_ratios=[run[name]["median_paired_ratio"] for run in runs],
            pairs=len(ratios), processes=processes)
    return pooled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="checkout holding the baseline skfast/")
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--pairs", type=int, default=5, help="timed pairs per process")
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--self-check", action="store_true",
                        help="also time this checkout against a copy of itself (A/A)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import skfast

    copied = copy_baseline(args.baseline)
    base = load_baseline(copied=copied)
    counts = {"baseline": count_mismatches(base, args.seeds),
              "this checkout": count_mismatches(skfast, args.seeds)}
    print(counts)
    results = dict(seeds=args.seeds, mismatches=counts)
    checks = [("tie_rule_cost", copied)]
    if args.self_check:
        checks.append(("self_check_a_a", copy_baseline(Path(skfast.__file__).parent.parent)))
    for key, folder in checks:
        print(f"{key}:", flush=True)
        results[key] = costs_in_processes(folder, args.processes, args.pairs)
        for name, cost in results[key].items():
            print(f"  {name}: {cost['baseline_s']:.4f} s -> {cost['new_s']:.4f} s, paired "
                  f"ratio {cost['median_paired_ratio']:.3f} (per process "
                  + " ".join(f"{r:.3f}" for r in cost["per_process_median_ratios"]) + ")")
    path = write_results("hostile_before_after", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
