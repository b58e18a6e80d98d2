"""The HMASweep engine contract: what every engine module provides.

The estimator validates and normalises the prices (one C-contiguous float64
row per series) and picks the engine; an engine computes the sweep and the
features, and follows the exact tie rule (``_exact``).  Every registered
engine module satisfies :class:`HMAEngine` (checked by the test suite with
:func:`skfast._engines.contract_violations`); its two functions take their
docstrings from here (``_grid.engine_entry``).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

__all__ = ["HMAEngine"]


class HMAEngine(Protocol):
    """An HMASweep engine module."""

    optional: ClassVar[tuple[str, ...]] = ("sweep_with_cache",)

    def sweep(self, close, lengths, fee):
        """Total PnL and trade count of every (length, asset) pair.

        Every engine module exports this function with this signature.

        Parameters
        ----------
        close : ndarray of float64, shape (n_assets, n_bars)
            One strictly positive price series per row, C-contiguous.
        lengths : ndarray of int64, shape (n_combos,)
        fee : float
            Round-trip fee in percentage points.

        Returns
        -------
        pnl : ndarray of float64, shape (n_combos, n_assets)
        n_trades : ndarray of int64, shape (n_combos, n_assets)
        """

    def features(self, series, length):
        """HMA and HMA3 of one price series (NaN during warm-up).

        Every engine module exports this function with this signature.

        Parameters
        ----------
        series : ndarray of float64, shape (n_bars,)
        length : int

        Returns
        -------
        hma, hma3 : ndarray of float64, shape (n_bars,)
        """

    def sweep_with_cache(self, close, lengths, fee, feature_cache=None, max_bytes=None):
        """Optional: :meth:`sweep` through raw-WMA tables held within ``max_bytes`` per call.

        ``feature_cache`` (a ``FeatureCache`` or None) keeps the moving
        averages across calls.  Engines with this capability are the ones
        whose memory depends on the grid (``cached``, ``fast``).
        """
