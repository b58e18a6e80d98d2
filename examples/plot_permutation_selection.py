"""
Feature selection by permutation test: maxT and Benjamini-Hochberg
==================================================================

:class:`~skfast.PermutationTest` tests every feature for a difference between
two classes by relabelling the samples, and as a scikit-learn selector keeps
the features whose (corrected) p-value is at most ``alpha``. With many
features some null ones look different by chance, so a multiple-testing
correction decides how many false discoveries you accept:

* ``correction="maxT"``: Westfall-Young max-statistic adjustment, controlling
  the family-wise error rate (the chance of *any* false positive);
* ``correction="fdr_bh"``: Benjamini-Hochberg, controlling the false discovery
  rate (the expected *share* of false positives among the selected).

This example runs both on simulated data where we know which features truly
differ, counts true and false positives, and puts the selector in front of a
classifier.
"""

# %%
# Data with a known answer
# ------------------------
# 300 features of unit-variance noise for 120 samples; in the first 10 the
# mean of class 1 is shifted by 0.8 standard deviations, the other 290 are
# null.

import numpy as np

from skfast import PermutationTest
from skfast.datasets import make_two_group_data

n_features, n_true = 300, 10
effect = np.r_[np.full(n_true, 0.8), np.zeros(n_features - n_true)]
X, y = make_two_group_data(120, n_features, effect=effect, random_state=0)
truly_different = effect != 0

# %%
# Two corrections, one pass over the relabellings
# -----------------------------------------------
# ``maxT`` compares statistics across features, so we use Welch's t, which
# puts every feature on the same scale. 5,999 relabellings give p-values in
# steps of 1/6,000; with ``alpha=0.05`` the rule has level exactly 5%.
#
# The number of relabellings matters more than it seems. A permutation
# p-value is never below ``1 / (n_permutations + 1)``, while BH selects the
# single most significant of ``m`` features only if its p-value is at most
# ``alpha / m``. With ``m = 300`` and ``alpha = 0.05`` that takes at least
# ``m / alpha - 1 = 5,999`` relabellings: with 1,999, BH could only select
# features in groups of three or more, and would sometimes select nothing.

alpha = 0.05
tests = {}
for correction in ("maxT", "fdr_bh"):
    tests[correction] = PermutationTest(5_999, statistic="welch_t", correction=correction,
                                        alpha=alpha, random_state=0).fit(X, y)

uncorrected = tests["maxT"].pvalues_ <= alpha
print(f"{'rule':>12} {'selected':>9} {'true pos.':>10} {'false pos.':>11}")
for name, support in [("uncorrected", uncorrected)] + [
        (c, t.get_support()) for c, t in tests.items()]:
    tp = int((support & truly_different).sum())
    fp = int((support & ~truly_different).sum())
    print(f"{name:>12} {int(support.sum()):9d} {tp:10d} {fp:11d}")

# %%
# Without a correction about 5% of the 290 null features pass by chance. maxT
# is the strictest (it guards against even one false positive); BH lets
# through more of the true features at the price of occasionally admitting a
# null one. Both sets of uncorrected p-values are identical: the correction
# only changes ``pvalues_corrected_`` and the selection.

print("same uncorrected p-values:",
      np.array_equal(tests["maxT"].pvalues_, tests["fdr_bh"].pvalues_))

# %%
# The p-values, feature by feature
# --------------------------------
# Features above the dashed line (``-log10(alpha)``) are selected. The first
# 10 (orange) truly differ.

import matplotlib.pyplot as plt

index = np.arange(n_features)
colours = np.where(truly_different, "tab:orange", "tab:blue")
floor = 1 / (tests["maxT"].n_permutations_ + 1)  # smallest attainable p-value
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
panels = [("uncorrected", tests["maxT"].pvalues_),
          ("maxT adjusted", tests["maxT"].pvalues_corrected_),
          ("BH adjusted", tests["fdr_bh"].pvalues_corrected_)]
for ax, (title, p) in zip(axes, panels):
    ax.scatter(index, -np.log10(np.maximum(p, floor)), c=colours, s=10)
    ax.axhline(-np.log10(alpha), color="k", ls="--", lw=1, label=f"alpha = {alpha}")
    ax.set_title(title)
    ax.set_xlabel("feature index")
axes[0].set_ylabel("-log10 p-value")
axes[0].legend(loc="upper right")
fig.tight_layout()

# %%
# Selection before a classifier, inside cross-validation
# ------------------------------------------------------
# As a selector, ``PermutationTest`` belongs in a ``Pipeline``: each
# cross-validation fold then selects features from its own training part
# only, so the accuracy is not inflated by having peeked at the test samples.
# We compare with a logistic regression on all 300 features.

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

cv = StratifiedKFold(4, shuffle=True, random_state=0)
models = {"all features": LogisticRegression(max_iter=1_000)}
for correction in ("maxT", "fdr_bh"):
    models[f"{correction} selection"] = make_pipeline(
        PermutationTest(5_999, statistic="welch_t", correction=correction, alpha=alpha,
                        random_state=0),
        LogisticRegression(max_iter=1_000))

for name, model in models.items():
    scores = cross_val_score(model, X, y, cv=cv)
    print(f"{name:>16}: accuracy {scores.mean():.3f} +/- {scores.std():.3f}")

# %%
# With 120 samples and 300 features, a model on all of them spends much of
# its capacity fitting noise. BH, which keeps nearly every true feature and
# few null ones, gives the best accuracy here; maxT, stricter, gives up some
# true features to avoid any false one. Which correction suits depends on what
# costs more: a false discovery (maxT) or a missed one (BH).
