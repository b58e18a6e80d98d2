"""The FastKMeans engine contract: what every engine module provides.

The estimator draws the initial centres, centres the data and runs the
iteration control (tolerance, strict convergence, empty-cluster relocation,
final E-step); an engine only computes the steps below, on prepared
C-contiguous float arrays, deterministically.  Every registered engine module
satisfies :class:`KMeansEngine` (checked by the test suite with
:func:`skfast._engines.contract_violations`).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

__all__ = ["KMeansEngine"]


class KMeansEngine(Protocol):
    """A FastKMeans engine module.

    ``optional`` lists the members an engine may add; the engine declares
    them in its :class:`~skfast._engines.Engine` entry (``capabilities``), so
    the estimator never probes a module.
    """

    optional: ClassVar[tuple[str, ...]] = ("BoundedStep", "CentredInPass", "sparse_lloyd_step",
                                           "sparse_inertia")

    def lloyd_step(self, X, sample_weight, centers, squared_norms=None):
        """One Lloyd step: ``(labels, sums, weights)``.

        Assign each sample to its nearest centre (the lowest index wins a
        tie; near ties, within rounding of each other, are decided by
        scikit-learn's expression, ``_ties.settle``) and return the weighted
        per-cluster sums of the assigned samples and the per-cluster total
        weight.  ``sums`` are float64, or in X's dtype when the engine adds
        them in scikit-learn's order (float32 data).  ``squared_norms``,
        the squared row norms of X (float64, one per row) when the caller
        knows them, spare an engine that needs them (for its near-tie
        margins) a pass over X; others ignore them.
        """

    def assign_labels(self, X, centers, squared_norms=None):
        """The assignment step alone: int32 labels, same rule as :meth:`lloyd_step`."""

    def inertia(self, X, sample_weight, centers, labels):
        """Weighted sum of squared distances of the samples to their assigned centre (float)."""

    def BoundedStep(self, X, squared_norms=None):
        """Optional: a stateful stand-in for :meth:`lloyd_step` (distance bounds kept across steps).

        Called like ``lloyd_step(X, sample_weight, centers)`` with the same
        results; its ``assign(X, centers)`` serves the final E-step through
        the bounds.
        """

    def CentredInPass(self, X, mean, squared_norms):
        """Optional: :meth:`lloyd_step`, :meth:`assign_labels` and :meth:`inertia` of ``X - mean``.

        For uncentred X, whose rows the engine centres as it reads them, with
        the results it would give on the centred copy bit for bit, so that the
        fit makes no copy of X.  Called like ``lloyd_step(X, sample_weight,
        centers)``; ``assign(X, centers)`` and ``inertia(X, sample_weight,
        centers, labels)`` serve the rest of the fit; its static
        ``serves(dtype, n_features, n_clusters)`` tells where it applies.
        """

    def sparse_lloyd_step(self, data, indices, indptr, sample_weight, centers,
                          centers_squared_norms, ranges, update_centers=True):
        """Optional: one Lloyd step on CSR data (``data``, ``indices``, ``indptr``).

        scikit-learn's sparse pass, operation for operation: the label
        minimises ``|c|^2 - 2 x.c`` in X's dtype, the dot summed over the
        row's stored entries in order (``centers_squared_norms`` as
        ``row_norms`` computes them; the first centre wins a tie); each
        range of ``ranges`` (scikit-learn's thread ranges) adds its samples'
        weighted values in order, in X's dtype, and the ranges' sums are
        added to zero in order.  Returns ``(labels, sums, weights)``, the
        last two empty when ``update_centers`` is False.
        """

    def sparse_inertia(self, data, indices, indptr, sample_weight, centers,
                       centers_squared_norms, labels, ranges):
        """Optional: the inertia of CSR data as ``_inertia_sparse`` sums it (float).

        In X's dtype, each range of ``ranges`` (an OpenMP static schedule)
        in order, then the ranges in order.
        """
