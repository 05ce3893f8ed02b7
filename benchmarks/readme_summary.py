"""The README's benchmark summary: the suite table, written from the run records.

The block between :data:`START` and :data:`END` in the repository's README.md
is this module's output, so that no number in it is typed by hand:

    python -m benchmarks.readme_summary            # rewrite the block
    python -m benchmarks.readme_summary --check    # exit 1 when README.md differs from the records

The table is the suite study's (:func:`benchmarks.suite_report.defaults_section`):
on each short-text cell of the suite, protocol 2's development split, the
shipped defaults (resolved per cell by the rules of :mod:`sklearn_sharprecl.auto`),
LA-CE and CE over paired seeds, the recall of the 5 rarest classes, the fit
time over LA-CE's, and issue #32's verdicts, in the precision series :data:`PRECISION`
(suite.md has every series). The method study's table (TREC,
CR, R52 and Ohsumed, protocol 1, test split) is in docs/benchmarks.md.
"""

import argparse
import sys
from pathlib import Path

from . import suite_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START = "<!-- benchmark summary: written by python -m benchmarks.readme_summary -->"
END = "<!-- end of benchmark summary -->"
#: The README's series: bf16, what ``precision='auto'`` resolves to on a CPU with AVX512-BF16 or
#: AMX and on recent GPUs (suite.md also has the fp32 series of a CPU without native bf16).
PRECISION = "bf16"


def summary_table(results=RESULTS):
    return suite_report.defaults_section(suite_report.load(Path(results) / "study"), PRECISION)


def block(results=RESULTS):
    return f"{START}\n{summary_table(results).rstrip()}\n{END}"


def rewrite(readme_text, new_block, start_marker=START, end_marker=END):
    """README text with the block between the markers (``new_block`` includes them) replaced;
    ValueError when the markers are missing."""
    start, end = readme_text.find(start_marker), readme_text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no block between {start_marker!r} and {end_marker!r}")
    return readme_text[:start] + new_block + readme_text[end + len(end_marker):]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md differs from the records")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    updated = rewrite(text, block())
    if args.check:
        if updated != text:
            print(f"{args.readme} differs from the records: run python -m benchmarks.readme_summary",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
