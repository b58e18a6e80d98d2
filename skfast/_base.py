"""What every skfast estimator shares with scikit-learn's HTML representation."""

from __future__ import annotations

from ._version import __version__

__all__ = ["DocLinkMixin", "DOCS_URL"]

DOCS_URL = "https://skfast.readthedocs.io"


def _docs_version():
    # released versions have their own pages; development versions read "latest"
    return "latest" if "dev" in __version__ else __version__


class DocLinkMixin:
    """The "?" of an estimator's HTML repr links to its skfast API page, as scikit-learn's does."""

    _doc_link_module = "skfast"
    _doc_link_template = DOCS_URL + "/en/{version}/generated/skfast.{estimator_name}.html"

    def _doc_link_url_param_generator(self):
        return {"version": _docs_version(), "estimator_name": type(self).__name__}


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (without importing dask)."""
    import sys

    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)
