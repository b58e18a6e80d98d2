"""Sphinx configuration of the skfast documentation.

Build with ``make doc`` (warnings are errors):
``python -m sphinx -W --keep-going -b html doc doc/_build/html``.
Every ``examples/plot_*.py`` runs during the build (sphinx-gallery).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import skfast  # noqa: E402

# -- project -----------------------------------------------------------------

project = "skfast"
author = "skfast developers"
copyright = "skfast developers, BSD-3-Clause"
release = skfast.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"

# autodoc / autosummary: one generated page per public object (doc/generated/).
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"

# numpydoc renders the Parameters/Attributes sections; the member tables come
# from the autosummary class template instead (numpydoc's own member tables
# would ask for stub pages of every inherited scikit-learn method).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- intersphinx ---------------------------------------------------------------
#
# Links into the documentation of the libraries skfast builds on.  Each
# project's full inventory is fetched when the network allows; offline (CI,
# this project's build machine) the build falls back to a small inventory
# written below with the objects these pages cite, so links still resolve
# and no warning fails the ``-W`` build.

_INTERSPHINX = {
    "python": ("https://docs.python.org/3/", {
        "typing.Protocol": ("py:class", "library/typing.html#$"),
        "fractions.Fraction": ("py:class", "library/fractions.html#$"),
    }),
    "numpy": ("https://numpy.org/doc/stable/", {
        "numpy.ndarray": ("py:class", "reference/generated/$.html#$"),
        "numpy.memmap": ("py:class", "reference/generated/$.html#$"),
        "numpy.random.SeedSequence": ("py:class",
                                      "reference/random/bit_generators/generated/$.html#$"),
    }),
    "scipy": ("https://docs.scipy.org/doc/scipy/", {
        "scipy.stats.permutation_test": ("py:function", "reference/generated/$.html#$"),
        "scipy.stats.false_discovery_control": ("py:function", "reference/generated/$.html#$"),
        "scipy.stats.ttest_ind": ("py:function", "reference/generated/$.html#$"),
        "scipy.stats.binom": ("py:data", "reference/generated/$.html#$"),
        "scipy.stats.binom.interval": ("py:method",
                                       "reference/generated/scipy.stats.binom.html#$"),
    }),
    "sklearn": ("https://scikit-learn.org/stable/", {
        "sklearn.cluster.KMeans": ("py:class", "modules/generated/$.html#$"),
        "sklearn.cluster.kmeans_plusplus": ("py:function", "modules/generated/$.html#$"),
        "sklearn.base.clone": ("py:function", "modules/generated/$.html#$"),
        "sklearn.pipeline.Pipeline": ("py:class", "modules/generated/$.html#$"),
        "sklearn.model_selection.GridSearchCV": ("py:class", "modules/generated/$.html#$"),
        "sklearn.model_selection.TimeSeriesSplit": ("py:class", "modules/generated/$.html#$"),
        "sklearn.model_selection.cross_val_score": ("py:function",
                                                    "modules/generated/$.html#$"),
        "sklearn.feature_selection.SelectorMixin": ("py:class", "modules/generated/$.html#$"),
    }),
    "joblib": ("https://joblib.readthedocs.io/en/stable/", {
        "joblib.Parallel": ("py:class", "generated/$.html#$"),
        "joblib.parallel_config": ("py:class", "generated/$.html#$"),
    }),
    "dask": ("https://docs.dask.org/en/stable/", {
        "dask.array.Array": ("py:class", "generated/$.html#$"),
    }),
}


def _fallback_inventory(name, objects):
    """A Sphinx (v2) inventory of ``objects`` under doc/_build/_intersphinx/."""
    import zlib

    folder = os.path.join(os.path.dirname(__file__), "_build", "_intersphinx")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.inv")
    # "$" stands for the object's name (written out: Sphinx expands only a trailing one)
    body = "".join(f"{obj} {role} 1 {uri.replace('$', obj)} -\n"
                   for obj, (role, uri) in objects.items())
    header = (f"# Sphinx inventory version 2\n# Project: {name}\n# Version: \n"
              "# The remainder of this file is compressed using zlib.\n")
    with open(path, "wb") as handle:
        handle.write(header.encode() + zlib.compress(body.encode()))
    return path


intersphinx_mapping = {name: (url, (None, _fallback_inventory(name, objects)))
                       for name, (url, objects) in _INTERSPHINX.items()}
intersphinx_timeout = 5

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # every example is small and runs during the build
    "filename_pattern": r"/plot_",
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": True,
    # an example that raises fails the build
    "abort_on_example_error": True,
    "show_memory": False,
    # "Examples using X" lists under each API page
    "doc_module": ("skfast",),
    "backreferences_dir": os.path.join("generated", "backreferences"),
    "reference_url": {"skfast": None},
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skfast {release}"
html_static_path = ["_static"]
# long code lines and wide tables scroll inside their block, never the page
html_css_files = ["skfast.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# The section navigation only where a page has sub-pages (the API reference,
# the gallery): on the leaf pages it would be an empty sidebar.
_LEAF_PAGES = ("index", "getting_started", "user_guide", "engines", "kmeans", "benchmarks")
html_sidebars = {"**": ["sidebar-nav-bs"], **{page: [] for page in _LEAF_PAGES}}
html_show_sourcelink = False


# -- skip scikit-learn's metadata-routing plumbing ----------------------------


def _skip_metadata_routing(app, what, name, obj, skip, options):
    """Leave out ``set_*_request``, ``get_metadata_routing`` and ``set_output``.

    scikit-learn adds them to every estimator; their docstrings point into
    scikit-learn's own documentation (glossary terms and labels that do not
    exist here, hence warnings) and they say nothing specific to skfast.  The
    API page links to scikit-learn's documentation for them.
    """
    if name in ("get_metadata_routing", "set_output") or (
            name.startswith("set_") and name.endswith("_request")):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
