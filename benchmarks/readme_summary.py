"""The README's benchmark summary: one table written from the run records.

The block between :data:`START` and :data:`END` in the repository's README.md
is this module's output, so that no number in it is typed by hand:

    python -m benchmarks.readme_summary            # rewrite the block
    python -m benchmarks.readme_summary --check    # exit 1 when README.md differs from the records

Which records each row reads is :data:`ROWS`: the same recipe for every
fine-tuned method of a cell (the short-text cells: ``--recipe r1-linear-all``,
protocol 1, fp32; the long documents: the ``v1`` recipe with ``train_layers=2``
and the linear-probe head), the classic peer from the benchmark's own runs.
Paired differences use the seeds both methods have.
"""

import argparse
import json
import sys
from pathlib import Path

from .reporting import fmt_cell, fmt_diff, md_table, paired, summarize

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START = "<!-- benchmark summary: written by python -m benchmarks.readme_summary -->"
END = "<!-- end of benchmark summary -->"

CELLS = (("trec", 50, "TREC ir=50"), ("cr", 50, "CR ir=50"), ("r52", None, "R52"), ("ohsumed", None, "Ohsumed"))
_SHORT = {"folder": "study", "recipe": "r1-linear-all", "train_layers": None}
_LONG = {"folder": "study", "recipe": "v1", "train_layers": 2, "set": {"head_init": "linear_probe"}}
_CLASSIC = {"folder": "runs", "freeze_layers": 0}


def _fine_tuned(short_set):
    return {"trec": {**_SHORT, "set": short_set}, "cr": {**_SHORT, "set": short_set},
            "r52": _LONG, "ohsumed": _LONG}


#: ``(label, method, {dataset: record selector})``, in the table's order.
ROWS = (
    ("SharpReCL", "SharpReCL", _fine_tuned({"center_prototypes": True})),
    ("its ablation LA-CE (`contrastive=None`)", "LA-CE (w/o CL)", _fine_tuned({})),
    ("plain CE", "CE", _fine_tuned({})),
    ("TF-IDF + balanced LinearSVC", "TF-IDF+LinearSVC (balanced)", {d: _CLASSIC for d, _, _ in CELLS}),
)
#: Paired rows: SharpReCL minus each of these.
PAIRED = (("LA-CE (w/o CL)", "SharpReCL − LA-CE, paired"), ("CE", "SharpReCL − CE, paired"))


def _matches(record, selector):
    config = record.get("config", {})
    return (config.get("protocol", 1) == 1
            and all(config.get(key) == value for key, value in selector.items()
                    if key not in ("folder", "set"))
            and ("set" not in selector or config.get("set", {}) == selector["set"]))


def runs_of(method, dataset, ratio, selector, results=RESULTS):
    """``{seed: record}`` of ``method`` on the cell, the records ``selector`` picks."""
    runs = {}
    for path in sorted((results / selector["folder"]).glob(f"{dataset}__*.json")):
        record = json.loads(path.read_text())
        if (record.get("method") == method and record.get("imbalance_ratio") == ratio
                and "fit_seconds" in record and _matches(record, selector)):
            seed = int(record["seed"])
            if seed in runs:
                raise ValueError(f"two records of {method} on {dataset} seed {seed} match {selector}")
            runs[seed] = record
    return runs


def summary_table(results=RESULTS):
    grid = {method: {dataset: runs_of(method, dataset, ratio, selectors[dataset], results)
                     for dataset, ratio, _ in CELLS}
            for _, method, selectors in ROWS}
    rows = []
    for label, method, _ in ROWS:
        rows.append([label] + [fmt_cell(*summarize([100 * r["macro_f1"] for r in grid[method][d].values()]))
                               for d, _, _ in CELLS])
    for peer, label in PAIRED:
        rows.append([label] + [fmt_diff(paired(grid["SharpReCL"][d], grid[peer][d])) for d, _, _ in CELLS])
    return md_table(["macro-F1, mean ± sd (seeds)"] + [name for _, _, name in CELLS], rows)


def block(results=RESULTS):
    return f"{START}\n{summary_table(results).rstrip()}\n{END}"


def rewrite(readme_text, new_block):
    """README text with its summary block replaced; ValueError when the markers are missing."""
    start, end = readme_text.find(START), readme_text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no block between {START!r} and {END!r}")
    return readme_text[:start] + new_block + readme_text[end + len(END):]


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
