"""jax engine: the numpy engine's matrix products, jit-compiled by XLA.

The arithmetic is literally the numpy engine's (:func:`~skfast.permutation._numpy.statistics`
is called with ``jax.numpy``); what jax adds is fusion of the comparison and
counting into the compiled program and, where one is installed, a GPU.  The
data are moved to the device once per task (:func:`prepare`); each batch then
ships only its ``(batch, n_samples)`` relabellings.  Computation is float64
inside :func:`~skfast._engines.jax_dtype_context`, never touching the global
jax configuration.  Batches are padded to a power of two rows so that a fit
compiles a handful of shapes, not one per batch length.

Same three functions, same signatures as every other engine module.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._engines import jax_dtype_context
from ._numpy import statistics

__all__ = ["FEATURE_TILE", "prepare", "batch_statistic", "batch_counts"]

#: Statistics held at once: the whole (batch, n_features) block in one compiled program.
FEATURE_TILE = None

_MIN_PADDED_ROWS = 8


def prepare(X, squares):
    """The device's copy of ``X`` and its column sums (of ``X**2`` too, for Welch's t).

    Parameters and return value as in :func:`skfast.permutation._numpy.prepare`;
    ``X**2`` is made inside each batch's compiled program, never held.
    """
    with jax_dtype_context(np.float64):
        X_device = jnp.asarray(X)
        Q = jnp.square(X_device).sum(axis=0) if squares else None
        return X_device, X_device.sum(axis=0), Q


def _padded(group1):
    n_rows = group1.shape[0]
    padded_rows = max(_MIN_PADDED_ROWS, 1 << (n_rows - 1).bit_length())
    if padded_rows == n_rows:
        return group1
    return np.concatenate([group1, np.zeros((padded_rows - n_rows, group1.shape[1]))])


@partial(jax.jit, static_argnames=("n_group1", "statistic"))
def _statistics(X, S, Q, group1, var_floor, n_group1, statistic):
    return statistics(jnp, X, S, Q, group1, n_group1, var_floor, statistic)


@partial(jax.jit, static_argnames=("n_group1", "statistic", "alternative", "need_max"))
def _counts(X, S, Q, group1, n_valid, threshold, var_floor, n_group1, statistic,
            alternative, need_max):
    extremeness = statistics(jnp, X, S, Q, group1, n_group1, var_floor, statistic)
    if alternative == "two-sided":
        extremeness = jnp.abs(extremeness)
    elif alternative == "less":
        extremeness = -extremeness
    valid = jnp.arange(group1.shape[0]) < n_valid
    counts = jnp.sum((extremeness >= threshold) & valid[:, None], axis=0, dtype=jnp.int64)
    maxima = extremeness.max(axis=1) if need_max else jnp.zeros(0)
    return counts, maxima


def batch_statistic(operands, group1, n_group1, var_floor, statistic):
    """Statistic of every relabelling in ``group1``.

    Parameters and return value as in :func:`skfast.permutation._numpy.batch_statistic`.
    """
    with jax_dtype_context(np.float64):
        stats = _statistics(*operands, _padded(group1), var_floor, n_group1=int(n_group1),
                            statistic=statistic)
        return np.asarray(stats)[: group1.shape[0]]


def batch_counts(operands, group1, n_group1, threshold, var_floor, statistic, alternative,
                 need_max):
    """Per-feature counts of relabellings at least as extreme, one compiled program per batch.

    Parameters and return values as in :func:`skfast.permutation._numpy.batch_counts`.
    """
    with jax_dtype_context(np.float64):
        counts, maxima = _counts(*operands, _padded(group1), group1.shape[0], threshold,
                                 var_floor, n_group1=int(n_group1), statistic=statistic,
                                 alternative=alternative, need_max=bool(need_max))
        return (np.asarray(counts).astype(np.int64),
                np.asarray(maxima)[: group1.shape[0]].astype(np.float64))
