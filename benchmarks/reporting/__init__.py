"""The benchmark report, one idea per module (``benchmarks/report.py`` is the entry point).

- ``order``     which methods each table and plot shows, in which order (names from ``methods.py``)
- ``records``   loading the run records and indexing them by dataset x ratio, method and seed
- ``paper``     the paper's numbers (``paper_table2.json``) and its training setup
- ``stats``     summaries over seeds, paired seed differences, the paired t-test
- ``fmt``       number formats and markdown tables
- ``sources``   settings read from the benchmark's and the library's source (no torch import)
- ``tables``    table2.md and table4.md
- ``calora``    calora.md
- ``plots``     the PNG figures
- ``facts``     numbers about the runs that the prose states, computed from the records
- ``commentary`` the hand-written sentences of the reading (no number about our runs)
- ``reading``   reading.md: the prose, from ``facts`` and ``commentary``
- ``readme``    README.md
"""

# The helpers other benchmark scripts share (study_report.py).
from .fmt import fmt_cell, fmt_diff, md_table  # noqa: E402
from .stats import pair_of_diffs, paired, scores, summarize  # noqa: E402

__all__ = ["fmt_cell", "fmt_diff", "md_table", "pair_of_diffs", "paired", "scores", "summarize"]
