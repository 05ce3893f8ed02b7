"""Every Python code block of the README runs, in order, as one script."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 5


@pytest.mark.integration
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for i, block in enumerate(python_blocks()):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as exc:  # name the failing block
            raise AssertionError(f"README python block {i} failed:\n{block}") from exc
    # The quickstart really fitted and the persistence block really round-tripped.
    import numpy as np

    assert namespace["clf"].score(namespace["texts"], namespace["labels"]) > 0.5
    np.testing.assert_array_equal(
        namespace["shared"].predict_proba(namespace["texts"][:5]),
        namespace["clf"].predict_proba(namespace["texts"][:5]),
    )
