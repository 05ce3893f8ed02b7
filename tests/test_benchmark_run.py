"""The benchmark harness (benchmarks/run.py) end to end on the tiny encoder: a
real grid of a neural and a classic method on a small corpus written here."""

import csv
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import run  # noqa: E402


def write_dataset(root, name, texts, labels):
    folder = root / name
    folder.mkdir(parents=True)
    for subset, rows in (("train", zip(texts[::2], labels[::2])), ("test", zip(texts[1::2], labels[1::2]))):
        with open(folder / f"{subset}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)


@pytest.fixture
def harness(tmp_path, monkeypatch, tickets):
    texts, labels = tickets
    write_dataset(tmp_path / "data", "r52", list(texts), [str(v) for v in labels])
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run, "STOP_FILE", tmp_path / "results" / "STOP")
    monkeypatch.setattr(run, "MODELS", tmp_path / "results" / "models")
    return tmp_path


def test_select_cells_by_dataset_or_ratio():
    cells = run.PROFILES["full"]["cells"]
    assert run.select_cells(cells, ["r52", "trec:20"]) == [("trec", 20), ("r52", None)]
    assert run.select_cells(cells, None) == cells
    with pytest.raises(SystemExit, match="unknown cells"):
        run.select_cells(cells, ["trec:7"])


def test_grid_seeds_and_one_seed_extras():
    items = list(run.grid("quick", ["CE", "Focal"], cells=["trec"], seeds=2))
    assert items == [("trec", 50, "CE", 0), ("trec", 50, "CE", 1), ("trec", 50, "Focal", 0)]


def test_full_profile_partial_fine_tuning_is_recorded_and_reruns_skip(harness, tiny_encoder, capsys):
    argv = ["--profile", "full", "--cells", "r52", "--seeds", "1", "--encoder", tiny_encoder,
            "--data", str(harness / "data"), "--methods", "CE", "TF-IDF+LR (balanced)"]
    run.main(argv)
    records = [json.loads(p.read_text()) for p in sorted((harness / "results" / "runs").glob("*.json"))]
    by_method = {r["method"]: r for r in records}
    assert set(by_method) == {"CE", "TF-IDF+LR (balanced)"}
    ce = by_method["CE"]
    assert ce["config"]["train_layers"] == 2 and ce["config"]["max_epochs"] == 2
    assert "train_layers" not in by_method["TF-IDF+LR (balanced)"]["config"]
    assert ce["imbalance_ratio"] is None and ce["epochs"] <= 2
    # The tiny encoder has 2 layers: both train, its embeddings are frozen.
    assert 0 < ce["n_trainable_parameters"] < ce["n_parameters"]
    for record in records:
        assert 0.0 <= record["macro_f1"] <= 1.0
        assert set(record["per_class"]) == set(record["train_class_counts"])
    capsys.readouterr()
    run.main(argv)
    assert "0 runs to do" in capsys.readouterr().out
    # Another epoch budget is another config: a new key, not a skip.
    run.main(argv + ["--max-epochs", "1", "--dry-run"])
    assert "2 runs to do" in capsys.readouterr().out


def test_calora_row_in_a_later_invocation_uses_the_saved_base(harness, tiny_encoder, capsys):
    argv = ["--profile", "full", "--cells", "r52", "--seeds", "1", "--encoder", tiny_encoder,
            "--data", str(harness / "data"), "--max-epochs", "1"]
    run.main(argv + ["--methods", "CE"])
    run.main(argv + ["--methods", "CALoRA on CE"])
    runs = harness / "results" / "runs"
    calora = [json.loads(p.read_text()) for p in runs.glob("*calora-on-ce*.json")]
    assert len(calora) == 1 and calora[0]["calora"]["n_trainable_parameters"] > 0
    assert 0.0 <= calora[0]["macro_f1"] <= 1.0
    # Without a saved base the row is skipped with a reason, not failed.
    capsys.readouterr()
    run.main(argv + ["--methods", "CALoRA on SharpReCL"])
    assert "neither fitted in this run nor saved" in capsys.readouterr().out
    assert not list(runs.glob("*calora-on-sharprecl*.json"))


