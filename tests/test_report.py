"""The benchmark report (benchmarks/report.py) on fake run records with known numbers: no training."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COUNTS = {"ENTY": 1250, "HUM": 571, "DESC": 261, "NUM": 119, "LOC": 54, "ABBR": 25}
# macro-F1 per seed 0, 1, 2
SHARP = [0.80, 0.83, 0.78]
CE = [0.75, 0.79, 0.74]
CALORA_CE = [0.77, 0.78, 0.76]
# per-class F1 of the rarest class (ABBR) per seed
ABBR_CE = [0.40, 0.50, 0.45]
ABBR_CALORA = [0.55, 0.50, 0.60]


def make_record(method, seed, macro_f1, abbr_f1=0.5, **extra):
    per_class = {c: {"f1": 0.9, "recall": 0.9, "precision": 0.9, "test_support": 50} for c in COUNTS}
    per_class["ABBR"]["f1"] = abbr_f1
    record = {
        "dataset": "trec", "imbalance_ratio": 50, "method": method, "seed": seed,
        "config": {"encoder": "all-MiniLM-L6-v2", "max_epochs": 4, "freeze_layers": 0, "protocol": 1},
        "max_length": 22, "n_train": sum(COUNTS.values()), "n_test": 300,
        "train_class_counts": dict(COUNTS), "machine": "x86_64 2 cores",
        "fit_seconds": 100.0 + seed, "predict_seconds": 2.0,
        "accuracy": macro_f1 + 0.05, "macro_f1": macro_f1, "per_class": per_class,
    }
    record.update(extra)
    return record


@pytest.fixture
def runs_dir(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    records = []
    for seed in range(3):
        neural = {"epochs": 4, "seconds_per_epoch": 20.0 + seed, "best_epoch": 3,
                  "valid_f1_macro": [0.5, 0.6, 0.7, 0.6]}
        records.append(make_record("SharpReCL", seed, SHARP[seed], **neural))
        records.append(make_record("CE", seed, CE[seed], abbr_f1=ABBR_CE[seed], **neural))
        records.append(make_record("CALoRA on CE", seed, CALORA_CE[seed], abbr_f1=ABBR_CALORA[seed],
                                   calora={"rank": 8, "top_k": 2, "n_trainable_parameters": 12345,
                                           "seconds_per_epoch": 5.0}))
    for rec in records:
        name = f"trec__ir50__{rec['method'].replace(' ', '-')}__seed{rec['seed']}__abc.json"
        (runs / name).write_text(json.dumps(rec))
    return runs


def table_row(markdown, section, label):
    """Cells of the row ``label`` in the first table after heading ``section``, keyed by column."""
    text = markdown.split(section, 1)[1]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == label:
            return dict(zip(header, cells))
    raise AssertionError(f"row {label!r} not found")


def expected_cell(values):
    v = 100 * np.asarray(values)
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f} (3)"


def test_table2_mean_sd_match_numpy_and_best_is_bold(runs_dir):
    grid = report.index_runs(report.load_runs(runs_dir))
    md = report.table2_markdown(grid, report.load_paper())
    row = table_row(md, "## Macro-F1 (%)", "TREC ir=50")
    assert row["SharpReCL"] == f"**{expected_cell(SHARP)[:-4]}** (3)"
    assert row["CE"] == expected_cell(CE)
    assert row["CALoRA on CE"] == expected_cell(CALORA_CE)
    assert "**" not in row["CE"] + row["CALoRA on CE"]
    acc = table_row(md, "## Accuracy (%)", "TREC ir=50")
    assert acc["CE"] == expected_cell(np.add(CE, 0.05))
    # the paper's own cells, clearly marked
    assert row[f"SharpReCL, {report.PAPER_TAG}"] == "94.83 ± 0.55"
    assert row[f"best baseline, {report.PAPER_TAG}"] == "BERT+Focal Loss: 94.26 ± 0.40"


def test_paired_differences(runs_dir):
    grid = report.index_runs(report.load_runs(runs_dir))
    row = grid[("trec", 50)]
    pair = report.paired(row["SharpReCL"], row["CE"])
    diffs = 100 * (np.asarray(SHARP) - np.asarray(CE))
    assert pair["seeds"] == [0, 1, 2]
    np.testing.assert_allclose(pair["diffs"], diffs)
    assert pair["mean"] == pytest.approx(diffs.mean())
    assert pair["sd"] == pytest.approx(diffs.std(ddof=1))
    assert report.reading(pair) == "SharpReCL ahead (|mean| > sd)"  # 4.33 ± 0.58
    md = report.table2_markdown(grid)
    line = table_row(md, "### TREC ir=50", "CE")
    assert line["SharpReCL − method"] == f"+{diffs.mean():.1f} ± {diffs.std(ddof=1):.1f}"
    assert line["n"] == "3"
    # CALoRA on CE vs SharpReCL: +3, +5, +2 -> ahead; CALoRA vs CE: +2, -1, +2 -> within noise
    calora = report.paired(row["CALoRA on CE"], row["CE"])
    assert calora["mean"] == pytest.approx(1.0) and calora["sd"] == pytest.approx(np.sqrt(3))
    assert report.reading(calora) == "within seed noise"


def test_paired_uses_common_seeds_only(runs_dir):
    grid = report.index_runs(report.load_runs(runs_dir))
    row = grid[("trec", 50)]
    one_seed = {0: row["CE"][0]}
    pair = report.paired(row["SharpReCL"], one_seed)
    assert pair["n"] == 1 and pair["seeds"] == [0]
    assert report.reading(pair) == "one seed: no noise estimate"
    assert report.fmt_cell(*report.summarize([80.0])) == "80.0 (1)"


def test_calora_table(runs_dir):
    grid = report.index_runs(report.load_runs(runs_dir))
    md = report.calora_markdown(grid)
    assert "## TREC ir=50: CALoRA on CE vs CE" in md
    assert "CALoRA on SharpReCL vs" not in md  # no such runs
    macro = table_row(md, "CALoRA on CE vs CE", "macro-F1")
    assert macro["CALoRA − base"] == "+1.0 ± 1.7"
    rare = table_row(md, "rarest training classes", "ABBR")
    d = 100 * (np.asarray(ABBR_CALORA) - np.asarray(ABBR_CE))
    assert rare["CALoRA − base"] == f"+{d.mean():.1f} ± {d.std(ddof=1):.1f}"
    assert rare["train n"] == "25"
    # the five rarest, rarest first; the head class ENTY is left out
    rare_rows = md.split("rarest training classes", 1)[1].split("Cost", 1)[0]
    order = [c for c in COUNTS if f"| {c} |" in rare_rows]
    assert sorted(order, key=COUNTS.get) == ["ABBR", "LOC", "NUM", "DESC", "HUM"]
    cost = table_row(md, "Cost", "seconds per epoch")
    assert cost["CE"] == "21.0" and cost["CALoRA on CE (stage 2)"] == "5.0"
    assert table_row(md, "Cost", "trainable parameters added")["CALoRA on CE (stage 2)"] == "12,345"


def test_generate_writes_tables_plots_and_readme(runs_dir, tmp_path):
    out = tmp_path / "out"
    written = report.generate(runs_dir, out, report.PAPER)
    names = {p.name for p in written}
    assert {"table2.md", "table4.md", "calora.md", "README.md"} <= names
    for png in ["macro_f1_vs_ir.png", "per_class_f1_vs_frequency_trec_ir50.png", "runtime.png"]:
        assert png in names
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    readme = (out / "README.md").read_text()
    assert "TODO(reading)" in readme
    total = sum(100.0 + s + 2.0 for s in range(3)) * 3  # 3 methods x 3 seeds
    assert report.fmt_duration(total) in readme
    assert "TREC 22" in readme  # max_length from the records
    # idempotent: a second run writes the same text
    before = {n: (out / n).read_text() for n in ["table2.md", "table4.md", "calora.md", "README.md"]}
    report.generate(runs_dir, out, report.PAPER)
    assert before == {n: (out / n).read_text() for n in before}


def test_broken_and_duplicate_records(runs_dir, capsys):
    (runs_dir / "broken.json").write_text("{not json")
    dup = json.loads(next(runs_dir.glob("trec__ir50__CE__seed0*")).read_text())
    (runs_dir / "zz_duplicate.json").write_text(json.dumps(dup))
    records = report.load_runs(runs_dir)
    assert len(records) == 9
    err = capsys.readouterr().err
    assert "broken.json" in err and "same run" in err


def test_empty_runs_dir(tmp_path):
    (tmp_path / "runs").mkdir()
    written = report.generate(tmp_path / "runs", tmp_path / "out", report.PAPER)
    assert "No runs yet." in (tmp_path / "out" / "table2.md").read_text()
    assert not [p for p in written if p.suffix == ".png"]


def test_paper_numbers():
    paper = report.load_paper()
    assert len(paper["columns"]) == 13 and paper["columns"][-1] == "Ours"
    rows = {(r["dataset"], r["imbalance_ratio"]): r["cells"] for r in paper["rows"]}
    assert set(rows) == {("trec", r) for r in (50, 20, 10, None)} | {("cr", r) for r in (50, 20, 10, None)} | {
        ("r52", None), ("ohsumed", None)}
    assert all(set(cells) == set(paper["columns"]) for cells in rows.values())
    # checked by hand against the paper's text
    assert rows[("trec", 50)]["BERT"] == {"acc": 93.40, "acc_std": 0.66, "f1": 93.30, "f1_std": 0.65}
    assert rows[("cr", 50)]["Ours"] == {"acc": 84.04, "acc_std": 0.25, "f1": 81.12, "f1_std": 0.26}
    assert rows[("cr", 20)]["Llama3-8B"]["f1"] == 87.81
    assert rows[("ohsumed", None)]["Ours"]["f1"] == 60.82
    assert rows[("trec", None)]["BERT"]["acc"] == 97.60  # TREC's org* row (line 240), not DBLP's
    assert rows[("r52", None)]["Bloom-7.1B"]["f1"] is None  # OOM
    assert report.row_label(("r52", None)) == "R52 org"


def test_failed_runs_without_a_record_are_listed(runs_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "failures.log").write_text(
        "2026-01-01 10:00:00 trec__ir50__SharpReCL__seed0__abc: RuntimeError: out of memory\n"
        "2026-01-01 10:05:00 r52__irorg__smote__seed0__abc: ValueError: first | try\n"
        "2026-01-01 10:09:00 r52__irorg__smote__seed0__abc: ValueError: Expected n_neighbors <= 1\n"
    )
    report.generate(runs_dir, out, report.PAPER, plots=False)
    section = (out / "README.md").read_text().split("## Runs that failed", 1)[1].split("\n## ", 1)[0]
    assert "`r52__irorg__smote__seed0__abc` | ValueError: Expected n_neighbors <= 1" in section
    assert "first" not in section  # only the last attempt counts
    assert "SharpReCL__seed0" not in section  # it failed once but has a record now
