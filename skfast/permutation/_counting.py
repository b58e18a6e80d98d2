"""Counting extreme relabellings in one compiled pass over a block of statistics.

Shared by the engines that form the ``(batch, features)`` block of statistics
as an array (``numpy``): ``|T| >= threshold`` (or the one-sided versions),
the per-feature counts and, for max-T, each relabelling's largest
extremeness, read from the block once instead of in four numpy passes with
their temporaries.  Counts and maxima are exact, so the result does not
depend on how the rows are split over threads.
"""

import numpy as np
from numba import njit, prange

#: Rows of statistics per parallel block.
_BLOCK_ROWS = 64
ALTERNATIVE_SIGN = {"two-sided": 0.0, "greater": 1.0, "less": -1.0}


@njit(cache=True, parallel=True, nogil=True)
def _count(T, threshold, sign, need_max, n_blocks):
    n_rows, n_features = T.shape
    partial = np.zeros((n_blocks, n_features), dtype=np.int64)
    maxima = np.full(n_rows if need_max else 0, -np.inf)
    block = -(-n_rows // n_blocks)
    for b in prange(n_blocks):
        counts = partial[b]
        for r in range(b * block, min((b + 1) * block, n_rows)):
            # Separate loops per case: branch-free, they vectorise.
            if sign == 0.0:
                for j in range(n_features):
                    counts[j] += abs(T[r, j]) >= threshold[j]
            else:
                for j in range(n_features):
                    counts[j] += sign * T[r, j] >= threshold[j]
            if need_max:
                largest = -np.inf
                for j in range(n_features):
                    largest = max(largest, abs(T[r, j]) if sign == 0.0 else sign * T[r, j])
                maxima[r] = largest
    return partial, maxima


def count_extreme(T, threshold, alternative, need_max):
    """Per-feature counts of ``extremeness(T) >= threshold``, and row maxima.

    Parameters
    ----------
    T : ndarray of shape (n_rows, n_features)
        Statistics of a batch of relabellings.
    threshold : ndarray of shape (n_features,)
    alternative : {"two-sided", "greater", "less"}
    need_max : bool

    Returns
    -------
    counts : ndarray of shape (n_features,), int64
    maxima : ndarray of shape (n_rows,) (empty unless ``need_max``)
    """
    n_blocks = max(1, -(-T.shape[0] // _BLOCK_ROWS))
    partial, maxima = _count(np.ascontiguousarray(T), np.ascontiguousarray(threshold),
                             ALTERNATIVE_SIGN[alternative], need_max, n_blocks)
    return partial.sum(axis=0), maxima
