"""The k-means recovery check as a script: see :mod:`skfast.bench.recovery`.

``python -m skfast.bench`` runs it with the benchmarks into one report; this
script keeps the old command and writes ``benchmarks/results/kmeans_recovery.json``.
"""

from skfast.bench.recovery import main

if __name__ == "__main__":
    main()
