"""Backtests: :class:`HMASweep`, the HMA-cross parameter sweep, and its :class:`FeatureCache`."""

from ._cached import FeatureCache
from ._hma import HMASweep

__all__ = ["FeatureCache", "HMASweep"]
