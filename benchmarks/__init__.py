"""skfast's benchmarks, run from the checkout: ``python -m benchmarks`` (``make bench``).

A development package beside the library, as scikit-learn's and flox's asv
suites are: it is not installed with skfast, and the test suite imports it
from the checkout.  One module per benchmark (:mod:`~benchmarks.kmeans`,
:mod:`~benchmarks.permutation`, :mod:`~benchmarks.hma`) and per
statistical check (:mod:`~benchmarks.recovery`, k-means recovery;
:mod:`~benchmarks.calibration`, PermutationTest calibration).  Each has
``run(mode)`` returning its results section and ``report`` (its table); the
benchmarks gate every engine on equivalence before any timing and add
``comparison_rows`` (the comparison table), ``auto_vs_fastest``
(``engine="auto"`` against the fastest engine per shape) and ``plot`` (its
chart).  ``python -m benchmarks.kmeans_crossover`` measures the grid behind
FastKMeans' auto rule, ``python -m benchmarks.kmeans_kinds`` FastKMeans on
six kinds of data against scikit-learn and faiss, ``python -m
benchmarks.first_use`` the first fit in a fresh process, and ``python -m
benchmarks.hostile_before_after`` the cost of the tie rules against an
earlier checkout.  :mod:`~benchmarks._timing`
holds the timing and results-file helpers.
:mod:`~benchmarks.docs` generates the benchmark numbers of README.md and
doc/*.rst from the committed results and checks them.

Usage::

    python -m benchmarks [--quick] [--only kmeans,permutation,hma,recovery,calibration]
                         [--output PATH] [--update-docs | --check-docs] [--from JSON]
"""

from ._cli import main

__all__ = ["main"]
