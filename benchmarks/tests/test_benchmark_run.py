"""The benchmark harness (benchmarks/run.py) end to end on the tiny encoder: a
real grid of a neural and a classic method on a small corpus written here."""

import csv
import json

import numpy as np
import pytest

import sklearn_sharprecl
from benchmarks import methods, run
from sklearn_sharprecl.datasets import load_text_dataset


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
            "--data", str(harness / "data"), "--methods", "CE", "TF-IDF+LR (balanced)", "Frozen MiniLM+LR"]
    run.main(argv)
    records = [json.loads(p.read_text()) for p in sorted((harness / "results" / "runs").glob("*.json"))]
    by_method = {r["method"]: r for r in records}
    assert set(by_method) == {"CE", "TF-IDF+LR (balanced)", "Frozen MiniLM+LR"}
    ce = by_method["CE"]
    assert ce["config"]["train_layers"] == 2 and ce["config"]["max_epochs"] == 2
    assert "train_layers" not in by_method["TF-IDF+LR (balanced)"]["config"]
    assert ce["imbalance_ratio"] is None and ce["epochs"] <= 2
    # The tiny encoder has 2 layers: both train, its embeddings are frozen.
    assert 0 < ce["n_trainable_parameters"] < ce["n_parameters"]
    # The complete settings, readable without the source: recipe v1 as passed,
    # the method's own, the profile's, and the routed defaults nobody set.
    params = ce["estimator_params"]
    assert (ce["recipe"], ce["library_version"]) == ("v1", sklearn_sharprecl.__version__)
    assert params["module__dropout"] == 0.1 and params["callbacks__lr_schedule"] is None
    assert params["callbacks__early_stopping__patience"] == 2 and params["validation_fraction"] == 0.1
    assert params["contrastive"] is None and params["classification_loss"] == "cross_entropy"
    assert params["train_layers"] == 2 and params["criterion__n_neg"] == 500
    assert params["optimizer__betas"] == [0.9, 0.999]  # a tuple, as JSON
    assert "callbacks__lr_schedule__warmup_fraction" not in params  # no schedule, no warm-up
    assert ce["versions"]["sklearn-sharprecl"] == sklearn_sharprecl.__version__
    # The int8 copy's diagnostic, on the CPU.
    assert set(ce["int8"]) == {"predict_seconds", "macro_f1"}
    tfidf = by_method["TF-IDF+LR (balanced)"]
    assert "recipe" not in tfidf
    steps = dict(tfidf["estimator_params"]["steps"])
    assert steps["tfidfvectorizer"]["params"]["ngram_range"] == [1, 2]
    assert steps["logisticregression"]["class"] == "LogisticRegression"
    frozen = dict(by_method["Frozen MiniLM+LR"]["estimator_params"]["steps"])["frozenencoderembedder"]
    assert frozen["params"]["encoder"] == tiny_encoder
    for record in records:
        assert set(record["per_class"]) == set(record["train_class_counts"])
        # Macro-F1 over the training classes: the mean of the per-class F1 recorded beside it.
        assert record["macro_f1"] == pytest.approx(np.mean([c["f1"] for c in record["per_class"].values()]))
    capsys.readouterr()
    run.main(argv)
    assert "0 runs to do" in capsys.readouterr().out
    # Another epoch budget is another config: a new key, not a skip.
    run.main(argv + ["--max-epochs", "1", "--dry-run"])
    assert "3 runs to do" in capsys.readouterr().out


