"""Reference k-means kernels: the executable oracle.

Loops over samples and clusters that read like the math, slow on purpose.
Every other engine is gated on agreeing with these functions.  All engines
expose the same three functions with the same signatures:

``lloyd_step(X, sample_weight, centers, squared_norms=None) -> (labels, sums, weights)``
    Assign each sample to its nearest centre (the lowest index wins a tie;
    near ties, within rounding of each other, are decided by scikit-learn's
    expression, ``_ties.settle``) and return the weighted per-cluster sums of the assigned samples and the
    per-cluster total weight, both accumulated in float64.
``assign_labels(X, centers, squared_norms=None) -> labels``
    The assignment step alone.  ``squared_norms``, the squared row norms
    of X (float64, one per row) when the caller knows them, spare an engine
    that needs them (for its near-tie margins) a pass over X; others ignore
    them.
``inertia(X, sample_weight, centers, labels) -> float``
    Weighted sum of squared distances of samples to their assigned centre.
"""

import numpy as np

from ._ties import margin_factor, settle


def squared_distance(x, c):
    """Squared Euclidean distance between two points, ``sum_j (x_j - c_j)^2``."""
    diff = x.astype(np.float64) - c.astype(np.float64)
    return float(diff @ diff)


def nearest_center(x, centers):
    """Index of the closest centre to ``x``, and whether rounding could decide it.

    The first centre wins an exact tie.  When the two smallest squared
    distances are within the tie margin of ``_ties`` (twice its half-distance
    margin), the choice belongs to scikit-learn's expression and the sample
    is reported as a near tie.
    """
    distances = [squared_distance(x, c) for c in centers]
    best_k = 0
    for k in range(1, len(distances)):
        if distances[k] < distances[best_k]:
            best_k = k
    others = [d for k, d in enumerate(distances) if k != best_k]
    runner_up = min(others) if others else np.inf
    largest_center = max(float(np.sqrt(c.astype(np.float64) @ c.astype(np.float64))) for c in centers)
    size = float(np.sqrt(x.astype(np.float64) @ x.astype(np.float64))) + largest_center
    margin = 2 * margin_factor(x.shape[0], x.dtype) * size**2
    return best_k, runner_up - distances[best_k] <= margin


def assign_labels(X, centers, squared_norms=None):
    labels = np.empty(X.shape[0], dtype=np.int32)
    near_ties = []
    for i in range(X.shape[0]):
        labels[i], near_tie = nearest_center(X[i], centers)
        if near_tie:
            near_ties.append(i)
    settle(X, centers, np.array(near_ties, dtype=np.int64), labels)
    return labels


def lloyd_step(X, sample_weight, centers, squared_norms=None):
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    labels = assign_labels(X, centers)
    sums = np.zeros((n_clusters, n_features))
    weights = np.zeros(n_clusters)
    for i in range(n_samples):
        k = labels[i]
        sums[k] += sample_weight[i] * X[i].astype(np.float64)
        weights[k] += sample_weight[i]
    return labels, sums, weights


def inertia(X, sample_weight, centers, labels):
    total = 0.0
    for i in range(X.shape[0]):
        total += sample_weight[i] * squared_distance(X[i], centers[labels[i]])
    return total


# --- sparse input (CSR parts), scikit-learn's sparse Lloyd pass as plain loops ---

def sparse_lloyd_step(data, indices, indptr, sample_weight, centers, centers_squared_norms,
                      ranges, update_centers=True):
    """Labels, and the cluster sums and weights in X's dtype, as ``KMeans`` adds them.

    Each sample goes to the centre with the smallest ``|c|^2 - 2 x.c``, the
    dot product summed over the row's stored entries in order (the first
    centre wins a tie).  Each of scikit-learn's thread ranges (``ranges``)
    adds its samples in order into its own sums, and the ranges' sums are
    then added to zero, in order.
    """
    two = data.dtype.type(2)
    n_clusters, n_features = centers.shape
    labels = np.empty(indptr.size - 1, dtype=np.int32)
    sums = np.zeros((n_clusters, n_features), dtype=data.dtype)
    weights = np.zeros(n_clusters, dtype=data.dtype)
    for start, stop in zip(ranges[:-1], ranges[1:]):
        range_sums = np.zeros_like(sums)
        range_weights = np.zeros_like(weights)
        for i in range(start, stop):
            stored = range(indptr[i], indptr[i + 1])
            best, best_value = 0, np.inf
            for k in range(n_clusters):
                dot = data.dtype.type(0)
                for jj in stored:
                    dot += centers[k, indices[jj]] * data[jj]
                value = centers_squared_norms[k] - two * dot
                if value < best_value:
                    best, best_value = k, value
            labels[i] = best
            range_weights[best] += sample_weight[i]
            for jj in stored:
                range_sums[best, indices[jj]] += data[jj] * sample_weight[i]
        sums += range_sums
        weights += range_weights
    if not update_centers:
        return labels, sums[:0], weights[:0]
    return labels, sums, weights


def sparse_inertia(data, indices, indptr, sample_weight, centers, centers_squared_norms, labels,
                   ranges):
    """Weighted sum of squared distances, in X's dtype, each static range in order."""
    zero = data.dtype.type(0)
    inertia = zero
    for start, stop in zip(ranges[:-1], ranges[1:]):
        range_total = zero
        for i in range(start, stop):
            k = labels[i]
            distance = zero
            for jj in range(indptr[i], indptr[i + 1]):
                center_value = centers[k, indices[jj]]
                difference = data[jj] - center_value
                distance += difference * difference - center_value * center_value
            distance = max(distance + centers_squared_norms[k], zero)
            range_total += distance * sample_weight[i]
        inertia += range_total
    return float(inertia)
