"""Permutation tests: :class:`PermutationTest`, a streamed per-feature two-group test."""

from ._permutation_test import PermutationTest

__all__ = ["PermutationTest"]
