"""Simulation scenarios for k-means: data with a known answer key."""

import numpy as np
from sklearn.utils import check_random_state

KMEANS_SCENARIOS = (
    "separated",
    "overlapping",
    "imbalanced",
    "outliers",
    "high_dim",
    "duplicates",
    "float32",
)


def make_kmeans_scenario(scenario="separated", *, n_samples=600, n_features=4, n_clusters=4,
                         random_state=None):
    """Gaussian clusters stressed in one way, with their true labels.

    Parameters
    ----------
    scenario : {"separated", "overlapping", "imbalanced", "outliers", \
"high_dim", "duplicates", "float32"}, default="separated"
        ``separated``: centres 10 standard deviations apart. ``overlapping``:
        centres 1.5 standard deviations apart (pairwise distances are exact
        when ``n_clusters <= n_features``). ``imbalanced``: the first
        cluster holds 20 times as many points as each other one. ``outliers``:
        1% of the points replaced by uniform noise spanning 10 times the data
        range (labelled -1). ``high_dim``: 256 features. ``duplicates``: every
        point repeated 3 times. ``float32``: ``separated`` stored as float32.
    n_samples : int, default=600
        Number of points (before duplication).
    n_features : int, default=4
        Number of features (256 for ``high_dim``).
    n_clusters : int, default=4
        Number of true clusters.
    random_state : int, RandomState instance or None, default=None
        Seed of the simulation.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The points, C-contiguous float64 (float32 for ``float32``).
    y : ndarray of shape (n_samples,)
        True cluster of each point (-1 for an outlier).

    Examples
    --------
    >>> from skfast.datasets import make_kmeans_scenario
    >>> X, y = make_kmeans_scenario("imbalanced", random_state=0)
    >>> X.shape, int((y == 0).sum()) > 10 * int((y == 1).sum())
    ((600, 4), True)
    """
    if scenario not in KMEANS_SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {KMEANS_SCENARIOS}")
    rng = check_random_state(random_state)
    if scenario == "high_dim":
        n_features = 256
    spacing = 1.5 if scenario == "overlapping" else 10.0
    # Orthonormal directions put every pair of centres exactly `spacing` apart
    # (random directions when there are more clusters than features).
    directions = rng.standard_normal((n_features, n_clusters))
    if n_clusters <= n_features:
        directions = np.linalg.qr(directions)[0]
    centres = spacing / np.sqrt(2.0) * (directions / np.linalg.norm(directions, axis=0)).T
    if scenario == "imbalanced":
        share = np.r_[20.0, np.ones(n_clusters - 1)]
    else:
        share = np.ones(n_clusters)
    y = rng.choice(n_clusters, size=n_samples, p=share / share.sum())
    X = centres[y] + rng.standard_normal((n_samples, n_features))
    if scenario == "outliers":
        n_out = max(1, n_samples // 100)
        idx = rng.choice(n_samples, size=n_out, replace=False)
        span = X.max(axis=0) - X.min(axis=0)
        X[idx] = X.min(axis=0) - 5 * span + rng.uniform(size=(n_out, n_features)) * 10 * span
        y[idx] = -1
    if scenario == "duplicates":
        X, y = np.repeat(X, 3, axis=0), np.repeat(y, 3)
    if scenario == "float32":
        X = X.astype(np.float32)
    return np.ascontiguousarray(X), y
