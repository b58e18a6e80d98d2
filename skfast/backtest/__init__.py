"""Backtests: :class:`HMASweep`, the HMA-cross parameter sweep."""

from ._hma import HMASweep

__all__ = ["HMASweep"]
