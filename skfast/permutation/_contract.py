"""The PermutationTest engine contract: what every engine module provides.

The estimator validates the data, centres it, draws the relabelling stream
(every engine sees the same relabellings) and turns the counts into
p-values; an engine computes the statistics and counts of one batch of
relabellings, deterministically.  Every registered engine module satisfies
:class:`PermutationEngine` (checked by the test suite with
:func:`skfast._engines.contract_violations`).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

__all__ = ["PermutationEngine"]


class PermutationEngine(Protocol):
    """A PermutationTest engine module."""

    optional: ClassVar[tuple[str, ...]] = ()

    #: Features whose statistics the engine holds at once (None: all of
    #: them); it sizes ``batch_size="auto"``.
    FEATURE_TILE: int | None

    def prepare(self, X, squares):
        """Engine-native operands for one fit from the centred data.

        ``squares``: whether the statistic needs ``X**2`` (Welch's t).  An
        engine makes no copy of X as large as X (on the host): the fit's
        one working copy is the centred ``X`` it is given; temporaries are
        a tile of columns at most.
        """

    def batch_statistic(self, operands, group1, n_group1, var_floor, statistic):
        """Statistic of every relabelling in ``group1``: an ``(n_rows, n_features)`` array.

        ``group1`` is 1.0 for the samples in group 1 of each relabelling and
        0.0 otherwise; ``var_floor`` bounds Welch's squared standard error
        from below.
        """

    def batch_counts(self, operands, group1, n_group1, threshold, var_floor, statistic,
                     alternative, need_max):
        """Per feature, the relabellings at least as extreme as observed: ``(counts, maxima)``.

        A relabelling counts for feature ``j`` when its extremeness (``|T|``,
        ``T`` or ``-T``) is ``>= threshold[j]`` (the tie tolerance is folded
        into ``threshold``); ``maxima`` holds each relabelling's largest
        extremeness when ``need_max`` (the max-T correction), else it is empty.
        """
