"""Session-wide test settings, for the tests, the doctests in skfast/ and README.md."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_tuning_cache(tmp_path_factory):
    """Never read (or write) the user's real ``skfast.tune()`` cache.

    ``engine="auto"`` reads tuned crossovers from the cache directory; an empty
    temporary one keeps every test on the documented built-in thresholds.
    """
    from skfast import _tuning

    mp = pytest.MonkeyPatch()
    mp.setenv("SKFAST_CACHE_DIR", str(tmp_path_factory.mktemp("skfast-cache")))
    _tuning._clear_cache()
    yield
    mp.undo()
    _tuning._clear_cache()
