"""skfast: validated, fast, scikit-learn compatible estimators.

Every estimator takes ``engine=`` to choose its compute engine and gives the
same answer whichever engine runs; ``engine="reference"`` (or ``"pandas"``
for :class:`HMASweep`) is the slow, readable oracle the others are gated on.
"""

import os

from ._numba_cache import ensure_cache_location

# before any kernel is defined: a read-only install must still import
ensure_cache_location()

from ._engines import available_engines  # noqa: E402
from ._show_versions import show_versions  # noqa: E402
from ._version import __version__  # noqa: E402
from .backtest import HMASweep  # noqa: E402
from .cluster import FastKMeans  # noqa: E402
from .permutation import PermutationTest  # noqa: E402
from ._tuning import tune  # noqa: E402

# numba's OpenMP pool starts with the first parallel kernel, after this
# import.  By default its idle threads spin, and on a busy machine (a CI job,
# GridSearchCV with n_jobs, a second process) every parallel region then
# waits for a spinning thread's time slice: 50-100x slower kernels were
# measured here.  Sleeping idle threads cost ~15 us per region instead.
# Set after scikit-learn's import, so its own bundled OpenMP keeps its
# defaults; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["FastKMeans", "HMASweep", "PermutationTest", "__version__", "available_engines",
           "show_versions", "tune"]
