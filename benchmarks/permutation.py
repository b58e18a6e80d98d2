"""The permutation benchmark as a script: see :mod:`skfast.bench.permutation`.

``python -m skfast.bench`` runs it with the others into one report; this
script keeps the old command (same options) and writes
``benchmarks/results/permutation[_quick].json`` and its chart.
"""

from skfast.bench.permutation import main

if __name__ == "__main__":
    main()
