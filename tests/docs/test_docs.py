"""The documentation site lists every public object, example script and page.

Fast checks on the sources of the site (no Sphinx build): ``make docs`` builds
it with every warning an error, and these tests say by name what a new public
function, example or page is missing from it.
"""

# License: BSD 3 clause

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import sklearn_sharprecl

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS.parent / "examples"


def _api_entries(text):
    """Full names listed in the autosummary blocks of ``text``, by current module."""
    names, module, in_summary = set(), None, False
    for line in text.splitlines():
        directive = re.match(r"\.\. (\S+)::\s*(\S*)", line)
        if directive:
            in_summary = directive[1] == "autosummary"
            if directive[1] == "currentmodule":
                module = directive[2]
            continue
        entry = re.fullmatch(r"   ([A-Za-z_][\w.]*)\s*", line)
        if in_summary and entry:
            names.add(f"{module}.{entry[1]}")
        elif line and not line.startswith(" "):
            in_summary = False
    return names


def _public_modules():
    """The package and each public submodule that declares ``__all__``."""
    modules = [sklearn_sharprecl]
    for info in pkgutil.iter_modules(sklearn_sharprecl.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"sklearn_sharprecl.{info.name}")
        if hasattr(module, "__all__"):
            modules.append(module)
    return modules


def _public_names():
    return sorted(
        f"{module.__name__}.{name}"
        for module in _public_modules()
        for name in module.__all__
        if not name.startswith("__")
    )


def test_api_entries_parser_reads_autosummary_blocks():
    text = (
        ".. currentmodule:: pkg\n\n.. autosummary::\n   :toctree: generated/\n\n   A\n   f\n\n"
        "Prose\n\n   indented prose\n\n.. currentmodule:: pkg.sub\n\n.. autosummary::\n\n   g\n"
    )
    assert _api_entries(text) == {"pkg.A", "pkg.f", "pkg.sub.g"}


@pytest.mark.parametrize("name", _public_names())
def test_public_name_is_in_api_reference(name):
    assert name in _api_entries((DOCS / "api.rst").read_text(encoding="utf-8")), (
        f"{name} is public (in __all__) but missing from docs/api.rst"
    )


def test_api_reference_names_exist():
    for name in sorted(_api_entries((DOCS / "api.rst").read_text(encoding="utf-8"))):
        module, _, attr = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), f"docs/api.rst lists {name}, which does not exist"


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_is_on_examples_page(script):
    page = (DOCS / "examples.rst").read_text(encoding="utf-8")
    assert f".. literalinclude:: ../examples/{script}" in page, f"examples/{script} is missing from docs/examples.rst"


def _toctree_entries(text):
    entries, in_toctree = set(), False
    for line in text.splitlines():
        if line.startswith(".. "):
            in_toctree = line.startswith(".. toctree::")
        elif in_toctree and re.fullmatch(r"   [\w-]+\s*", line):
            entries.add(line.strip())
        elif line and not line.startswith(" "):
            in_toctree = False
    return entries


@pytest.mark.parametrize("page", sorted(p.stem for p in DOCS.glob("*.md")))
def test_markdown_page_is_in_a_toctree(page):
    assert page in _toctree_entries((DOCS / "index.rst").read_text(encoding="utf-8")), (
        f"docs/{page}.md is in no toctree of docs/index.rst"
    )


def _settings_rows():
    """The parameter table of choosing-settings.md: ``{group cell: row text}``."""
    text = (DOCS / "choosing-settings.md").read_text(encoding="utf-8")
    return {row.split("|")[1].strip(): row for row in text.splitlines() if row.startswith("| `")}


@pytest.mark.parametrize("name", [n for n in sklearn_sharprecl.SharpReCLClassifier.routed_parameters()
                                  if not n.startswith("optimizer__") or n == "optimizer__weight_decay"])
def test_routed_parameter_is_in_the_settings_table(name):
    # AdamW's own settings are one entry ("AdamW's settings"); the rest by name, in their group.
    prefix, rest = name.split("__", 1)
    group = "`callbacks__<name>__`" if prefix == "callbacks" else f"`{prefix}__`"
    assert f"`{rest}`" in _settings_rows()[group], f"docs/choosing-settings.md does not list {name}"
