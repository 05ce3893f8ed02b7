"""The benchmark report (benchmarks/report.py and its ``reporting`` package) on fake run records
with known numbers: no training."""

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from benchmarks import report  # noqa: E402
from benchmarks.reporting.calora import calora_markdown  # noqa: E402
from benchmarks.reporting.fmt import fmt_cell, fmt_duration  # noqa: E402
from benchmarks.reporting.paper import PAPER, PAPER_TAG, load_paper  # noqa: E402
from benchmarks.reporting.records import index_runs, load_runs, row_label  # noqa: E402
from benchmarks.reporting.stats import noise_bar, paired, paired_t_p, summarize, verdict  # noqa: E402
from benchmarks.reporting.tables import table2_markdown, table4_markdown  # noqa: E402

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
    grid = index_runs(load_runs(runs_dir))
    md = table2_markdown(grid, load_paper())
    row = table_row(md, "## Macro-F1 (%)", "TREC ir=50")
    assert row["SharpReCL"] == f"**{expected_cell(SHARP)[:-4]}** (3)"
    assert row["CE"] == expected_cell(CE)
    assert row["CALoRA on CE"] == expected_cell(CALORA_CE)
    assert "**" not in row["CE"] + row["CALoRA on CE"]
    acc = table_row(md, "## Accuracy (%)", "TREC ir=50")
    assert acc["CE"] == expected_cell(np.add(CE, 0.05))
    # the paper's own cells, clearly marked
    assert row[f"SharpReCL, {PAPER_TAG}"] == "94.83 ± 0.55"
    assert row[f"best baseline, {PAPER_TAG}"] == "BERT+Focal Loss: 94.26 ± 0.40"


def test_paired_differences(runs_dir):
    grid = index_runs(load_runs(runs_dir))
    row = grid[("trec", 50)]
    pair = paired(row["SharpReCL"], row["CE"])
    diffs = 100 * (np.asarray(SHARP) - np.asarray(CE))
    assert pair["seeds"] == [0, 1, 2]
    np.testing.assert_allclose(pair["diffs"], diffs)
    assert pair["mean"] == pytest.approx(diffs.mean())
    assert pair["sd"] == pytest.approx(diffs.std(ddof=1))
    assert verdict(pair) == "SharpReCL ahead (|mean| > sd)"  # 4.33 ± 0.58
    md = table2_markdown(grid)
    line = table_row(md, "### TREC ir=50", "CE")
    assert line["SharpReCL − method"] == f"+{diffs.mean():.1f} ± {diffs.std(ddof=1):.1f}"
    assert line["n"] == "3"
    # CALoRA on CE vs SharpReCL: +3, +5, +2 -> ahead; CALoRA vs CE: +2, -1, +2 -> within noise
    calora = paired(row["CALoRA on CE"], row["CE"])
    assert calora["mean"] == pytest.approx(1.0) and calora["sd"] == pytest.approx(np.sqrt(3))
    assert verdict(calora) == "within seed noise"


def test_paired_uses_common_seeds_only(runs_dir):
    grid = index_runs(load_runs(runs_dir))
    row = grid[("trec", 50)]
    one_seed = {0: row["CE"][0]}
    pair = paired(row["SharpReCL"], one_seed)
    assert pair["n"] == 1 and pair["seeds"] == [0]
    assert verdict(pair) == "one seed: no noise estimate"
    assert fmt_cell(*summarize([80.0])) == "80.0 (1)"


