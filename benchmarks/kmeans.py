"""The kmeans benchmark as a script: see :mod:`skfast.bench.kmeans`.

``python -m skfast.bench`` runs it with the others into one report; this
script keeps the old command (same options) and writes
``benchmarks/results/kmeans[_quick].json`` and its chart.
"""

from skfast.bench.kmeans import main, make_data  # noqa: F401  (make_data: benchmarks/kmeans_crossover.py)

if __name__ == "__main__":
    main()
