"""
Paired and one-sample designs: sign-flip tests with a max-t correction
======================================================================

Many permutation-test users have no two independent groups but one group
measured twice: the same subjects before and after, at rest and during a
task, left and right hemisphere. The null hypothesis is then that each
feature's mean *within-pair difference* is zero, and the permutations that
respect it flip the sign of whole pairs, as :func:`mne.stats.permutation_t_test`
does for sensors and as :func:`scipy.stats.permutation_test` does with
``permutation_type="samples"``.

:class:`~skfast.PermutationTest` runs it with ``design="paired"`` (``y`` the
two conditions, ``groups`` the pair of every sample) or ``design="one_sample"``
(the differences themselves as ``X``). This example simulates 24 subjects
measured in two conditions on 2,000 features, of which 20 truly change, and
compares the sign-flip test with the paired t-test.
"""

# %%
# Data with a known answer
# ------------------------
# Every subject has their own level on every feature (much larger than the
# effect), so a two-sample test that ignores the pairing would see mostly
# between-subject spread. The first 20 features rise by 1.5 within-subject
# standard deviation in the task.

import numpy as np
from scipy import stats

from skfast import PermutationTest

rng = np.random.default_rng(0)
n_subjects, n_features, n_true = 24, 2_000, 20
level = 3.0 * rng.normal(size=(n_subjects, n_features))
rest = level + rng.normal(size=(n_subjects, n_features))
task = level + rng.normal(size=(n_subjects, n_features))
task[:, :n_true] += 1.5
X = np.vstack([rest, task])
condition = np.repeat(["rest", "task"], n_subjects)
subject = np.tile(np.arange(n_subjects), 2)
truly_changed = np.arange(n_features) < n_true

# %%
# The paired sign-flip test with max-t
# ------------------------------------
# With ``statistic="t"`` and ``correction="maxT"`` this is mne's
# ``permutation_t_test``: each flip's largest ``|t|`` over the features makes
# the null distribution that every feature is compared with, which controls
# the family-wise error rate. ``statistic_`` is the paired t of ``task - rest``
# (``classes_[1]`` minus ``classes_[0]``).

test = PermutationTest(9_999, design="paired", statistic="t", correction="maxT",
                       random_state=0).fit(X, condition, groups=subject)
print(f"flips: {test.n_permutations_:,} (exact: {test.exact_}), engine: {test.engine_}")
selected = test.get_support()
print(f"selected {selected.sum()} features: {np.sum(selected & truly_changed)} true, "
      f"{np.sum(selected & ~truly_changed)} false")

# %%
# The same statistic as scipy's paired t-test
# -------------------------------------------
# The observed statistic is :func:`scipy.stats.ttest_rel`'s; the uncorrected
# sign-flip p-values track its parametric ones, without its normality
# assumption.

paired_t = stats.ttest_rel(task, rest)
print("largest |t| difference from scipy:",
      f"{np.max(np.abs(test.statistic_ - paired_t.statistic)):.1e}")

# %%
# With only a few pairs, every flip
# ---------------------------------
# For 12 pairs there are 2**12 = 4,096 distinct flips: fewer than
# ``n_permutations``, so all are enumerated and the p-values are exact
# (``exact_``); they equal scipy's ``permutation_test(...,
# permutation_type="samples", n_resamples=np.inf)``.

few = slice(0, 12)
differences = task[few, :5] - rest[few, :5]
exact = PermutationTest(9_999, design="one_sample").fit(differences)
reference = stats.permutation_test((task[few, :5], rest[few, :5]),
                                   lambda a, b, axis: np.mean(a - b, axis=axis),
                                   permutation_type="samples", n_resamples=np.inf,
                                   vectorized=True)
print("exact:", exact.exact_, "| same p-values as scipy:",
      np.array_equal(exact.pvalues_, reference.pvalue))

# %%
# Looking at the selection
# ------------------------
# Corrected p-values against the paired t statistic: the selected features
# (p <= 0.05 after max-t) are those with the largest ``|t|``.

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.scatter(test.statistic_[~truly_changed], test.pvalues_corrected_[~truly_changed], s=6,
           color="0.6", label="unchanged")
ax.scatter(test.statistic_[truly_changed], test.pvalues_corrected_[truly_changed], s=14,
           color="C3", label="changed")
ax.axhline(0.05, color="k", lw=0.8, ls="--")
ax.set(xlabel="paired t (task - rest)", ylabel="max-t corrected p-value", yscale="log")
ax.legend()
fig.tight_layout()
