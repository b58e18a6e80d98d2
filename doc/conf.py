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
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"**": ["sidebar-nav-bs"], "index": []}
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