def test_calora_row_in_a_later_invocation_uses_the_saved_base(harness, tiny_encoder, capsys):
    argv = ["--profile", "full", "--cells", "r52", "--seeds", "1", "--encoder", tiny_encoder,
            "--data", str(harness / "data"), "--max-epochs", "1"]
    run.main(argv + ["--methods", "CE"])
    run.main(argv + ["--methods", "CALoRA on CE"])
    runs = harness / "results" / "runs"
    calora = [json.loads(p.read_text()) for p in runs.glob("*calora-on-ce*.json")]
    assert len(calora) == 1 and calora[0]["calora"]["n_trainable_parameters"] > 0
    assert calora[0]["macro_f1"] == pytest.approx(
        np.mean([c["f1"] for c in calora[0]["per_class"].values()]))
    # Its settings hold the base it was fitted on, loaded from disk, with the base's own.
    params = calora[0]["estimator_params"]
    assert params["rank"] == 8 and params["top_k"] == 2 and calora[0]["recipe"] == "v1"
    base = params["estimator"]
    assert base["class"] == "SharpReCLClassifier"
    assert base["params"]["contrastive"] is None and base["params"]["module__dropout"] == 0.1
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
    X_train, y_train, _, _, aug_train, _ = run.load_cell("trec-sharprecl", 100, 0, tmp_path)
    assert len(X_train) < len(texts) // 2  # the long-tailed subset, not the whole file
    assert aug_train == [f"{text} [aug]" for text in X_train]
    write_dataset(tmp_path, "plain", list(texts), [str(v) for v in labels])
    assert run.load_cell("plain", 100, 0, tmp_path)[4] is None