def write_dataset_with_aug(root, name, texts, labels):
    """A dataset whose training file has the authors' third column, ``aug_text``."""
    write_dataset(root, name, texts, labels)
    train = root / name / "train.csv"
    with open(train, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(train, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([rows[0] + ["aug_text"]] + [row + [f"{row[0]} [aug]"] for row in rows[1:]])


def test_load_cell_keeps_aug_text_aligned_with_the_long_tailed_rows(tmp_path, tickets):
    texts, labels = tickets
    write_dataset_with_aug(tmp_path, "trec-sharprecl", list(texts), [str(v) for v in labels])
    X_train, y_train, _, _, aug_train = run.load_cell("trec-sharprecl", 100, 0, tmp_path)
    assert len(X_train) < len(texts) // 2  # the long-tailed subset, not the whole file
    assert aug_train == [f"{text} [aug]" for text in X_train]
    write_dataset(tmp_path, "plain", list(texts), [str(v) for v in labels])
    assert run.load_cell("plain", 100, 0, tmp_path)[4] is None


def test_aug_text_is_a_study_run_and_needs_the_column(harness, tiny_encoder, tickets, capsys):
    texts, labels = tickets
    write_dataset_with_aug(harness / "data", "trec-sharprecl", list(texts), [str(v) for v in labels])
    argv = ["--profile", "authors-trec", "--seeds", "1", "--encoder", tiny_encoder, "--max-epochs", "1",
            "--data", str(harness / "data"), "--methods", "SharpReCL", "--aug-text"]
    run.main(argv)
    (record,) = [json.loads(p.read_text()) for p in (harness / "results" / "study").glob("*.json")]
    assert record["config"]["second_view"] == "aug_text" and record["dataset"] == "trec-sharprecl"
    # Logit-adjusted: both decision-rule diagnostics, the EM prior over the test classes.
    estimated = record["estimated_prior_decision"]
    assert set(estimated["prior"]) == set(record["train_class_counts"])
    assert sum(estimated["prior"].values()) == pytest.approx(1.0)
    assert 0.0 <= estimated["macro_f1"] <= 1.0 and "train_prior_decision" in record
    assert not (harness / "results" / "runs").exists() or not list((harness / "results" / "runs").glob("*"))
    # The same cell without the column: a clear failure in the log, no record.
    write_dataset(harness / "data2", "trec-sharprecl", list(texts), [str(v) for v in labels])
    run.main(argv[:-3] + ["--data", str(harness / "data2"), "--max-epochs", "2",  # a new key
                          "--methods", "SharpReCL", "--aug-text"])
    assert "has no aug_text column" in (harness / "results" / "failures.log").read_text()


def test_aug_text_marks_only_methods_whose_second_view_it_is(harness, tiny_encoder, tickets, capsys):
    texts, labels = tickets
    write_dataset_with_aug(harness / "data", "trec-sharprecl", list(texts), [str(v) for v in labels])
    run.main(["--profile", "authors-trec", "--seeds", "1", "--encoder", tiny_encoder, "--max-epochs", "1",
              "--data", str(harness / "data"), "--aug-text", "--dry-run",
              "--methods", "SharpReCL", "CE", "SharpReCL (WordNet view)", "CALoRA on SharpReCL"])
    keys = capsys.readouterr().out.split()
    plain = {m: run.run_key("trec-sharprecl", 50, m, 0, {"encoder": tiny_encoder, "max_epochs": 1,
                                                           "freeze_layers": 0, "protocol": 1,
                                                           "recipe": "v1"})
             for m in ("SharpReCL", "CE", "SharpReCL (WordNet view)", "CALoRA on SharpReCL")}
    # CE ignores X_aug and the WordNet variant makes its own view: their keys are the plain ones;
    # SharpReCL and the CALoRA row on it are keyed with the second view.
    assert plain["CE"] in keys and plain["SharpReCL (WordNet view)"] in keys
    assert plain["SharpReCL"] not in keys and plain["CALoRA on SharpReCL"] not in keys
