"""The README's benchmark summary is the records' table, not typed by hand."""

import pytest

from benchmarks import readme_summary


def test_the_readme_summary_is_what_the_records_give():
    assert readme_summary.main(["--check"]) == 0


def test_a_changed_number_in_the_readme_is_caught(tmp_path):
    readme = tmp_path / "README.md"
    text = readme_summary.rewrite(f"# x\n\n{readme_summary.START}\n{readme_summary.END}\n", readme_summary.block())
    readme.write_text(text.replace("ir=50", "ir=51", 1))  # one number typed over
    assert readme_summary.main(["--check", "--readme", str(readme)]) == 1
    assert readme_summary.main(["--readme", str(readme)]) == 0  # rewritten from the records
    assert readme_summary.main(["--check", "--readme", str(readme)]) == 0


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match="no block"):
        readme_summary.rewrite("# a README without the block\n", "table")
