"""skfast: validated, fast, scikit-learn compatible estimators.

Every estimator takes ``engine=`` to choose its compute engine and gives the
same answer whichever engine runs; ``engine="reference"`` (or ``"pandas"``
for :class:`HMASweep`) is the slow, readable oracle the others are gated on.
"""

from ._show_versions import show_versions
from ._version import __version__
from .backtest import HMASweep
from .cluster import FastKMeans
from .permutation import PermutationTest

__all__ = ["FastKMeans", "HMASweep", "PermutationTest", "__version__", "show_versions"]
