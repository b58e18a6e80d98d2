"""HMASweep across joblib workers against its threaded default, and on a Dask cluster.

A wide sweep (``--lengths`` consecutive lengths from 6 x ``--assets``
geometric-Brownian series of ``--bars`` bars): the default (``n_jobs=None``,
the engine's own threads over the whole sweep), ``n_jobs=2`` (loky worker
processes, one (series, block of lengths) task at a time) and
``n_jobs=2`` under ``joblib.parallel_config(backend="dask")`` on a
``distributed.LocalCluster`` of two worker processes (loopback).  Each is
gated on the default's trade counts and PnL first, then timed in
interleaved rounds (best of ``--rounds``).

Writes ``benchmarks/results/hma_jobs.json``.

Usage: ``python -m benchmarks.hma_jobs``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ._timing import write_results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, default=2_000)
    parser.add_argument("--assets", type=int, default=10)
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import distributed
    from joblib import parallel_config

    from skfast.backtest import HMASweep
    from skfast.datasets import make_gbm_prices

    X = np.column_stack([make_gbm_prices(args.bars, random_state=seed)
                         for seed in range(args.assets)])
    lengths = np.arange(6, 6 + args.lengths, dtype=np.int64)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        def on_dask():
            with parallel_config(backend="dask"):
                return HMASweep(lengths=lengths, n_jobs=2).fit(X)

        runs = {"default (threads)": lambda: HMASweep(lengths=lengths).fit(X),
                "n_jobs=2 (loky)": lambda: HMASweep(lengths=lengths, n_jobs=2).fit(X),
                "n_jobs=2 (dask, 2 workers)": on_dask}
        expected = runs["default (threads)"]()
        for name, run in runs.items():
            got = run()
            if not (np.array_equal(got.n_trades_, expected.n_trades_)
                    and np.allclose(got.pnl_, expected.pnl_, rtol=0, atol=1e-6)):
                sys.exit(f"GATE FAILED: {name} differs from the default")
        best = {name: np.inf for name in runs}
        for round_ in range(args.rounds):
            for name in (list(runs) if round_ % 2 == 0 else list(runs)[::-1]):
                start = time.perf_counter()
                runs[name]()
                best[name] = min(best[name], time.perf_counter() - start)
    default = best["default (threads)"]
    for name, seconds in best.items():
        print(f"{name:<28} {seconds:7.2f} s  {seconds / default:5.2f}x the default", flush=True)
    path = write_results("hma_jobs", dict(
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        shape=dict(n_lengths=int(lengths.size), n_assets=args.assets, n_bars=args.bars),
        engine=expected.engine_, seconds=best,
        ratio_to_default={name: s / default for name, s in best.items()}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
