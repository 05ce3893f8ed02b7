"""The paper's numbers (``benchmarks/paper_table2.json``) and its training setup."""

import json
from pathlib import Path

from .records import DATASET_NAMES

PAPER = Path(__file__).resolve().parents[1] / "paper_table2.json"
PAPER_TAG = "paper (BERT-base, theirs)"
# The paper's training setup: facts from outside our records, quoted where the
# report compares with them (see docs/fidelity.md: batch 128 in the paper and the
# authors' train.py, 30 epochs in train.py, 10 runs averaged in the paper).
PAPER_SETUP = {"encoder": "BERT-base-uncased", "runs_per_cell": 10, "batch_size": 128, "epochs": 30}


def load_paper(path=PAPER):
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def paper_row(paper, row):
    if not paper:
        return None
    for r in paper["rows"]:
        if (r["dataset"], r["imbalance_ratio"]) == tuple(row):
            return r
    return None


def paper_cell(paper, row, column="Ours", metric="f1"):
    """One number of the paper's Table 2 (``None`` if absent)."""
    prow = paper_row(paper, row)
    cell = prow["cells"].get(column) if prow else None
    return cell.get(metric) if cell else None


def best_baseline(prow, exclude=(), metric="f1"):
    """(name, cell) of the paper's best non-Ours column by ``metric``."""
    best = None
    for name, cell in prow["cells"].items():
        if name == "Ours" or name in exclude or cell.get(metric) is None:
            continue
        if best is None or cell[metric] > best[1][metric]:
            best = (name, cell)
    return best


def paper_row_label(prow):
    label = prow.get("paper_label") or ("org" if prow["imbalance_ratio"] is None else str(prow["imbalance_ratio"]))
    ratio = "ir=" + label if label[0].isdigit() else label
    return f"{DATASET_NAMES.get(prow['dataset'], prow['dataset'])} {ratio}"
