"""Reference k-means kernels: the executable oracle.

Loops over samples and clusters that read like the math, slow on purpose.
Every other engine is gated on agreeing with these functions.  All engines
expose the same three functions with the same signatures:

``lloyd_step(X, sample_weight, centers) -> (labels, sums, weights)``
    Assign each sample to its nearest centre (the lowest index wins a tie)
    and return the weighted per-cluster sums of the assigned samples and the
    per-cluster total weight, both accumulated in float64.
``assign_labels(X, centers) -> labels``
    The assignment step alone.
``inertia(X, sample_weight, centers, labels) -> float``
    Weighted sum of squared distances of samples to their assigned centre.
"""

import numpy as np


def squared_distance(x, c):
    """Squared Euclidean distance between two points, ``sum_j (x_j - c_j)^2``."""
    diff = x.astype(np.float64) - c.astype(np.float64)
    return float(diff @ diff)


def nearest_center(x, centers):
    """Index of the closest centre to ``x``; the first one wins a tie."""
    best_k, best_dist = 0, np.inf
    for k in range(centers.shape[0]):
        dist = squared_distance(x, centers[k])
        if dist < best_dist:
            best_k, best_dist = k, dist
    return best_k


def lloyd_step(X, sample_weight, centers):
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    labels = np.empty(n_samples, dtype=np.int32)
    sums = np.zeros((n_clusters, n_features))
    weights = np.zeros(n_clusters)
    for i in range(n_samples):
        k = nearest_center(X[i], centers)
        labels[i] = k
        sums[k] += sample_weight[i] * X[i].astype(np.float64)
        weights[k] += sample_weight[i]
    return labels, sums, weights


def assign_labels(X, centers):
    return np.array([nearest_center(x, centers) for x in X], dtype=np.int32)


def inertia(X, sample_weight, centers, labels):
    total = 0.0
    for i in range(X.shape[0]):
        total += sample_weight[i] * squared_distance(X[i], centers[labels[i]])
    return total