def test_protocol_2_holds_out_the_same_development_split_for_every_seed(tmp_path, tickets):
    texts, labels = tickets
    write_dataset_with_aug(tmp_path, "trec-sharprecl", list(texts), [str(v) for v in labels])
    cells = {seed: run.load_cell("trec-sharprecl", 10, seed, tmp_path, protocol=2) for seed in (0, 1)}
    (dev_x0, dev_y0), (dev_x1, dev_y1) = cells[0][5], cells[1][5]
    assert dev_x0 == dev_x1 and list(dev_y0) == list(dev_y1)
    assert not set(dev_x0) & set(cells[0][0]) and not set(dev_x1) & set(cells[1][0])
    # A tenth of each class, rounded down: classes of fewer than 10 texts stay whole.
    train_labels = load_text_dataset("trec-sharprecl", "train", data_home=tmp_path).target
    counts = {c: int(np.sum(train_labels == c)) for c in np.unique(train_labels)}
    held = {c: int(np.sum(dev_y0 == c)) for c in counts}
    assert held == {c: n // 10 for c, n in counts.items()}
    assert cells[0][0] != cells[1][0]  # the seeds still draw different long-tailed subsets
    # Protocol 1 long-tails the whole split, as the method study's records did.
    assert run.load_cell("trec-sharprecl", 10, 0, tmp_path)[5] is None


def test_aug_text_is_a_study_run_and_needs_the_column(harness, tiny_encoder, tickets, capsys):
    texts, labels = tickets
    # Every text four times: at ir=50 the rarest class then keeps the two examples
    # (three) that recipe v1's stratified validation split needs.
    texts, labels = list(texts) * 4, [str(v) for v in labels] * 4
    write_dataset_with_aug(harness / "data", "trec-sharprecl", texts, labels)
    argv = ["--profile", "authors-trec", "--seeds", "1", "--encoder", tiny_encoder, "--max-epochs", "1",
            "--data", str(harness / "data"), "--methods", "SharpReCL", "--aug-text"]
    run.main(argv)
    (record,) = [json.loads(p.read_text()) for p in (harness / "results" / "study").glob("*.json")]
    assert record["config"]["second_view"] == "aug_text" and record["dataset"] == "trec-sharprecl"
    # Logit-adjusted: both decision-rule diagnostics, the EM prior over the test classes.
    estimated = record["estimated_prior_decision"]
    assert set(estimated["prior"]) == set(record["train_class_counts"])
    assert sum(estimated["prior"].values()) == pytest.approx(1.0)
    assert estimated["macro_f1"] == pytest.approx(np.mean([c["f1"] for c in estimated["per_class"].values()]))
    assert "train_prior_decision" in record
    assert not (harness / "results" / "runs").exists() or not list((harness / "results" / "runs").glob("*"))
    # The same cell without the column: a clear failure in the log, no record.
    write_dataset(harness / "data2", "trec-sharprecl", texts, labels)
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


def test_set_is_keyed_as_typed_and_a_rerun_finds_its_record(harness, tiny_encoder, tickets, capsys):
    texts, labels = tickets
    write_dataset(harness / "data", "trec", list(texts), [str(v) for v in labels])
    argv = ["--profile", "quick", "--cells", "trec:50", "--seeds", "1", "--encoder", tiny_encoder,
            "--max-epochs", "1", "--data", str(harness / "data"), "--methods", "SharpReCL",
            "--recipe", "r1-linear-all"]
    settings = ["module__center_prototypes=true", "criterion__n_neg=16", "precision=fp32"]
    run.main(argv + ["--set", *settings])
    (path,) = (harness / "results" / "study").glob("*.json")
    record = json.loads(path.read_text())
    assert record["config"]["set"] == {"module__center_prototypes": True, "criterion__n_neg": 16,
                                       "precision": "fp32"}
    config = {"encoder": tiny_encoder, "max_epochs": 1, "freeze_layers": 0, "protocol": 1,
              "recipe": "r1-linear-all", "set": record["config"]["set"]}
    assert path.stem == run.run_key("trec", 50, "SharpReCL", 0, config)
    params = record["estimator_params"]
    assert params["module__center_prototypes"] is True and params["criterion__n_neg"] == 16
    assert params["callbacks__lr_schedule__warmup_fraction"] == 0.1 and params["precision"] == "fp32"
    capsys.readouterr()
    run.main(argv + ["--set", *settings, "--dry-run"])
    assert "0 runs to do" in capsys.readouterr().out


# center_prototypes=true: the spelling of the records made before 0.2, re-keyed since.
@pytest.mark.parametrize("item", ["center_prototypes=true", "module__centre_prototypes=true",
                                  "lr_schedule=cosine", "inference_quantization=int8"])
def test_set_refuses_a_name_the_estimator_does_not_take_before_any_run(harness, item, capsys):
    with pytest.raises(SystemExit, match="--set"):
        run.main(["--profile", "quick", "--methods", "SharpReCL", "--dry-run", "--set", item])
    assert "runs to do" not in capsys.readouterr().out


def test_a_disabled_callback_takes_its_parameters_with_it():
    # A constant rate over r1-linear: its warm-up setting goes with the schedule.
    constant = methods.neural_settings("r1-linear", {"callbacks__lr_schedule": None})
    assert constant["callbacks__lr_schedule"] is None
    assert not any(name.startswith("callbacks__lr_schedule__") for name in constant)
    assert "callbacks__lr_schedule__warmup_fraction" in methods.neural_settings("r1-linear")
    assert methods.neural_settings("v1", None, train_layers=2)["train_layers"] == 2


def test_every_recipe_is_a_valid_setting_of_the_estimator():
    for recipe in methods.RECIPES.values():
        sklearn_sharprecl.SharpReCLClassifier().set_params(**recipe["params"])


@pytest.mark.parametrize("method", ["SharpReCL", "w/o SS", "w/o HM", "w/o δ_CLS"])
def test_a_method_named_after_the_branch_runs_it_on_many_classes(method):
    # contrastive='auto' leaves the branch out from FEW_CLASSES classes on; a benchmark row named
    # after the branch that silently ran LA-CE there (Ohsumed, 23 classes) is what this guards.
    from benchmarks.peers import make_method
    from sklearn_sharprecl.auto import FEW_CLASSES, resolve_contrastive

    model = make_method(method, seed=0, max_length=16)
    assert resolve_contrastive(model.contrastive, FEW_CLASSES + 13) == "sharp"
    assert resolve_contrastive(make_method("LA-CE (w/o CL)", 0, 16).contrastive, 3) is None
