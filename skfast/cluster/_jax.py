"""JAX k-means kernels: one jit-compiled array program per step.

The same distance identity as the NumPy engine, written once for any device
jax runs on (CPU here, a GPU when one is present).  Arithmetic happens in the
input's precision: float64 under a scoped ``jax.enable_x64`` for float64 X,
float32 otherwise, leaving the user's global jax configuration untouched.
Same signatures as :mod:`skfast.cluster._reference`.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._engines import jax_dtype_context
from ._ties import margin_factor, settle


def _nearest(X, centers, factor):
    """Labels by ``|c|^2/2 - x.c``, and which samples are near ties (``_ties``)."""
    half_norms = 0.5 * jnp.sum(centers * centers, axis=1)
    values = half_norms[None, :] - X @ centers.T
    labels = jnp.argmin(values, axis=1).astype(jnp.int32)
    if centers.shape[0] == 1:
        return labels, jnp.zeros(X.shape[0], dtype=bool)
    two = -jax.lax.top_k(-values, 2)[0]
    margin = 2.0 * factor * (jnp.sum(X * X, axis=1) + 2.0 * half_norms.max())
    return labels, two[:, 1] - two[:, 0] <= margin


@partial(jax.jit, static_argnames="n_clusters")
def _sums(X, sample_weight, labels, n_clusters):
    sums = jax.ops.segment_sum(X * sample_weight[:, None], labels, num_segments=n_clusters)
    weights = jax.ops.segment_sum(sample_weight, labels, num_segments=n_clusters)
    return sums, weights


_assign = jax.jit(_nearest)


@jax.jit
def _inertia(X, sample_weight, centers, labels):
    diff = X - centers[labels]
    return jnp.sum(jnp.sum(diff * diff, axis=1) * sample_weight)


def _labels(X, centers):
    """Labels on the device, near ties settled on the host (rare: one transfer of a mask)."""
    labels, unsure = _assign(X, centers, margin_factor(X.shape[1], X.dtype))
    labels = np.array(labels)
    rows = np.flatnonzero(np.asarray(unsure))
    return labels, bool(rows.size) and settle(X, centers, rows, labels)


def lloyd_step(X, sample_weight, centers, squared_norms=None):
    with jax_dtype_context(X.dtype):
        labels, _ = _labels(X, centers)
        sums, weights = _sums(X, sample_weight.astype(X.dtype), labels,
                              n_clusters=centers.shape[0])
        # np.array copies: jax hands out read-only views the caller may update.
        return labels, np.array(sums, dtype=np.float64), np.array(weights, dtype=np.float64)


def assign_labels(X, centers, squared_norms=None):
    with jax_dtype_context(X.dtype):
        return _labels(X, centers)[0]


def inertia(X, sample_weight, centers, labels):
    with jax_dtype_context(X.dtype):
        return float(_inertia(X, sample_weight.astype(X.dtype), centers, labels))
