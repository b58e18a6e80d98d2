"""
Scaling out with Dask, bit for bit
==================================

skfast parallelises through joblib, so any joblib backend works, and
``joblib.parallel_config(backend="dask")`` sends the work to a Dask cluster:
the same code runs on a laptop or on many machines. The results do not
change. :class:`~skfast.PermutationTest` draws its relabellings in blocks,
each from its own child of one seed sequence, so whichever worker computes a
batch it computes the same numbers, and the p-values are bit-identical to a
local run.

Beyond joblib, :class:`~skfast.PermutationTest` and :class:`~skfast.FastKMeans`
take Dask arrays that no single machine need hold: a permutation test
chunked over features, k-means chunked over rows, each chunk computed on
the worker that holds it, with the in-memory fit's results bit for bit.

Here the "cluster" is a :class:`~distributed.LocalCluster` of two worker
processes (``processes=True``): every task and its data are pickled and
shipped, as on a real cluster. For a real cluster, pass its scheduler
address to ``Client`` instead; nothing else changes. (Run as a script,
this file needs the ``if __name__ == "__main__":`` guard of any program
that starts worker processes: they re-import the script that started them.)
"""

# %%
# A local run first
# -----------------
# 9,999 relabellings of 120 samples, in batches of 256, with 500 features of
# which 10 truly differ. ``n_jobs=2`` splits the batches among two joblib
# workers (threads by default).

import time

import numpy as np
from joblib import parallel_config

from skfast import HMASweep, PermutationTest
from skfast.datasets import make_gbm_prices, make_two_group_data

effect = np.r_[np.full(10, 0.8), np.zeros(490)]
X, y = make_two_group_data(120, 500, effect=effect, random_state=0)
test = PermutationTest(9_999, correction="maxT", statistic="welch_t", batch_size=256,
                       random_state=0, n_jobs=2)

start = time.perf_counter()
local = test.fit(X, y)
local_pvalues, local_corrected = local.pvalues_.copy(), local.pvalues_corrected_.copy()
print(f"local run: {time.perf_counter() - start:.2f} s, "
      f"{local.get_support().sum()} features selected")

# %%
# The same fit on a Dask cluster
# ------------------------------
# Inside ``parallel_config(backend="dask")`` every joblib call of skfast goes to
# the cluster the ``Client`` is connected to. ``get_task_stream`` records the
# tasks the cluster ran, to show that the work really went there.
# (``dashboard_address=None`` skips the web dashboard, which a documentation
# build does not need.)

from distributed import Client, LocalCluster, get_task_stream

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None)
client = Client(cluster)
print(client)

with parallel_config(backend="dask"), get_task_stream(client) as stream:
    start = time.perf_counter()
    remote = PermutationTest(9_999, correction="maxT", statistic="welch_t", batch_size=256,
                             random_state=0, n_jobs=2).fit(X, y)
    elapsed = time.perf_counter() - start
print(f"Dask run: {elapsed:.2f} s, {len(stream.data)} tasks ran on the cluster")
print("p-values bit-identical:          ", np.array_equal(remote.pvalues_, local_pvalues))
print("maxT-adjusted p-values identical:", np.array_equal(remote.pvalues_corrected_,
                                                          local_corrected))

# %%
# On one machine Dask adds scheduling overhead and gains nothing; its point is
# that the identical computation can use more machines than one. Batches are
# only shared out when there are several (``batch_size="auto"`` would put this
# small problem in a single batch and run it locally).
#
# X as a Dask array, chunked over features
# ----------------------------------------
# A ``dask.array`` is tested chunk of columns by chunk on the workers: each
# task centres its columns and counts them against the relabellings, which
# it rebuilds from the fitted seed, so neither X nor any relabelling matrix
# comes back; the driver gathers per-feature counts (and, for max-T, each
# chunk's per-relabelling maxima). No ``parallel_config`` is needed: the
# Dask array goes to the cluster its ``Client`` serves.

import dask.array as da

X_dask = da.from_array(X, chunks=(X.shape[0], 100))  # 5 chunks of 100 features
chunked = PermutationTest(9_999, correction="maxT", statistic="welch_t",
                          random_state=0).fit(X_dask, y)
print("chunked over features, p-values bit-identical:",
      np.array_equal(chunked.pvalues_, local_pvalues),
      "| maxT:", np.array_equal(chunked.pvalues_corrected_, local_corrected))

# %%
# k-means on rows no one process holds
# ------------------------------------
# :class:`~skfast.FastKMeans` fits a Dask array chunked over rows: each
# iteration the workers assign their rows and return per-block cluster sums,
# which this process adds in the in-memory fit's order. ``labels_`` stays a
# Dask array on the workers.

from skfast import FastKMeans

rng = np.random.default_rng(0)
points = rng.normal(size=(20_000, 3)) + rng.integers(0, 4, size=(20_000, 1)) * 3.0
start_centres = points[:4]
in_memory = FastKMeans(4, init=start_centres, n_init=1, engine="numba").fit(points)
on_dask = FastKMeans(4, init=start_centres, n_init=1, engine="numba").fit(
    da.from_array(points, chunks=(5_000, 3)))
print(f"k-means on 4 row chunks: labels identical: "
      f"{np.array_equal(on_dask.labels_.compute(), in_memory.labels_)}, "
      f"inertia identical: {on_dask.inertia_ == in_memory.inertia_}, "
      f"n_iter {on_dask.n_iter_} (in memory {in_memory.n_iter_})")

# %%
# The HMA sweep on the cluster
# ----------------------------
# :class:`~skfast.HMASweep` with ``n_jobs > 1`` makes one joblib task per
# series and block of neighbouring lengths (so the task's feature cache
# serves the whole block), the costliest first; under the Dask backend those
# tasks run on the cluster, and trade counts and PnL match the serial sweep.

prices = make_gbm_prices(3_000, n_assets=2, random_state=0)
lengths = np.arange(6, 121, 6)
serial = HMASweep(lengths=lengths, engine="numba").fit(prices)
with parallel_config(backend="dask"), get_task_stream(client) as stream:
    pooled = HMASweep(lengths=lengths, engine="numba", n_jobs=2).fit(prices)
print(f"HMA sweep: {len(stream.data)} tasks on the cluster, "
      f"trade counts identical: {np.array_equal(pooled.n_trades_, serial.n_trades_)}, "
      f"max |PnL difference|: {np.abs(pooled.pnl_ - serial.pnl_).max():.1e}, "
      f"best lengths: {pooled.best_length_.tolist()} (serial {serial.best_length_.tolist()})")

# %%
# Where the p-values fall
# -----------------------
# The plot overlays the local and the Dask p-values: every point lies on the
# diagonal because they are the same numbers.

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4.5, 4))
floor = 1 / (local.n_permutations_ + 1)
ax.loglog(np.maximum(local_pvalues, floor), np.maximum(remote.pvalues_, floor), ".",
          alpha=0.6)
ax.plot([floor, 1], [floor, 1], "k--", lw=0.8)
ax.set_xlabel("p-value, local threads")
ax.set_ylabel("p-value, Dask cluster")
ax.set_title("Same seed, same p-values")
fig.tight_layout()

# %%
# Close the client and the cluster when done.

client.close()
cluster.close()
