"""The suite study's tables pair the right records."""

import json

import pytest

from benchmarks import suite_report

BASE = suite_report.BASE

def write_record(folder, dataset, method, seed, test, settings, protocol=1, dev=None, fit=100.0):
    record = {
        "dataset": dataset, "imbalance_ratio": 50, "method": method, "seed": seed,
        "config": {"protocol": protocol, "recipe": "r1-linear-all", "set": settings},
        "fit_seconds": fit, "macro_f1": test,
    }
    if dev is not None:
        record["dev"] = {"macro_f1": dev}
    name = f"{dataset}__{method.replace('/', '-')}__{seed}__{len(list(folder.iterdir()))}.json"
    (folder / name).write_text(json.dumps(record))

def row(markdown, *cells):
    hits = [line for line in markdown.splitlines()
            if all(f"| {c} |" in line or line.startswith(f"| {c} |") for c in cells)]
    assert len(hits) == 1, hits
    return [c.strip() for c in hits[0].strip("|").split("|")]

def test_a_cheaper_view_is_paired_with_two_views_and_timed_against_la_ce(tmp_path):
    one_view = {**BASE, "augment": None}
    for seed, (two, one, ablation) in enumerate([(0.90, 0.89, 0.85), (0.92, 0.93, 0.86), (0.91, 0.89, 0.84)]):
        write_record(tmp_path, "trec", "SharpReCL", seed, two, BASE, fit=500.0)
        write_record(tmp_path, "trec", "SharpReCL", seed, one, one_view, fit=110.0 + seed)
        write_record(tmp_path, "trec", "LA-CE (w/o CL)", seed, ablation, BASE, fit=100.0)
    write_record(tmp_path, "trec", "SharpReCL", 3, 0.5, one_view)  # no two-view partner: not paired
    text = suite_report.branch_table(suite_report.load(tmp_path))
    cells = row(text, "TREC ir=50", "one view (H22)")
    # one view minus two views: -1, +1, -2 -> mean -0.67, sd 1.53: within noise
    assert cells[3] == "-0.7 ± 1.5" and cells[4] == "yes"
    assert cells[6] == "1.11 (3)"  # (110/100 + 111/100 + 112/100) / 3, seed 3 has no LA-CE
    assert row(text, "TREC ir=50", "two views (default)")[6] == "–"

def test_the_screen_pairs_each_added_setting_with_the_defaults_on_the_development_split(tmp_path):
    warm = {**BASE, "callbacks__mu_warmup__fraction": 0.25}
    write_record(tmp_path, "banking77", "SharpReCL", 0, 0.70, BASE, protocol=2, dev=0.80, fit=200.0)
    write_record(tmp_path, "banking77", "SharpReCL", 0, 0.99, warm, protocol=2, dev=0.83, fit=210.0)
    write_record(tmp_path, "banking77", "SharpReCL", 0, 0.10, {"precision": "bf16"}, protocol=2, dev=0.1)
    text = suite_report.screen_table(suite_report.load(tmp_path))
    cells = row(text, "banking77 ir=50", "callbacks__mu_warmup__fraction=0.25")
    assert cells[4] == "+3.0" and cells[7] == "1.05"  # dev decides; the test score is shown only
    assert "precision" not in text.split("\n", 2)[2]  # a record without the defaults is no screen

def test_the_baseline_table_reads_protocol_2_only(tmp_path):
    write_record(tmp_path, "stackoverflow", "CE", 0, 0.81, BASE, protocol=2, dev=0.82)
    write_record(tmp_path, "stackoverflow", "CE", 1, 0.83, BASE, protocol=2, dev=0.84)
    write_record(tmp_path, "stackoverflow", "CE", 2, 0.10, BASE, protocol=1)
    cells = row(suite_report.baseline_table(suite_report.load(tmp_path)), "stackoverflow ir=50", "CE")
    assert cells[2] == "83.0 ± 1.4 (2)" and cells[4] == "82.0 ± 1.4 (2)"


def test_the_tail_recall_is_the_mean_over_the_five_rarest_training_classes():
    counts = {"a": 3, "b": 50, "c": 4, "d": 5, "e": 6, "f": 2, "g": 40}
    recall = {"a": 0.1, "b": 0.9, "c": 0.2, "d": 0.3, "e": 0.4, "f": 0.5, "g": 0.9}
    record = {"train_class_counts": counts,
              "dev": {"per_class": {c: {"recall": r} for c, r in recall.items()}}}
    assert suite_report.rarest_recall(record) == pytest.approx(100 * (0.5 + 0.1 + 0.2 + 0.3 + 0.4) / 5)


