"""Hostile inputs: ordinary data drawn to break fast engines.

The first wave of engines was gated on friendly simulations and broke on
data users have every day: prices rounded to a tick and held, step series,
integer data with exact ties, duplicated rows, constant columns, float32 with
large offsets, tiny groups, extreme scales.  Each function here draws one
such case from a seed, so a test can run every engine on many of them and
compare with the oracle (in the spirit of numbagg's property tests, with
seeded loops instead of a shrinking search).

Every generator takes ``(kind, seed)`` and returns plain numpy arrays; the
``*_KINDS`` tuples list the kinds.
"""

import numpy as np

__all__ = ["PRICE_KINDS", "hostile_prices", "KMEANS_KINDS", "hostile_kmeans", "kmeans_rounding_ties",
           "PERMUTATION_KINDS", "hostile_permutation", "SIGN_FLIP_KINDS", "hostile_sign_flip"]

PRICE_KINDS = ("tick_held", "step", "flat_then_walk", "integer", "two_levels", "float32_ticks",
               "subnormal", "huge", "tiny_walk")


def hostile_prices(kind, seed, n_bars=400):
    """One hostile price series, shape (n_bars, 1), strictly positive.

    Kinds: ``tick_held`` (a walk rounded to a 0.05 tick, each quote held for
    1-7 bars), ``step`` (100 -> 200 -> 150), ``flat_then_walk`` (a long flat
    stretch, then a walk), ``integer`` (small integer prices that revisit
    levels), ``two_levels`` (alternating runs of two prices),
    ``float32_ticks`` (a tick walk stored in float32), ``subnormal`` (a held
    tick walk scaled into the subnormal range), ``huge`` (scaled to 1e300),
    ``tiny_walk`` (relative moves of 1e-13, near the rounding of the features).
    """
    rng = np.random.default_rng(seed)

    def tick_walk(tick, sigma=0.004):
        walk = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n_bars)))
        held = np.repeat(walk, rng.integers(1, 8, size=n_bars))[:n_bars]
        return np.maximum(np.round(held / tick) * tick, tick)

    if kind == "tick_held":
        x = tick_walk(0.05)
    elif kind == "step":
        third = n_bars // 3
        x = np.r_[np.full(third, 100.0), np.full(third, 200.0), np.full(n_bars - 2 * third, 150.0)]
    elif kind == "flat_then_walk":
        flat = n_bars // 2
        x = np.r_[np.full(flat, 50.0), 50.0 + np.cumsum(rng.choice([-0.25, 0.0, 0.25], n_bars - flat))]
    elif kind == "integer":
        x = 20.0 + np.cumsum(rng.integers(-1, 2, size=n_bars)).clip(-15, None)
    elif kind == "two_levels":
        runs = rng.integers(3, 40, size=n_bars)
        levels = np.resize([10.0, 10.5], runs.size)
        x = np.repeat(levels, runs)[:n_bars]
    elif kind == "float32_ticks":
        x = tick_walk(0.01).astype(np.float32).astype(np.float64)
    elif kind == "subnormal":
        x = tick_walk(1.0) * 5e-323
    elif kind == "huge":
        x = tick_walk(0.05) * 1e300
    elif kind == "tiny_walk":
        x = 1000.0 * (1.0 + np.cumsum(rng.normal(0.0, 1e-13, n_bars)))
    else:
        raise ValueError(f"unknown price kind {kind!r}; expected one of {PRICE_KINDS}")
    return x[:, None]


KMEANS_KINDS = ("integer_grid", "duplicates", "few_distinct", "constant_column", "float32_offset",
                "tiny_scale", "huge_scale", "two_weighted")


