"""
FastKMeans in a Pipeline, and the same answer from every engine
================================================================

``FastKMeans`` is a drop-in for ``sklearn.cluster.KMeans``: it scales inside a
``Pipeline``, and every engine returns the same labels as scikit-learn's Lloyd
for the same data and ``random_state``.
"""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfast import FastKMeans
from skfast.datasets import make_kmeans_scenario

X, y_true = make_kmeans_scenario("imbalanced", n_samples=3_000, random_state=0)

pipe = make_pipeline(StandardScaler(), FastKMeans(n_clusters=4, random_state=0))
labels = pipe.fit_predict(X)
print("engine that ran:", pipe[-1].engine_)

reference = make_pipeline(StandardScaler(), KMeans(n_clusters=4, random_state=0))
print("identical to sklearn KMeans:", np.array_equal(labels, reference.fit_predict(X)))

for engine in FastKMeans._engine_table.available():
    est = make_pipeline(StandardScaler(), FastKMeans(n_clusters=4, random_state=0, engine=engine))
    print(f"{engine:>9}: identical labels = {np.array_equal(est.fit_predict(X), labels)}")

# %%
# The clusters found, coloured by label.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(X[:, 0], X[:, 1], c=labels, s=4, cmap="tab10")
ax.set_title("FastKMeans, imbalanced clusters (first two features)")
plt.show()
