"""
FastKMeans in a Pipeline, and the same answer from every engine
================================================================

``FastKMeans`` is a drop-in for ``sklearn.cluster.KMeans``: it scales inside a
``Pipeline``, and every engine returns the same labels as scikit-learn's Lloyd
for the same data and ``random_state``.

This example clusters simulated data with a known answer key, checks the labels
against scikit-learn's ``KMeans`` and against every installed engine, and shows
how to read which engine ``engine="auto"`` picked.
"""

# %%
# Data with a known answer
# ------------------------
# :func:`skfast.datasets.make_kmeans_scenario` draws Gaussian clusters stressed
# in one way; ``"imbalanced"`` puts 20 times more points in the first cluster
# than in each other one, a case where k-means is easily fooled.

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfast import FastKMeans, available_engines
from skfast.datasets import make_kmeans_scenario

X, y_true = make_kmeans_scenario("imbalanced", n_samples=3_000, random_state=0)
print("X shape:", X.shape, " cluster sizes:", np.bincount(y_true))

# %%
# A Pipeline, exactly as with KMeans
# ----------------------------------
# ``FastKMeans`` takes the same parameters as ``KMeans``; ``engine="auto"``
# (the default) chooses an engine from the data shape and records it in
# ``engine_``. With the same ``random_state`` the k-means++ initial centres
# are scikit-learn's own, so the labels are identical, not merely similar.

pipe = make_pipeline(StandardScaler(), FastKMeans(n_clusters=4, random_state=0))
labels = pipe.fit_predict(X)
print("engine that ran:", pipe[-1].engine_)
print("adjusted Rand index vs the truth:", round(adjusted_rand_score(y_true, labels), 4))

reference = make_pipeline(StandardScaler(), KMeans(n_clusters=4, random_state=0))
print("identical to sklearn KMeans:", np.array_equal(labels, reference.fit_predict(X)))

# %%
# Every engine, the same labels
# -----------------------------
# ``skfast.available_engines(FastKMeans)`` lists the engines whose optional
# dependencies are installed (``jax`` needs ``pip install 'skfast[jax]'``).
# ``reference`` is the slow, readable loop the fast engines are validated
# against: speed follows validation.

for engine in available_engines(FastKMeans):
    est = make_pipeline(StandardScaler(), FastKMeans(n_clusters=4, random_state=0, engine=engine))
    same = np.array_equal(est.fit_predict(X), labels)
    print(f"{engine:>9}: identical labels = {same}, n_iter_ = {est[-1].n_iter_}")

# %%
# The clusters found
# ------------------
# Coloured by the label ``FastKMeans`` assigned, on the first two features.

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(X[:, 0], X[:, 1], c=labels, s=4, cmap="tab10")
ax.set_xlabel("feature 0")
ax.set_ylabel("feature 1")
ax.set_title("FastKMeans, imbalanced clusters (first two features)")
fig.tight_layout()
plt.show()