def hostile_kmeans(kind, seed, n_samples=250):
    """One hostile k-means case: ``(X, n_clusters, sample_weight or None)``.

    Kinds: ``integer_grid`` (points of a 5 x 5 integer grid: exact distance
    ties), ``duplicates`` (each row repeated 1-6 times), ``few_distinct``
    (more clusters than distinct points), ``constant_column`` (a feature
    that never varies), ``float32_offset`` (float32 with an offset of 1e4),
    ``tiny_scale`` / ``huge_scale`` (blobs times 1e-150 / 1e150),
    ``two_weighted`` (weight on only two samples).
    """
    rng = np.random.default_rng(seed)
    blobs = rng.normal(size=(n_samples, 3)) + rng.integers(0, 3, size=(n_samples, 1)) * 4.0
    weight = None
    n_clusters = int(rng.integers(2, 7))
    if kind == "integer_grid":
        X = rng.integers(0, 5, size=(n_samples, 2)).astype(np.float64)
    elif kind == "duplicates":
        X = np.repeat(blobs[: n_samples // 3], rng.integers(1, 7, size=n_samples // 3), axis=0)
    elif kind == "few_distinct":
        X = rng.integers(0, 2, size=(n_samples, 2)).astype(np.float64)
        n_clusters = 6
    elif kind == "constant_column":
        X = np.column_stack([blobs, np.full(n_samples, 7.0)])
    elif kind == "float32_offset":
        X = (blobs + 1e4).astype(np.float32)
    elif kind == "tiny_scale":
        X = blobs * 1e-150
    elif kind == "huge_scale":
        X = blobs * 1e150
    elif kind == "two_weighted":
        X = blobs
        weight = np.zeros(n_samples)
        weight[rng.choice(n_samples, 2, replace=False)] = 1.0
    else:
        raise ValueError(f"unknown k-means kind {kind!r}; expected one of {KMEANS_KINDS}")
    return np.ascontiguousarray(X), n_clusters, weight


PERMUTATION_KINDS = ("integer_ties", "constant_columns", "tiny_group", "unbalanced", "tiny_scale",
                     "huge_scale", "binary", "offset")


def hostile_permutation(kind, seed, n_samples=24, n_features=6):
    """One hostile two-group case: ``(X, y)``.

    Kinds: ``integer_ties`` (small integers, many exact ties among the
    relabelled statistics), ``constant_columns`` (some features constant),
    ``tiny_group`` (2 samples in the first group), ``unbalanced`` (3 against
    the rest), ``tiny_scale`` / ``huge_scale`` (normal data times 1e-150 /
    1e150), ``binary`` (0/1 data), ``offset`` (unit noise on an offset of 1e8).
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    X = rng.normal(size=(n_samples, n_features))
    if kind == "integer_ties":
        X = rng.integers(0, 4, size=(n_samples, n_features)).astype(np.float64)
    elif kind == "constant_columns":
        X[:, ::2] = 3.0
    elif kind == "tiny_group":
        y = (np.arange(n_samples) >= 2).astype(int)
    elif kind == "unbalanced":
        y = (np.arange(n_samples) < n_samples - 3).astype(int)
    elif kind == "tiny_scale":
        X = X * 1e-150
    elif kind == "huge_scale":
        X = X * 1e150
    elif kind == "binary":
        X = rng.integers(0, 2, size=(n_samples, n_features)).astype(np.float64)
    elif kind == "offset":
        X = X + 1e8
    else:
        raise ValueError(f"unknown permutation kind {kind!r}; expected one of {PERMUTATION_KINDS}")
    return X, y[rng.permutation(n_samples)]


#: Kinds of :func:`hostile_sign_flip`.
SIGN_FLIP_KINDS = ("integer_ties", "zero_differences", "zero_columns", "constant_columns",
                   "equal_magnitudes", "offset", "tiny_scale", "huge_scale", "two_pairs")


def hostile_sign_flip(kind, seed, n_samples=12, n_features=6):
    """One hostile one-sample case (paired differences): ``X``.

    Kinds: ``integer_ties`` (small integers of both signs: many flips tie
    exactly), ``zero_differences`` (a third of the entries exactly 0),
    ``zero_columns`` / ``constant_columns`` (some features all 0 / all 2.5),
    ``equal_magnitudes`` (+-3 to within 1e-12: the flip that aligns the
    signs makes the t statistic's variance cancel), ``offset`` (unit noise
    on 1e6: the same at the observed data), ``tiny_scale`` / ``huge_scale``
    (normal data times 1e-150 / 1e150), ``two_pairs`` (n = 2).
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if kind == "integer_ties":
        X = rng.integers(-2, 3, size=(n_samples, n_features)).astype(np.float64)
    elif kind == "zero_differences":
        X[rng.random(X.shape) < 1 / 3] = 0.0
    elif kind == "zero_columns":
        X[:, ::2] = 0.0
    elif kind == "constant_columns":
        X[:, ::2] = 2.5
    elif kind == "equal_magnitudes":
        X = np.where(X < 0, -3.0, 3.0) * (1 + 1e-12 * rng.normal(size=X.shape))
    elif kind == "offset":
        X = X + 1e6
    elif kind == "tiny_scale":
        X = X * 1e-150
    elif kind == "huge_scale":
        X = X * 1e150
    elif kind == "two_pairs":
        X = X[:2]
    else:
        raise ValueError(f"unknown sign-flip kind {kind!r}; expected one of {SIGN_FLIP_KINDS}")
    return X


def kmeans_rounding_ties(n_samples, dtype, n_features=64, n_clusters=10, seed=0):
    """Rows on the bisector of two centres: which one wins is decided by the last bit."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, n_features)).astype(dtype)
    first = rng.integers(0, n_clusters, n_samples)
    second = (first + 1 + rng.integers(0, n_clusters - 1, n_samples)) % n_clusters
    middle = (centers[first].astype(float) + centers[second]) / 2
    axis = centers[second].astype(float) - centers[first]
    offset = rng.standard_normal((n_samples, n_features))
    offset -= (offset * axis).sum(1, keepdims=True) / (axis * axis).sum(1, keepdims=True) * axis
    return np.ascontiguousarray(middle + 0.3 * offset, dtype=dtype), centers
