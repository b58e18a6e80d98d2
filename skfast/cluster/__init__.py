"""Clustering: :class:`FastKMeans`."""

from ._kmeans import FastKMeans

__all__ = ["FastKMeans"]
