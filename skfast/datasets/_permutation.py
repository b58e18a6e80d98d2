"""Two-group data for the permutation test: null and shifted features with a known answer."""

import numpy as np
from sklearn.utils import check_random_state

TWO_GROUP_DISTRIBUTIONS = ("normal", "t3", "discrete")


def make_two_group_data(n_samples=100, n_features=10, *, effect=0.0, balance=0.5,
                        distribution="normal", offset=0.0, random_state=None):
    """Two groups whose features differ in mean by a known shift.

    Every feature is independent noise with unit variance; class 1 is then
    shifted by ``effect`` (per feature) noise standard deviations.  Features
    with zero effect are null: any difference between the groups is chance.

    Parameters
    ----------
    n_samples : int, default=100
        Number of samples.
    n_features : int, default=10
        Number of features.
    effect : float or array-like of shape (n_features,), default=0.0
        Shift of class 1's mean, in noise standard deviations.
    balance : float, default=0.5
        Share of samples in class 1, rounded to a whole number of samples
        (at least one in each class).
    distribution : {"normal", "t3", "discrete"}, default="normal"
        Noise: standard normal; Student's t with 3 degrees of freedom scaled
        to unit variance (heavy tails); or a binomial(4, 1/2) count minus 2,
        five values with many ties.
    offset : float, default=0.0
        Added to every value: a large offset stresses rounding (cancellation).
    random_state : int, RandomState instance or None, default=None
        Seed of the simulation.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The data, C-contiguous float64.
    y : ndarray of shape (n_samples,)
        Class of each sample, 0 or 1, in random order.

    Examples
    --------
    >>> from skfast.datasets import make_two_group_data
    >>> X, y = make_two_group_data(200, 3, effect=[1.0, 0.0, 0.0], balance=0.25,
    ...                            random_state=0)
    >>> X.shape, int(y.sum())
    ((200, 3), 50)
    >>> (X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)).round(1)
    array([ 0.8,  0.1, -0.1])
    """
    if distribution not in TWO_GROUP_DISTRIBUTIONS:
        raise ValueError(
            f"unknown distribution {distribution!r}; choose from {TWO_GROUP_DISTRIBUTIONS}"
        )
    n_group1 = int(round(balance * n_samples))
    if not 1 <= n_group1 <= n_samples - 1:
        raise ValueError(
            f"balance={balance} with n_samples={n_samples} leaves a class empty."
        )
    effect = np.broadcast_to(np.asarray(effect, dtype=np.float64), (n_features,))
    rng = check_random_state(random_state)
    y = np.zeros(n_samples, dtype=np.int64)
    y[:n_group1] = 1
    rng.shuffle(y)
    shape = (n_samples, n_features)
    if distribution == "normal":
        noise = rng.standard_normal(shape)
    elif distribution == "t3":
        noise = rng.standard_t(3, size=shape) / np.sqrt(3.0)
    else:
        noise = rng.binomial(4, 0.5, size=shape) - 2.0
    X = noise + offset + y[:, np.newaxis] * effect
    return np.ascontiguousarray(X), y
