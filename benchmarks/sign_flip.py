"""Sign-flip PermutationTest against ``mne.stats.permutation_t_test``, same run, interleaved.

mne's function is the peer: the one-sample t statistic, sign flips of whole
rows and the max-t correction, i.e. ``PermutationTest(design="one_sample",
statistic="t", correction="maxT")``.  Steps:

1. the gate, before any timing: on an exact case (12 samples, all 4,096
   flips) the max-t p-values must equal mne's bit for bit, and at every
   timed shape the observed t statistics must agree to 1e-10; a failed gate
   aborts the script;
2. per shape, ``--pairs`` interleaved pairs (mne, skfast; the order
   alternates), the first call of each timed apart (compilation, thread
   pools); skfast's uncorrected fit (no maxima: its float32 product,
   checked to double precision) is timed beside it;
3. the float64 and float32 GEMM peaks of this machine, measured in the
   same run, give the fraction of peak: a fit multiplies ``R x n`` flips
   into ``n x p`` data, ``2 n p R`` flops.

Writes ``benchmarks/results/sign_flip.json`` (with the machine's details)
and ``sign_flip.png``.

Usage: ``python -m benchmarks.sign_flip [--quick] [--pairs K]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ._timing import RESULTS_DIR, gemm_peak_gflops, write_results

SHAPES = [(500, 2_000, 1_000), (500, 20_000, 10_000)]
QUICK_SHAPES = [(500, 2_000, 1_000), (500, 20_000, 1_000)]


def _data(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    X[:, : n_features // 100] += 0.3  # a few real effects
    return X


def _skfast(n_permutations, correction="maxT"):
    from skfast.permutation import PermutationTest

    return PermutationTest(n_permutations, design="one_sample", statistic="t",
                           correction=correction, random_state=0)


def gate(shapes):
    """Exact max-t p-values equal mne's; observed t agrees at every shape."""
    from mne.stats import permutation_t_test

    X = _data(12, 50, seed=1)
    _, expected, _ = permutation_t_test(X, n_permutations=2**12, verbose=False)
    fit = _skfast(2**12).fit(X)
    if not (fit.exact_ and np.array_equal(fit.pvalues_corrected_, expected)):
        raise SystemExit("GATE FAILED: exact max-t p-values differ from mne's")
    for n, p, _ in shapes:
        X = _data(n, p)
        T, _, _ = permutation_t_test(X[:, :2000], n_permutations=10, verbose=False)
        got = _skfast(9).fit(X[:, :2000]).statistic_
        if not np.allclose(got, T, rtol=1e-10, atol=0):
            raise SystemExit("GATE FAILED: observed t differs from mne's")
    return {"exact_case": "12 x 50, 4,096 flips: max-t p-values identical to mne's",
            "observed_t_rtol": 1e-10}


def time_shape(n, p, R, pairs):
    from mne.stats import permutation_t_test

    X = _data(n, p)
    runs = {
        "mne permutation_t_test": lambda: permutation_t_test(X, n_permutations=R,
                                                             verbose=False),
        "skfast maxT": lambda: _skfast(R).fit(X),
        "skfast uncorrected": lambda: _skfast(R, correction=None).fit(X),
    }
    first = {}
    for name, run in runs.items():
        start = time.perf_counter()
        run()
        first[name] = time.perf_counter() - start
    walls = {name: [] for name in runs}
    for pair in range(pairs):
        order = list(runs) if pair % 2 == 0 else list(runs)[::-1]
        for name in order:
            start = time.perf_counter()
            runs[name]()
            walls[name].append(time.perf_counter() - start)
    flops = 2.0 * n * p * R
    median = {name: float(np.median(w)) for name, w in walls.items()}
    return dict(n_samples=n, n_features=p, n_permutations=R, flops=flops, first_call_s=first,
                wall_s=median, wall_all=walls,
                speedup_vs_mne={name: median["mne permutation_t_test"] / median[name]
                                for name in runs if name.startswith("skfast")},
                gflops={name: flops / median[name] / 1e9 for name in runs})


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = results["shapes"]
    names = list(shapes[0]["wall_s"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        ax.bar(np.arange(len(shapes)) + k * width, [s["wall_s"][name] for s in shapes], width,
               label=name)
    ax.set_xticks(np.arange(len(shapes)) + width * (len(names) - 1) / 2,
                  [f"n={s['n_samples']}, p={s['n_features']:,}\nR={s['n_permutations']:,}"
                   for s in shapes])
    ax.set(ylabel="seconds per fit (median)", yscale="log",
           title="Sign-flip max-t test: skfast vs mne (same run)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="R=1,000 at the large shape")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args(argv)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    results = {"gate": gate(shapes)}
    results["gemm_peak_gflops"] = {"float64": gemm_peak_gflops(dtype=np.float64),
                                   "float32": gemm_peak_gflops(dtype=np.float32)}
    results["shapes"] = []
    for n, p, R in shapes:
        cell = time_shape(n, p, R, args.pairs)
        cell["fraction_of_float64_peak"] = {
            name: g / results["gemm_peak_gflops"]["float64"] for name, g in cell["gflops"].items()}
        results["shapes"].append(cell)
        print(f"n={n} p={p:,} R={R:,}: " + ", ".join(
            f"{name} {t:.2f} s" for name, t in cell["wall_s"].items())
            + " | speed-up vs mne: " + ", ".join(
            f"{name} {s:.1f}x" for name, s in cell["speedup_vs_mne"].items())
            + f" | skfast maxT at {cell['fraction_of_float64_peak']['skfast maxT']:.0%} "
              f"of the float64 GEMM peak", flush=True)
    name = "sign_flip_quick" if args.quick else "sign_flip"
    path = write_results(name, results)
    _plot(results, RESULTS_DIR / f"{name}.png")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