def test_calora_table(runs_dir):
    grid = index_runs(load_runs(runs_dir))
    md = calora_markdown(grid)
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
    written = report.generate(runs_dir, out, PAPER)
    names = {p.name for p in written}
    assert {"table2.md", "table4.md", "calora.md", "README.md"} <= names
    for png in ["macro_f1_vs_ir.png", "per_class_f1_vs_frequency_trec_ir50.png", "runtime.png"]:
        assert png in names
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    readme = (out / "README.md").read_text()
    total = sum(100.0 + s + 2.0 for s in range(3)) * 3  # 3 methods x 3 seeds
    assert fmt_duration(total) in readme
    assert "TREC 22" in readme  # max_length from the records
    # the benchmark recipe's early stopping, quoted from methods.RECIPES
    assert "batch 32, early stopping after 2 epochs without" in readme
    # idempotent: a second run writes the same text
    before = {n: (out / n).read_text() for n in ["table2.md", "table4.md", "calora.md", "README.md"]}
    report.generate(runs_dir, out, PAPER)
    assert before == {n: (out / n).read_text() for n in before}


def test_readme_quotes_the_batch_size_a_record_stores_else_the_registrys(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    neural = {"epochs": 4, "seconds_per_epoch": 20.0, "best_epoch": 3}
    stored = make_record("SharpReCL", 0, 0.8, estimator_params={"batch_size": 16}, **neural)
    older = make_record("CE", 0, 0.7, **neural)  # made before records stored their settings
    for name, record in (("a", stored), ("b", older)):
        (runs / f"{name}.json").write_text(json.dumps(record))
    report.generate(runs, tmp_path / "out", PAPER, plots=False)
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "at most 4 epochs, batch 16/32, early stopping" in readme
    # what each profile runs, in words, from methods.PROFILES
    assert "python -m benchmarks.run --profile quick" in readme
    assert "# TREC and CR at ir=50, 3 seeds" in readme


def test_broken_and_duplicate_records(runs_dir, capsys):
    (runs_dir / "broken.json").write_text("{not json")
    dup = json.loads(next(runs_dir.glob("trec__ir50__CE__seed0*")).read_text())
    (runs_dir / "zz_duplicate.json").write_text(json.dumps(dup))
    records = load_runs(runs_dir)
    assert len(records) == 9
    err = capsys.readouterr().err
    assert "broken.json" in err and "same run" in err


def test_empty_runs_dir(tmp_path):
    (tmp_path / "runs").mkdir()
    written = report.generate(tmp_path / "runs", tmp_path / "out", PAPER)
    assert "No runs yet." in (tmp_path / "out" / "table2.md").read_text()
    assert not [p for p in written if p.suffix == ".png"]


def test_paper_numbers():
    paper = load_paper()
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
    assert row_label(("r52", None)) == "R52 org"


def test_failed_runs_without_a_record_are_listed(runs_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "failures.log").write_text(
        "2026-01-01 10:00:00 trec__ir50__SharpReCL__seed0__abc: RuntimeError: out of memory\n"
        "2026-01-01 10:05:00 r52__irorg__smote__seed0__abc: ValueError: first | try\n"
        "2026-01-01 10:09:00 r52__irorg__smote__seed0__abc: ValueError: Expected n_neighbors <= 1\n"
    )
    report.generate(runs_dir, out, PAPER, plots=False)
    section = (out / "README.md").read_text().split("## Runs that failed", 1)[1].split("\n## ", 1)[0]
    assert "`r52__irorg__smote__seed0__abc` | ValueError: Expected n_neighbors <= 1" in section
    assert "first" not in section  # only the last attempt counts
    assert "SharpReCL__seed0" not in section  # it failed once but has a record now


# --------------------------------------------------------------------------- statistics


def test_noise_bar_matches_the_closed_form():
    # |mean| = sd over n seeds is a paired t of sqrt(n); with 2 degrees of freedom the two-sided
    # p of t is 1 - t / sqrt(t^2 + 2).
    t, p = noise_bar(3)
    assert t == pytest.approx(np.sqrt(3))
    assert p == pytest.approx(1 - np.sqrt(3) / np.sqrt(5))
    md = table2_markdown(index_runs([make_record("SharpReCL", s, v) for s, v in enumerate(SHARP)]
                                    + [make_record("CE", s, v) for s, v in enumerate(CE)]))
    assert f"with n = 3 it is a paired t of 1.7, two-sided p ≈ {p:.2f}" in md


def test_verdict_needs_the_mean_beyond_the_sd():
    pair = paired({s: {"macro_f1": v} for s, v in enumerate(SHARP)}, {s: {"macro_f1": v} for s, v in enumerate(CE)})
    assert verdict(pair) == "SharpReCL ahead (|mean| > sd)"
    noisy = paired({0: {"macro_f1": 0.5}, 1: {"macro_f1": 0.6}}, {0: {"macro_f1": 0.55}, 1: {"macro_f1": 0.5}})
    assert verdict(noisy) == "within seed noise"
    one = paired({0: {"macro_f1": 0.9}}, {0: {"macro_f1": 0.1}})
    assert verdict(one) == "one seed: no noise estimate"
    assert np.isnan(paired_t_p(one))


def test_orders_come_from_the_registry():
    from benchmarks.methods import CALORA_BASES, CLASSIC, NEURAL, OTHER

    from benchmarks.reporting.order import RUNTIME_ORDER, TABLE2_METHODS

    assert set(RUNTIME_ORDER) == set(NEURAL) | set(CALORA_BASES) | set(OTHER) | set(CLASSIC)
    assert set(CLASSIC) <= set(TABLE2_METHODS)
    md = table4_markdown(index_runs([make_record("SharpReCL", 0, 0.8)]))
    assert "The benchmark runs + WordNet view, w/o SS, w/o HM and w/o δ_CLS on seed 0 only." in md


def test_study_confirmation_gives_paired_differences_with_and_without_the_screening_seed():
    from benchmarks import study_report

    def runs(scores):
        return {("trec", 50): {s: {"macro_f1": f} for s, f in enumerate(scores)}}

    grid = {("r9", "SharpReCL", ""): runs([0.90, 0.92, 0.91, 0.93]),
            ("r9", "LA-CE (w/o CL)", ""): runs([0.80, 0.91, 0.92, 0.92]),
            ("r9", "CE", ""): runs([0.90, 0.92])}  # two seeds: below the table's minimum
    text = study_report.confirmation_table(grid, [("trec", 50)])
    rows = [line for line in text.splitlines() if line.startswith("| r9")]
    assert len(rows) == 1
    # +10, +1, -1, +1: mean 2.75, sd 4.92; without seed 0: 1/3, sd 1.15
    assert rows[0] == ("| r9 | SharpReCL − LA-CE (w/o CL) | trec ir=50 | 4 | +10.0, +1.0, -1.0, +1.0 | "
                       "+2.8 ± 4.9 | +0.3 ± 1.2 (n=3) | no |")


def test_study_decision_prior_table_scores_both_rules_of_the_same_runs():
    from benchmarks import study_report

    def run(balanced, train=None):
        return {"macro_f1": balanced, **({"train_prior_decision": {"macro_f1": train}} if train else {})}

    grid = {("r9", "LA-CE (w/o CL)", ""): {("trec", 50): {0: run(0.90, 0.94), 1: run(0.92, 0.96),
                                                           2: run(0.91, 0.95)},
                                            ("cr", 50): {0: run(0.7, 0.5), 1: run(0.7, 0.5)}},
            ("r9", "CE", ""): {("trec", 50): {0: run(0.93), 1: run(0.95)}}}
    text = study_report.decision_prior_table(grid, [("trec", 50), ("cr", 50)])
    rows = [line for line in text.splitlines() if line.startswith("| r9")]
    assert rows == ["| r9 · LA-CE (w/o CL) | trec ir=50 | 91.0 ± 1.0 (3) | 95.0 ± 1.0 (3) | – | 94.0 ± 1.4 (2) |"]


def test_study_estimated_prior_table_lists_only_runs_with_the_diagnostic():
    from benchmarks import study_report

    with_em = {"macro_f1": 0.90, "train_prior_decision": {"macro_f1": 0.94},
               "estimated_prior_decision": {"macro_f1": 0.935, "prior": {"a": 0.9, "b": 0.1}}}
    grid = {("r9", "SharpReCL", "tau=0.5"): {("trec", 50): {0: with_em, 1: {"macro_f1": 0.91}}}}
    text = study_report.estimated_prior_table(grid, [("trec", 50), ("cr", 50)])
    rows = [line for line in text.splitlines() if line.startswith("| r9")]
    assert rows == ["| r9 · SharpReCL · tau=0.5 | trec ir=50 | 0 | 90.0 | 94.0 | 93.5 |"]


def test_study_confirmation_of_a_variant_compares_it_with_plain_sharprecl_too():
    from benchmarks import study_report

    def runs(scores):
        return {("trec-sharprecl", 50): {s: {"macro_f1": f} for s, f in enumerate(scores)}}

    grid = {("r9", "SharpReCL", 'X_aug="aug_text"'): runs([0.95, 0.94, 0.96]),
            ("r9", "SharpReCL", ""): runs([0.93, 0.93, 0.93]),
            ("r9", "CE", ""): runs([0.94, 0.94, 0.94])}
    text = study_report.confirmation_table(grid, [("trec-sharprecl", 50)])
    rows = [line.split(" | ")[1] for line in text.splitlines() if line.startswith("| r9")]
    assert rows == ["SharpReCL − CE", 'SharpReCL · X_aug="aug_text" − CE',
                    'SharpReCL · X_aug="aug_text" − SharpReCL']


def test_study_decision_prior_table_gives_the_em_prior_where_runs_have_it():
    from benchmarks import study_report

    def run(balanced, train, em):
        return {"macro_f1": balanced, "train_prior_decision": {"macro_f1": train},
                "estimated_prior_decision": {"macro_f1": em, "prior": {}}}

    grid = {("r9", "SharpReCL", ""): {("trec", 50): {s: run(0.9, 0.94, e) for s, e in
                                                      enumerate([0.91, 0.93, 0.92])}}}
    text = study_report.decision_prior_table(grid, [("trec", 50)])
    rows = [line for line in text.splitlines() if line.startswith("| r9")]
    assert rows == ["| r9 · SharpReCL | trec ir=50 | 90.0 ± 0.0 (3) | 94.0 ± 0.0 (3) | 92.0 ± 1.0 (3) | – |"]


def test_study_decision_prior_table_covers_a_variant_run_on_enough_seeds():
    from benchmarks import study_report

    def run(balanced, train):
        return {"macro_f1": balanced, "train_prior_decision": {"macro_f1": train}}

    grid = {("r9", "SharpReCL", "center_prototypes=true"):
            {("trec", 50): {s: run(0.93, 0.92) for s in range(3)}},
            ("r9", "SharpReCL", "tau=0.5"): {("trec", 50): {0: run(0.9, 0.9)}}}  # one seed: left out
    text = study_report.decision_prior_table(grid, [("trec", 50)])
    rows = [line for line in text.splitlines() if line.startswith("| r9")]
    assert rows == ["| r9 · SharpReCL · center_prototypes=true | trec ir=50 | 93.0 ± 0.0 (3) | "
                    "92.0 ± 0.0 (3) | – | – |"]


def test_study_keeps_freezer_records_apart_from_cached_partial_fine_tuning():
    from benchmarks import study_report

    def record(config):
        return {"method": "SharpReCL", "config": {"max_epochs": 2, **config}}

    freezer = study_report.variant_of(record({"freeze_layers": 4}))
    cached = study_report.variant_of(record({"freeze_layers": 0, "train_layers": 2}))
    assert freezer == ("v1", "SharpReCL", "freeze_layers=4")
    assert cached == ("v1", "SharpReCL", "")


def test_study_compares_a_variant_of_any_method_with_that_method():
    from benchmarks import study_report

    def runs(scores):
        return {("r52", None): {s: {"macro_f1": f} for s, f in enumerate(scores)}}

    grid = {("v1", "LA-CE (w/o CL)", 'head_init="linear_probe"'): runs([0.77, 0.78, 0.76]),
            ("v1", "LA-CE (w/o CL)", ""): runs([0.72, 0.74, 0.73]),
            ("v1", "CE", ""): runs([0.70, 0.70, 0.70])}
    rows = study_report.paired_rows(grid, [("r52", None)])
    assert rows == [['v1 · LA-CE (w/o CL) · head_init="linear_probe" − LA-CE (w/o CL)', "+4.0 ± 1.0 (n=3)"]]
    text = study_report.confirmation_table(grid, [("r52", None)])
    lines = [line for line in text.splitlines() if line.startswith("| v1")]
    assert lines == ['| v1 | LA-CE (w/o CL) · head_init="linear_probe" − LA-CE (w/o CL) | r52 | 3 | '
                     '+5.0, +4.0, +3.0 | +4.0 ± 1.0 | +3.5 ± 0.7 (n=2) | yes |']


def test_study_compares_a_sharprecl_variant_with_peers_given_the_same_change():
    from benchmarks import study_report

    def runs(scores):
        return {("r52", None): {s: {"macro_f1": f} for s, f in enumerate(scores)}}

    probe = 'head_init="linear_probe"'
    grid = {("v1", "SharpReCL", probe): runs([0.79, 0.79]),
            ("v1", "SharpReCL", ""): runs([0.65, 0.65]),
            ("v1", "LA-CE (w/o CL)", probe): runs([0.77, 0.76])}
    rows = [row[0] for row in study_report.paired_rows(grid, [("r52", None)])]
    assert f"v1 · SharpReCL · {probe} − SharpReCL" in rows
    assert f"v1 · SharpReCL · {probe} − LA-CE (w/o CL) · {probe}" in rows
    assert not any(row.endswith(f"− CE · {probe}") for row in rows)  # no such runs


def test_study_long_document_table_pairs_the_probed_sharprecl_with_every_row():
    from benchmarks import study_report

    def runs(scores):
        return {("r52", None): {s: {"macro_f1": f} for s, f in enumerate(scores)}}

    probe = study_report.PROBE
    grid = {("v1", "SharpReCL", probe): runs([0.79, 0.78, 0.80]),
            ("v1", "CE", probe): runs([0.75, 0.72]),
            ("v1", "SharpReCL", ""): runs([0.64, 0.65, 0.66]),
            ("v1", "Frozen MiniLM+LR", ""): runs([0.753, 0.753, 0.753]),
            ("v1", "SharpReCL", "tau=0.5"): runs([0.99])}  # another screen: not this table's
    paper = {"rows": [{"dataset": "r52", "imbalance_ratio": None, "cells": {"Ours": {"f1": 84.83}}}]}
    text = study_report.long_document_table(grid, paper)
    rows = [line for line in text.splitlines() if line.startswith("| r52")]
    assert rows == [
        f"| r52 | SharpReCL · {probe} | 0: 79.0, 1: 78.0, 2: 80.0 | 79.0 ± 1.0 (3) | – |",
        f"| r52 | CE · {probe} | 0: 75.0, 1: 72.0 | 73.5 ± 2.1 (2) | +5.0 ± 1.4 (n=2) |",
        "| r52 | SharpReCL | 0: 64.0, 1: 65.0, 2: 66.0 | 65.0 ± 1.0 (3) | +14.0 ± 1.0 (n=3) |",
        "| r52 | Frozen MiniLM+LR | 0: 75.3, 1: 75.3, 2: 75.3 | 75.3 ± 0.0 (3) | +3.7 ± 1.0 (n=3) |",
        "| r52 | SharpReCL, paper (BERT-base, theirs) | – | 84.83 (10) | – |",
    ]
