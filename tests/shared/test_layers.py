"""The package's layers: the torch-free leaf imports nothing above it."""

import json
import pkgutil
import subprocess
import sys

import pytest

import sklearn_sharprecl._shared as shared

LEAF_MODULES = sorted(f"{shared.__name__}.{m.name}" for m in pkgutil.iter_modules(shared.__path__))


def test_the_leaf_has_the_modules_the_layers_rely_on():
    for name in ("scores", "files", "texts"):
        assert f"sklearn_sharprecl._shared.{name}" in LEAF_MODULES


@pytest.mark.parametrize("module", LEAF_MODULES)
def test_a_leaf_module_imports_nothing_of_the_package_above_it_nor_torch_or_sklearn(module):
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sklearn_sharprecl', 'torch', 'transformers', 'sklearn', 'skorch', 'onnxruntime', 'tokenizers'))))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert [m for m in loaded if m != "sklearn_sharprecl" and not m.startswith("sklearn_sharprecl._shared")] == []
