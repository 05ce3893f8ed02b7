"""The benchmark report, one idea per module (``python -m benchmarks.report`` is the entry point).

- ``order``     which methods each table and plot shows, in which order (names from ``methods.py``)
- ``records``   loading the run records and indexing them by dataset x ratio, method and seed
- ``paper``     the paper's numbers (``paper_table2.json``) and its training setup
- ``stats``     summaries over seeds, paired seed differences, the paired t-test
- ``fmt``       number formats and markdown tables
- ``tables``    table2.md and table4.md
- ``calora``    calora.md
- ``plots``     the PNG figures
- ``readme``    README.md
"""

# The helpers other benchmark scripts share (study_report.py).
from .fmt import fmt_cell, fmt_diff, md_table  # noqa: E402
from .stats import pair_of_diffs, paired, scores, summarize  # noqa: E402

__all__ = ["fmt_cell", "fmt_diff", "md_table", "pair_of_diffs", "paired", "scores", "summarize"]
