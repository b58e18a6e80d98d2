"""PermutationTest beyond one machine's memory: a Dask process cluster and a memmap.

The data, ``n_samples x n_features`` float32 standard normal values (4 GB at
the default 500 x 2,000,000), is drawn on the workers of a
``distributed.LocalCluster`` of two worker processes (one thread each,
loopback only) and never gathered; the same array is stored into a memmap
on disk, chunk by chunk, for the one-machine run.  Then:

1. the gate: on the first 20,000 columns, the Dask fit and the memmap fit
   must equal the in-memory fit bit for bit (p-values, statistics, max-T
   p-values); a failed gate aborts the script;
2. the full Dask fit and the full memmap fit, timed, each with its memory:
   the peak RSS of each worker process and of the driver (``ru_maxrss``),
   the driver's peak of traced allocations, and for the memmap run the
   peak anonymous memory (``RssAnon``, sampled every 20 ms: the mapped
   file's pages are page cache, not the fit's memory);
3. the two full fits must agree bit for bit (the same data).

Writes ``benchmarks/results/scale_out.json``.

Usage: ``python -m benchmarks.scale_out [--n-features P] [--n-permutations R]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ._timing import write_results

CHUNK_COLUMNS = 25_000
GATE_COLUMNS = 20_000


def _max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _anon_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _PeakAnon:
    """Peak ``RssAnon`` of this process while the block runs, sampled in a thread."""

    def __enter__(self):
        self.start, self.peak, self._stop = _anon_mib(), 0.0, threading.Event()

        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, _anon_mib())
                time.sleep(0.02)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _same(a, b):
    return (np.array_equal(a.pvalues_, b.pvalues_) and np.array_equal(a.statistic_, b.statistic_)
            and np.array_equal(a.pvalues_corrected_, b.pvalues_corrected_))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=500)
    parser.add_argument("--n-features", type=int, default=2_000_000)
    parser.add_argument("--n-permutations", type=int, default=999)
    args = parser.parse_args(argv)
    import dask.array as da
    import distributed

    from skfast.permutation import PermutationTest

    n, p, R = args.n_samples, args.n_features, args.n_permutations
    y = np.arange(n) % 2
    params = dict(n_permutations=R, correction="maxT", random_state=0)
    folder = Path(tempfile.mkdtemp(prefix="skfast-scale-out-"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        X = (da.random.RandomState(0).standard_normal((n, p), chunks=(n, CHUNK_COLUMNS))
             .astype(np.float32))
        # chunk by chunk through the driver: a memmap handed to dask.store
        # would be pickled into the graph as a copy, and the file left empty
        on_disk = np.memmap(folder / "X.dat", dtype=np.float32, mode="w+", shape=(n, p))
        for lo in range(0, p, CHUNK_COLUMNS):
            on_disk[:, lo:lo + CHUNK_COLUMNS] = X[:, lo:lo + CHUNK_COLUMNS].compute()
        on_disk.flush()
        del on_disk
        memmap = np.memmap(folder / "X.dat", dtype=np.float32, mode="r", shape=(n, p))

        # 1. the gate, on the first columns
        expected = PermutationTest(**params).fit(np.asarray(memmap[:, :GATE_COLUMNS]), y)
        gate = dict(columns=GATE_COLUMNS,
                    dask=_same(PermutationTest(**params).fit(X[:, :GATE_COLUMNS], y), expected),
                    memmap=_same(PermutationTest(**params).fit(memmap[:, :GATE_COLUMNS], y),
                                 expected))
        print("gate", gate, flush=True)
        if not (gate["dask"] and gate["memmap"]):
            sys.exit("GATE FAILED: an out-of-core fit differs from the in-memory fit")

        # 2. the full fits
        client.run(lambda: __import__("gc").collect())
        driver_rss_before = _max_rss_mib()
        tracemalloc.start()
        start = time.perf_counter()
        on_dask = PermutationTest(**params).fit(X, y)
        dask_s = time.perf_counter() - start
        _, dask_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        workers_rss = client.run(_max_rss_mib)
        dask_run = dict(seconds=dask_s, engine=on_dask.engine_,
                        worker_peak_rss_mib=sorted(workers_rss.values()),
                        driver_peak_rss_mib=_max_rss_mib(),
                        driver_peak_rss_before_mib=driver_rss_before,
                        driver_peak_traced_mib=dask_traced / 2**20)
        print("dask", dask_run, flush=True)

    with _PeakAnon() as anon:
        start = time.perf_counter()
        on_memmap = PermutationTest(**params).fit(memmap, y)
        memmap_s = time.perf_counter() - start
    memmap_run = dict(seconds=memmap_s, engine=on_memmap.engine_,
                      anon_before_mib=anon.start, anon_peak_mib=anon.peak,
                      anon_peak_above_start_mib=anon.peak - anon.start,
                      data_mib=n * p * 4 / 2**20)
    print("memmap", memmap_run, flush=True)
    agree = _same(on_dask, on_memmap)
    print("full fits agree bit for bit:", agree, flush=True)
    if not agree:
        sys.exit("GATE FAILED: the Dask and memmap fits of the same data differ")
    path = write_results("scale_out", dict(
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        shape=dict(n_samples=n, n_features=p, n_permutations=R, dtype="float32",
                   chunk_columns=CHUNK_COLUMNS, workers=2, threads_per_worker=1),
        gate=gate, dask=dask_run, memmap=memmap_run, full_fits_agree=agree,
        selected_features=int(on_dask.get_support().sum())))
    (folder / "X.dat").unlink()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