def test_a_data_dependent_candidate_is_the_defaults_where_it_resolves_to_them(tmp_path):
    def record(dataset, method, seed, dev, settings, rarest):
        write_record(tmp_path, dataset, method, seed, 0.5, settings, protocol=2, dev=dev)
        path = max(tmp_path.iterdir(), key=lambda p: int(p.stem.rsplit("__", 1)[1]))
        data = json.loads(path.read_text())
        data["train_class_counts"] = {"a": 300, "b": rarest}
        path.write_text(json.dumps(data))

    probe = {**BASE, "head_init": "linear_probe"}
    for seed in range(5):  # Banking77: 2 texts in the rarest class, the probe decides
        record("banking77", "SharpReCL", seed, 0.70, BASE, rarest=2)
        record("banking77", "SharpReCL", seed, 0.80 + seed / 100, probe, rarest=2)
    record("trec", "SharpReCL", 0, 0.90, BASE, rarest=25)
    record("trec", "SharpReCL", 0, 0.10, probe, rarest=25)  # a screen, not what the rule picks
    cells = row(suite_report.rule_table(suite_report.load(tmp_path)), "head_init='auto' (H20 by data)",
                "SharpReCL")
    assert cells[2] == "0 (= defaults)" and cells[3] == "– (0)"  # TREC; CR has no record
    assert cells[5] == "+12.0 ± 1.6 (5)"  # Banking77: 10, 11, ..., 14
    assert cells[6] == "needs 5 seeds on every cell"
    for dataset in ("cr", "stackoverflow"):
        record(dataset, "SharpReCL", 0, 0.85, BASE, rarest=16)
    cells = row(suite_report.rule_table(suite_report.load(tmp_path)), "head_init='auto' (H20 by data)",
                "SharpReCL")
    assert cells[6] == "passes"
    for seed in range(1, 5):  # worse beyond noise on Banking77 fails the rule
        record("banking77", "SharpReCL", seed + 10, 0.70, BASE, rarest=2)
        record("banking77", "SharpReCL", seed + 10, 0.50 - seed / 100, probe, rarest=2)
    cells = row(suite_report.rule_table(suite_report.load(tmp_path)), "head_init='auto' (H20 by data)",
                "SharpReCL")
    assert cells[6] == "fails"


def write_suite_record(folder, dataset, method, seed, dev, settings, counts, fit, cpu=None):
    """A protocol-2 record with per-class development recall (``dev``: macro-F1 and each recall)."""
    record = {"dataset": dataset, "imbalance_ratio": 50, "method": method, "seed": seed, "macro_f1": dev,
              "config": {"protocol": 2, "recipe": "r1-linear-all", "set": settings}, "fit_seconds": fit,
              "train_class_counts": counts,
              "dev": {"macro_f1": dev, "per_class": {c: {"recall": dev} for c in counts}}}
    if cpu is not None:
        record["fit_cpu_seconds"] = cpu
    name = f"{dataset}__{method.replace('/', '-')}__{seed}__{len(list(folder.iterdir()))}.json"
    (folder / name).write_text(json.dumps(record))


def test_the_defaults_resolve_per_cell_by_the_number_of_classes(tmp_path):
    few = {str(c): 50 - 10 * c for c in range(3)}  # 3 classes: the branch on one view
    many = {str(c): 5 + c for c in range(12)}  # 12 classes, 5 texts in the rarest: LA-CE with the probe
    probe = {**BASE, "head_init": "linear_probe"}
    for seed, (sharp, la, ce) in enumerate([(0.90, 0.85, 0.80), (0.92, 0.86, 0.81)]):
        write_suite_record(tmp_path, "trec", "SharpReCL", seed, sharp, {**BASE, "augment": None}, few,
                           fit=500.0, cpu=105.0)
        write_suite_record(tmp_path, "trec", "SharpReCL", seed, 0.1, BASE, few, fit=1.0)  # two views: not the defaults
        write_suite_record(tmp_path, "trec", "LA-CE (w/o CL)", seed, la, BASE, few, fit=100.0, cpu=100.0)
        write_suite_record(tmp_path, "trec", "CE", seed, ce, BASE, few, fit=100.0)
        write_suite_record(tmp_path, "banking77", "LA-CE (w/o CL)", seed, la, probe, many, fit=100.0)
        write_suite_record(tmp_path, "banking77", "LA-CE (w/o CL)", seed, 0.1, BASE, many, fit=100.0)
        write_suite_record(tmp_path, "banking77", "CE", seed, ce, probe, many, fit=100.0)
    grid = suite_report.load(tmp_path)
    text = suite_report.defaults_table(grid, "bf16")
    trec = row(text, "trec ir=50 (3 classes)")
    assert trec[1] == "SharpReCL, augment=null" and trec[2] == "91.0 ± 1.4 (2)"
    assert trec[5] == "+5.5 ± 0.7" and trec[6] == "+10.5 ± 0.7"
    assert trec[9] == "1.05 (2)"  # CPU seconds, not the wall's
    banking = row(text, "banking77 ir=50 (12 classes)")
    assert banking[1] == 'LA-CE, head_init="linear_probe"' and banking[2] == banking[3] == "85.5 ± 0.7 (2)"
    assert banking[5] == "0 (the same runs)" and banking[6] == "+5.0 ± 0.0"
    verdicts = dict(suite_report.defaults_verdicts(grid, "bf16", seeds=2))
    assert verdicts["fit time ≤ 1.1x LA-CE's on every cell (CPU seconds)"].endswith(
        "so far yes (trec ir=50 1.05, banking77 ir=50 1.00)")
    assert verdicts["defaults − LA-CE > +sd on macro-F1 on at least 2 cells"] == (
        "not decided, fewer than 2 seeds on cr ir=50, stackoverflow ir=50; so far no: trec ir=50")
    assert verdicts["the defaults' mean over the four cells above CE's"].endswith("no mean yet (a cell without runs)")


