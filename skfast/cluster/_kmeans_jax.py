"""JAX k-means kernels: one jit-compiled array program per step.

The same distance identity as the NumPy engine, written once for any device
jax runs on (CPU here, a GPU when one is present).  Arithmetic happens in the
input's precision: float64 under a scoped ``jax.enable_x64`` for float64 X,
float32 otherwise, leaving the user's global jax configuration untouched.
Same signatures as :mod:`skfast.cluster._kmeans_reference`.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._engines import jax_dtype_context


def _nearest(X, centers):
    half_norms = 0.5 * jnp.sum(centers * centers, axis=1)
    return jnp.argmin(half_norms[None, :] - X @ centers.T, axis=1).astype(jnp.int32)


@partial(jax.jit, static_argnames="n_clusters")
def _lloyd_step(X, sample_weight, centers, n_clusters):
    labels = _nearest(X, centers)
    sums = jax.ops.segment_sum(X * sample_weight[:, None], labels, num_segments=n_clusters)
    weights = jax.ops.segment_sum(sample_weight, labels, num_segments=n_clusters)
    return labels, sums, weights


_assign = jax.jit(_nearest)


@jax.jit
def _inertia(X, sample_weight, centers, labels):
    diff = X - centers[labels]
    return jnp.sum(jnp.sum(diff * diff, axis=1) * sample_weight)


def lloyd_step(X, sample_weight, centers):
    with jax_dtype_context(X.dtype):
        labels, sums, weights = _lloyd_step(
            X, sample_weight.astype(X.dtype), centers, n_clusters=centers.shape[0])
        # np.array copies: jax hands out read-only views the caller may update.
        return (np.array(labels), np.array(sums, dtype=np.float64),
                np.array(weights, dtype=np.float64))


def assign_labels(X, centers):
    with jax_dtype_context(X.dtype):
        return np.array(_assign(X, centers))


def inertia(X, sample_weight, centers, labels):
    with jax_dtype_context(X.dtype):
        return float(_inertia(X, sample_weight.astype(X.dtype), centers, labels))
