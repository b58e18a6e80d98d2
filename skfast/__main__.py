"""``python -m skfast``: the main demo.

For each estimator: simulate data, gate every installed engine on the
reference oracle, then time the engines.  ``--full`` uses larger data.
"""

import argparse

from ._show_versions import show_versions
from .backtest._demo import run_demo as hma_demo
from .cluster._demo import run_demo as kmeans_demo
from .permutation._demo import run_demo as permutation_demo


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skfast", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="larger data, slower")
    args = parser.parse_args(argv)
    show_versions()
    for demo in (kmeans_demo, permutation_demo, hma_demo):
        print()
        demo(quick=not args.full)


if __name__ == "__main__":
    main()
