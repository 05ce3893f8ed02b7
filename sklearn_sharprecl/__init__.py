"""sklearn-sharprecl: transformer text classification that keeps minority classes alive."""

import importlib

__version__ = "0.1.0"

__all__ = ["CALoRAClassifier", "ClassAwareLoRALinear", "SharpReCLClassifier", "__version__", "show_versions"]

# The estimators are imported on first use, not with the package: the
# torch-free ONNX loader (sklearn_sharprecl.deploy) lives in this package, and
# importing it must not import torch.
_LAZY = {
    "CALoRAClassifier": "._estimators.calora",
    "ClassAwareLoRALinear": "._estimators.calora",
    "SharpReCLClassifier": "._estimators.classifier",
}


def show_versions(also=()):
    """The versions of this library and of what a fitted model depends on, by distribution name.

    What a model records when it is fitted (``versions_``) and what a loaded
    model is compared with. ``also`` names further distributions to report
    (None where one is not installed).

    Returns
    -------
    versions : dict
    """
    from ._persistence.saved_model import library_versions

    return library_versions(also=also)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