def test_a_precision_series_pairs_only_within_itself(tmp_path):
    few = {str(c): 50 - 10 * c for c in range(3)}
    many = {str(c): 20 + c for c in range(12)}
    fp32 = suite_report.base("fp32")
    for seed in range(2):
        write_suite_record(tmp_path, "trec", "SharpReCL", seed, 0.90 + seed / 100, {**fp32, "augment": None},
                           few, fit=100.0, cpu=100.0)
        write_suite_record(tmp_path, "trec", "LA-CE (w/o CL)", seed, 0.80, BASE, few, fit=100.0, cpu=50.0)
        write_suite_record(tmp_path, "trec", "LA-CE (w/o CL)", seed, 0.85, fp32, few, fit=100.0, cpu=100.0)
        write_suite_record(tmp_path, "stackoverflow", "LA-CE (w/o CL)", seed, 0.85, BASE, many, fit=100.0)
    grid = suite_report.load(tmp_path)
    fp32_row = row(suite_report.defaults_table(grid, "fp32"), "trec ir=50 (3 classes)")
    assert fp32_row[3] == "85.0 ± 0.0 (2)" and fp32_row[5] == "+5.5 ± 0.7" and fp32_row[9] == "1.00 (2)"
    bf16_row = row(suite_report.defaults_table(grid, "bf16"), "trec ir=50 (3 classes)")
    assert bf16_row[2] == "–" and bf16_row[3] == "80.0 ± 0.0 (2)" and bf16_row[5] == "–"
    # LA-CE is the defaults on 12 classes: "the same runs" in the series that has them only
    assert row(suite_report.defaults_table(grid, "bf16"), "stackoverflow ir=50 (12 classes)")[5] == "0 (the same runs)"
    assert row(suite_report.defaults_table(grid, "fp32"), "stackoverflow ir=50 (12 classes)")[5] == "–"
    fit_time = dict(suite_report.defaults_verdicts(grid, "fp32", seeds=2))[
        "fit time ≤ 1.1x LA-CE's on every cell (CPU seconds)"]
    assert "stackoverflow ir=50 –" in fit_time
    # nor is an fp32 run a screen of the bf16 defaults
    assert "fp32" not in suite_report.screen_table(grid)


def test_long_documents_pair_the_defaults_with_the_branch_of_the_long_document_recipe(tmp_path):
    many = {str(c): 3 + c for c in range(23)}  # 23 classes, 3 texts in the rarest: LA-CE with the probe
    probe = {**BASE, "head_init": "linear_probe"}
    for seed, (la, sharp, ce) in enumerate([(0.60, 0.63, 0.62), (0.61, 0.65, 0.61)]):
        write_suite_record(tmp_path, "ohsumed", "LA-CE (w/o CL)", seed, la, probe, many, fit=100.0, cpu=100.0)
        write_suite_record(tmp_path, "ohsumed", "SharpReCL", seed, sharp, {**probe, "augment": "dropout"}, many,
                           fit=100.0, cpu=200.0)
        write_suite_record(tmp_path, "ohsumed", "SharpReCL", seed, 0.1, {**probe, "augment": None}, many, fit=1.0)
        write_suite_record(tmp_path, "ohsumed", "CE", seed, ce, probe, many, fit=100.0)
    for path in tmp_path.iterdir():  # the long-document cells are the datasets as they are
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "imbalance_ratio": None}))
    cells = row(suite_report.long_document_table(suite_report.load(tmp_path), "bf16"), "ohsumed (23 classes)")
    assert cells[1] == 'LA-CE, head_init="linear_probe"' and cells[2] == "60.5 ± 0.7 (2)"
    assert cells[3] == "64.0 ± 1.4 (2)" and cells[5] == "-3.5 ± 0.7" and cells[6] == "-1.0 ± 1.4"
    assert cells[9] == "0.50 (2)"


def test_the_long_document_table_says_so_when_no_protocol_2_run_exists(tmp_path):
    write_record(tmp_path, "ohsumed", "LA-CE (w/o CL)", 0, 0.6, {**BASE, "head_init": "linear_probe"})
    text = suite_report.long_document_table(suite_report.load(tmp_path), "bf16")
    assert text.startswith("No protocol-2 run") and "|" not in text
