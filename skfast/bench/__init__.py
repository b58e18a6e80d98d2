"""The benchmark report: ``python -m skfast.bench``.

One module per benchmark (:mod:`~skfast.bench.kmeans`,
:mod:`~skfast.bench.permutation`, :mod:`~skfast.bench.hma`, and
:mod:`~skfast.bench.recovery` for the k-means recovery check).  Each has
``run(mode)`` returning its results section (every engine gated on
equivalence before any timing), ``comparison_rows`` and ``report`` (the
comparison table), ``auto_vs_fastest`` (``engine="auto"`` against the fastest
engine per shape), ``plot`` (its chart) and ``main`` (the single-benchmark
script in ``benchmarks/``).  :mod:`~skfast.bench.docs` generates the
benchmark numbers of README.md and doc/*.rst from the committed results and
checks them.

Usage::

    python -m skfast.bench [--quick] [--only kmeans,permutation,hma,recovery]
                           [--output PATH] [--update-docs | --check-docs] [--from JSON]
"""

from ._cli import main

__all__ = ["main"]
