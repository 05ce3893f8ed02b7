"""Benchmark report: Table 2, Table 4, CALoRA, the figures and a results page from the run records.

Reads every ``runs/*.json`` written by ``python -m benchmarks.run`` (whatever
exists: a half-finished grid gives a half-filled report), the paper's numbers
in ``benchmarks/paper_table2.json`` and, where present, ``calora_conll.json``
and ``failures.log`` in the output folder, and (re)writes in the output folder:

    table2.md    macro-F1 / accuracy per dataset x ratio and method, the paper's
                 cells beside them, and paired seed differences vs SharpReCL
    table4.md    the ablations (w/o SS, w/o HM, w/o SSHM, w/o CL)
    calora.md    CALoRA on X vs X: macro-F1, rarest-class F1, cost
    macro_f1_vs_ir.png, per_class_f1_vs_frequency_<dataset>_ir<r>.png, runtime.png
    README.md    how to run, the configuration, links, total run time, failed runs

    python -m benchmarks.report
    python -m benchmarks.report --runs DIR --out DIR

Conventions: scores in %; ``mean ± sd (n)`` over seeds with the sample
standard deviation (ddof=1; none for a single seed); paired differences use
the seeds both methods have (same seed = same long-tailed subset, validation
split and initialisation). Fast and deterministic: no training, no timestamps.

The work is done by the ``reporting`` package next to this file (one module
per idea: records, statistics, tables, plots, README); this script only wires
it together.
"""

import argparse
from pathlib import Path

from .reporting.calora import calora_markdown
from .reporting.paper import PAPER, load_paper
from .reporting.plots import per_class_name, plot_f1_vs_ir, plot_per_class, plot_runtime
from .reporting.readme import readme_markdown
from .reporting.records import index_runs, load_runs, rows_of
from .reporting.tables import table2_markdown, table4_markdown

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def generate(runs_dir=RESULTS / "runs", out_dir=RESULTS, paper_path=PAPER, plots=True):
    """Write every table, plot and the README; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = load_runs(runs_dir)
    grid = index_runs(records)
    paper = load_paper(paper_path)
    written = []

    def write(name, text):
        path = out_dir / name
        path.write_text(text)
        written.append(path)

    write("table2.md", table2_markdown(grid, paper))
    write("table4.md", table4_markdown(grid, paper))
    write("calora.md", calora_markdown(grid))
    if plots and records:
        written.append(plot_f1_vs_ir(grid, out_dir / "macro_f1_vs_ir.png"))
        for row in rows_of(grid):
            written.append(plot_per_class(grid, row, out_dir / per_class_name(row)))
        written.append(plot_runtime(grid, out_dir / "runtime.png"))
    write("README.md", readme_markdown(records, grid, out_dir))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(RESULTS / "runs"), help="folder of run records")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the tables, plots and README")
    parser.add_argument("--paper", default=str(PAPER), help="the paper's numbers (json)")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    for path in generate(args.runs, args.out, args.paper, plots=not args.no_plots):
        print(path)


if __name__ == "__main__":
    main()
