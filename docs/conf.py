"""Sphinx configuration: the user guide (Markdown, via MyST) and the API reference (numpydoc).

The build is offline: no intersphinx inventories are fetched, and ``make docs``
runs it with ``-W`` so that every warning fails the build.
"""

# License: BSD 3 clause

import re
from pathlib import Path

from sphinx.util import logging

import sklearn_sharprecl

project = "sklearn-sharprecl"
author = "sklearn-sharprecl developers"
copyright = "sklearn-sharprecl developers"
release = sklearn_sharprecl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# model-card-example/ holds the saved state and card that persistence.md includes.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "model-card-example"]
templates_path = ["_templates"]

# The pages link to each other's section titles (e.g. cli.md's "#sharprecl-fit"):
# anchors for headings down to level 3 let those links resolve, and a link to a
# missing anchor or page in docs/ still fails the build.
myst_heading_anchors = 3

# The API reference: one page per public object, generated at build time into
# docs/generated (ignored by git) from the templates in docs/_templates.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_default_options = {"member-order": "bysource"}

# Methods are documented in full by the class template (autodoc ``:members:``);
# numpydoc's own member tables would need a stub page per method.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Parameter types such as "array-like of shape (n_samples,)" stay plain text:
# linking them would need the network (intersphinx) for numpy/sklearn/torch.
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"sklearn-sharprecl {release}"
html_static_path = []


# -- Links from the Markdown pages to files outside docs/ ---------------------
#
# The pages link to benchmark records and the README with relative paths
# (``../benchmarks/results/study.md``) so that they also read well on a code
# host. The built site has no page for those files, and MyST would report each
# such link as a missing cross-reference. Before a page is parsed, a link whose
# target lies outside docs/ becomes a ``path:`` (download) link, so the site
# carries a copy of the file; a link to a folder keeps its text but not its
# link; a target that does not exist keeps its text and fails the build with a
# warning. Links between the pages themselves are left to MyST, so a broken one
# is still an error.

_OUTSIDE_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<target>\.\./[^)\s#]*)(?P<anchor>#[^)\s]*)?\)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_logger = logging.getLogger("sklearn_sharprecl.docs")


def _outside_link(match, docdir, srcdir, docname):
    path = (docdir / match["target"]).resolve()
    if path.is_relative_to(srcdir):
        return match[0]
    if path.is_dir():
        return match["text"]
    if not path.exists():
        _logger.warning("link to a missing path outside docs/: %s", match["target"], location=docname)
        return match["text"]
    return f"[{match['text']}](path:{match['target']})"


def _rewrite_outside_links(app, docname, source):
    """``source-read`` handler: rewrite links to files outside docs/, not in code blocks."""
    if not str(app.env.doc2path(docname)).endswith(".md"):
        return
    srcdir = Path(app.srcdir).resolve()
    docdir = (srcdir / docname).parent
    lines, in_fence = [], False
    for line in source[0].splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        lines.append((in_fence or bool(_FENCE.match(line)), line))
    out, prose = [], []
    for is_code, line in lines + [(True, "")]:
        if not is_code:
            prose.append(line)
            continue
        text = "".join(prose)
        out.append(_OUTSIDE_LINK.sub(lambda m: _outside_link(m, docdir, srcdir, docname), text))
        out.append(line)
        prose = []
    source[0] = "".join(out)


# -- Members the API pages show -----------------------------------------------
#
# The class pages list every member the package defines or overrides, inherited
# ones included (``predict`` comes from the package's own mixin). Members that
# scikit-learn or torch define (``score``, ``get_metadata_routing``, the
# generated ``set_fit_request``, ``nn.Module.train`` ...) are documented there,
# and their docstrings refer to labels of scikit-learn's own documentation.


def _skip_foreign_member(app, what, name, obj, skip, options):
    """``autodoc-skip-member`` handler: skip class members defined outside the package."""
    if what != "class":
        return None
    func = getattr(obj, "fget", obj)
    func = getattr(func, "__func__", func)
    module = getattr(func, "__module__", None)
    if isinstance(module, str) and not module.startswith("sklearn_sharprecl"):
        return True
    return None


def setup(app):
    app.connect("source-read", _rewrite_outside_links)
    app.connect("autodoc-skip-member", _skip_foreign_member)
