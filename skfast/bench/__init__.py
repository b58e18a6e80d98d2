"""The benchmark report: ``python -m skfast.bench``.

One module per benchmark (:mod:`~skfast.bench.kmeans`,
:mod:`~skfast.bench.permutation`, :mod:`~skfast.bench.hma`) and per
statistical check (:mod:`~skfast.bench.recovery`, k-means recovery;
:mod:`~skfast.bench.calibration`, PermutationTest calibration).  Each has
``run(mode)`` returning its results section and ``report`` (its table); the
benchmarks gate every engine on equivalence before any timing and add
``comparison_rows`` (the comparison table), ``auto_vs_fastest``
(``engine="auto"`` against the fastest engine per shape) and ``plot`` (its
chart); ``main`` is the single-benchmark script in ``benchmarks/``.
:mod:`~skfast.bench.docs` generates the benchmark numbers of README.md and
doc/*.rst from the committed results and checks them.

Usage::

    python -m skfast.bench [--quick] [--only kmeans,permutation,hma,recovery,calibration]
                           [--output PATH] [--update-docs | --check-docs] [--from JSON]
"""

from ._cli import main

__all__ = ["main"]
