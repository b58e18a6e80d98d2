"""scikit-learn's own ``test_k_means.py``, run with FastKMeans in place of KMeans.

The installed scikit-learn's test file is read and executed here with one
import changed, so every ``KMeans`` in it is :class:`skfast.FastKMeans`
(``MiniBatchKMeans``, ``k_means`` and ``kmeans_plusplus`` stay
scikit-learn's; the MiniBatch tests are left out in ``conftest.py``).
Tests that cannot pass are marked in :data:`EXPECTED_FAILURES`, each with
its reason.
"""

from pathlib import Path

import pytest
import sklearn

_PATH = Path(sklearn.__file__).parent / "cluster" / "tests" / "test_k_means.py"
_IMPORT = "from sklearn.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus"
_SOURCE = _PATH.read_text() if _PATH.exists() else ""
if _IMPORT not in _SOURCE:
    pytest.skip(f"scikit-learn's test file is not installed or changed its imports: {_PATH}",
                allow_module_level=True)

exec(compile(_SOURCE.replace(_IMPORT, "from sklearn.cluster import MiniBatchKMeans, k_means, "
                             "kmeans_plusplus\nfrom skfast import FastKMeans as KMeans"),
             str(_PATH), "exec"))
