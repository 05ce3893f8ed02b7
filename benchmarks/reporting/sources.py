"""Settings the benchmark runs with, read from the source of ``run.py``, ``peers.py`` and
the library (parsed, not imported: the report needs no torch).

Each function returns ``default`` when the file or the setting is not found, so a
renamed setting shows up as ``?`` in the report instead of breaking it.
"""

import ast
from functools import lru_cache
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]
RUN = BENCHMARKS / "run.py"
PEERS = BENCHMARKS / "peers.py"
CLASSIFIER = BENCHMARKS.parent / "sklearn_sharprecl" / "_classifier.py"


@lru_cache(maxsize=None)
def _tree(path):
    try:
        return ast.parse(Path(path).read_text())
    except (OSError, SyntaxError):
        return None


def _find(path, qualname):
    """The ``def`` node of ``qualname`` (``f`` or ``Class.method``) in the module at ``path``."""
    node = _tree(path)
    for part in qualname.split("."):
        if node is None:
            return None
        node = next((n for n in node.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part),
                    None)
    return node


def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def default(path, qualname, param, default="?"):
    """The literal default of ``param`` in the signature of ``qualname``."""
    func = _find(path, qualname)
    if func is None:
        return default
    args = func.args.args[len(func.args.args) - len(func.args.defaults):] + func.args.kwonlyargs
    values = func.args.defaults + func.args.kw_defaults
    for arg, value in zip(args, values):
        if arg.arg == param and value is not None:
            found = _literal(value)
            return default if found is None else found
    return default


def call_keyword(path, qualname, callee, keyword, default="?"):
    """The literal ``keyword=`` of the first call to ``callee`` inside ``qualname``."""
    func = _find(path, qualname)
    if func is None:
        return default
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == callee:
            for kw in node.keywords:
                if kw.arg == keyword:
                    found = _literal(kw.value)
                    return default if found is None else found
    return default


def constant(path, name, default=None):
    """The literal value of the module-level assignment ``name = ...``."""
    tree = _tree(path)
    for node in tree.body if tree else []:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            found = _literal(node.value)
            return default if found is None else found
    return default


# ---------------------------------------------------------------- the settings the report quotes


def neural_setting(name, default="?"):
    """A keyword of the shared neural settings (``peers.neural_params``): batch_size, max_epochs."""
    return call_keyword(PEERS, "neural_params", "dict", name, default)


def profiles():
    """``run.PROFILES``: ``{name: {"cells": [(dataset, ratio)], "seeds": n, ...}}``."""
    return constant(RUN, "PROFILES", {})


def max_length_cap():
    return default(RUN, "choose_max_length", "cap")


def validation_fraction(recipe="v1"):
    """The validation split of the benchmark's neural methods (their recipe sets it)."""
    from ..methods import RECIPES

    return RECIPES[recipe]["params"]["validation_fraction"]


def setfit_settings():
    """``{"num_iterations": .., "num_epochs": ..}`` of the benchmark's reduced SetFit."""
    return {"num_iterations": default(PEERS, "SetFitClassifier.__init__", "num_iterations"),
            "num_epochs": call_keyword(PEERS, "SetFitClassifier.fit", "TrainingArguments", "num_epochs")}


def smote_neighbors():
    return call_keyword(PEERS, "make_method", "SMOTE", "k_neighbors")
