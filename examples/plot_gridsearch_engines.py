"""
Comparing engines with GridSearchCV
===================================

``engine`` is an ordinary hyper-parameter, so scikit-learn's model selection
tools can compare engines for you. Because every skfast engine returns the
same answer, the test scores of a grid over ``engine`` tie, and what tells the
engines apart is ``cv_results_["mean_fit_time"]`` and
``cv_results_["mean_score_time"]``: the measured cost on *your* data shape and
*your* machine.

The sizes here are small so that the example runs in seconds; the ranking of
the engines changes with the shape of the data (see the README's benchmark
tables), which is the reason to measure it.
"""

# %%
# The list of engines
# -------------------
# Each estimator carries an engine table. ``available()`` lists the engines
# whose optional dependencies are installed; ``names`` also includes
# ``"auto"`` and the engines that would need an extra (``jax``).

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from skfast import FastKMeans, available_engines
from skfast.datasets import make_kmeans_scenario

engines = list(available_engines(FastKMeans))
print("valid engine names:  ", ("auto",) + available_engines(FastKMeans, installed_only=False))
print("installed engines:   ", engines)

# %%
# A grid over ``engine``
# ----------------------
# ``FastKMeans.score`` is minus the inertia of the held-out points, as for
# ``KMeans``. We search over every installed engine plus ``"auto"``.
#
# Compiled engines pay a one-off cost the first time they meet a shape (numba
# loads its compiled kernels, jax traces and compiles for every new array
# shape). To time the steady state we choose 1,500 samples, so that every
# 3-fold training set has 1,000 rows and every test set 500, and warm each
# engine up once on those shapes before the search.

X, _ = make_kmeans_scenario("overlapping", n_samples=1_500, n_features=8, n_clusters=8,
                            random_state=0)
base = FastKMeans(n_clusters=8, random_state=0, max_iter=10)
warm_labels = {}
for engine in engines:
    warm_labels[engine] = base.set_params(engine=engine).fit(X[:1_000]).labels_
    base.score(X[1_000:])

# refit=False: there is no best engine to refit, the scores tie (see below)
search = GridSearchCV(base, {"engine": engines + ["auto"]}, cv=KFold(3), refit=False).fit(X)
results = search.cv_results_

print(f"\n{'engine':>10} {'fit (ms)':>9} {'score (ms)':>11} {'mean test score':>17}")
for engine, fit, score, test in zip(results["param_engine"], results["mean_fit_time"],
                                    results["mean_score_time"], results["mean_test_score"]):
    print(f"{engine:>10} {1e3 * fit:9.1f} {1e3 * score:11.1f} {test:17.6f}")

# %%
# The scores tie
# --------------
# Every engine returns Lloyd's labels, so the scores agree to round-off: the
# inertia is a sum of squared distances, and engines that add in a different
# order may differ in the last bits. The labels themselves, here those of
# the warm-up fits, are identical.

scores = results["mean_test_score"]
print("largest relative score difference:", np.ptp(scores) / abs(scores).max())
print("identical labels from every engine:",
      all(np.array_equal(warm_labels[e], warm_labels["reference"]) for e in engines))
print("auto runs:", FastKMeans(n_clusters=8, max_iter=10).fit(X[:1_000]).engine_)

# %%
# The fit times do not
# --------------------
# ``reference`` is the slow-on-purpose oracle, orders of magnitude behind the
# others. Among the fast engines the ranking depends on the shape (here 8
# clusters, few enough that ``auto`` sends them to numba's fused loop) and on
# the machine: the numba and hamerly engines run a thread pool, which shares
# the cores with anything else running, so time your engines on a quiet
# machine. Note that
# ``best_params_`` of a tie is simply the first candidate: use the timings,
# not ``best_params_``, to choose an engine.

import matplotlib.pyplot as plt

order = np.argsort(results["mean_fit_time"])
names = [results["param_engine"][i] for i in order]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.barh(names, 1e3 * results["mean_fit_time"][order],
        xerr=1e3 * results["std_fit_time"][order], color="tab:blue")
ax.set_xscale("log")
ax.set_xlabel("mean fit time per fold (ms, log scale)")
ax.set_title("FastKMeans: same score, different cost (1,500 x 8, K=8)")
fig.tight_layout()

# %%
# The same for a feature selector inside a Pipeline
# -------------------------------------------------
# Grid parameters reach a step of a ``Pipeline`` through its name. Here a
# :class:`~skfast.PermutationTest` selects features before a logistic
# regression; with a fixed ``random_state`` its p-values, hence the selected
# features and the accuracy, are bit-identical whatever the engine.

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skfast import PermutationTest
from skfast.datasets import make_two_group_data

effect = np.r_[np.full(5, 0.8), np.zeros(45)]
X2, y2 = make_two_group_data(120, 50, effect=effect, random_state=0)
pipe = make_pipeline(PermutationTest(999, correction="fdr_bh", random_state=0),
                     LogisticRegression())
perm_engines = list(available_engines(PermutationTest))
for engine in perm_engines:  # warm-up, as above
    pipe.set_params(permutationtest__engine=engine).fit(X2[:80], y2[:80])
search2 = GridSearchCV(pipe, {"permutationtest__engine": perm_engines}, cv=3,
                       refit=False).fit(X2, y2)
r2 = search2.cv_results_
for engine, fit, acc in zip(r2["param_permutationtest__engine"], r2["mean_fit_time"],
                            r2["mean_test_score"]):
    print(f"{engine:>10}: fit {1e3 * fit:7.1f} ms, accuracy {acc:.4f}")
print("accuracies identical:", np.unique(r2["mean_test_score"]).size == 1)

# %%
# At this tiny size (80 training samples, 50 features, 999 relabellings) fixed
# costs dominate, and even the one-relabelling-at-a-time ``reference`` loop is
# competitive; ``engine="auto"`` picks numba for a handful of features and
# numpy's matrix product from about a hundred up, where the batched ``W @ X``
# pays off (see the README's permutation benchmark).
