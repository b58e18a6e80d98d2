"""The hma benchmark as a script: see :mod:`skfast.bench.hma`.

``python -m skfast.bench`` runs it with the others into one report; this
script keeps the old command (same options) and writes
``benchmarks/results/hma[_quick].json`` and its chart.
"""

from skfast.bench.hma import main

if __name__ == "__main__":
    main()
