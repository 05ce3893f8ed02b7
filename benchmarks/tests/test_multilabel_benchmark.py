"""benchmarks/multilabel.py: the GoEmotions profile's data, thresholds, records and tables."""

import json

import numpy as np
import pytest

from benchmarks import multilabel
from benchmarks.readme_summary import ROOT


def write_goemotions(folder, rows):
    target = folder / "goemotions"
    target.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        lines = ["text,labels"] + [f"text {split} {i},{labels}" for i, labels in enumerate(rows)]
        (target / f"{split}.csv").write_text("\n".join(lines) + "\n")


def test_labels_are_read_at_the_separator_and_the_subset_keeps_every_rare_label(tmp_path):
    rows = ["a"] * 60 + ["b;a"] * 20 + ["c"] * 10 + ["d"] * 6 + ["e;b"] * 4
    write_goemotions(tmp_path, rows)
    X, Y, X_dev, Y_dev, X_test, Y_test, names, rarest = multilabel.load_goemotions(tmp_path, subset=50)
    assert names == ["a", "b", "c", "d", "e"] and Y_dev.shape == (100, 5)
    assert [names[i] for i in rarest] == ["e", "d", "c", "b", "a"]
    assert len(X) == 50 and Y.shape == (50, 5)
    # Stratified on each text's rarest label: a label of 4 texts in 100 keeps 2 in 50.
    assert Y[:, names.index("e")].sum() == 2 and Y[:, names.index("d")].sum() == 3
    assert [X.index(t) for t in sorted(X, key=X.index)] == list(range(50))  # training order kept


def test_a_label_without_dev_positives_keeps_the_default_threshold():
    scores = np.array([[2.0, -1.0], [-1.0, -2.0], [0.5, -3.0]])
    Y = np.array([[1, 0], [0, 0], [1, 0]])
    assert multilabel.dev_thresholds(scores, Y, default=0.0).tolist() == [-0.25, 0.0]


def test_the_rarest_labels_score_is_their_mean_f1():
    Y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]])
    pred = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0]])
    scores = multilabel.metrics(Y, pred, rarest=np.array([1, 2]))
    assert scores["per_label_f1"] == pytest.approx([1.0, 2 / 3, 2 / 3])
    assert scores["rarest5_f1"] == pytest.approx(2 / 3) and scores["macro_f1"] == pytest.approx(7 / 9)


def test_the_table_gives_mean_and_sd_over_seeds_per_training_set():
    def record(method, seed, macro, subset=None):
        split = {"macro_f1": macro, "micro_f1": 0.5, "rarest5_f1": 0.2}
        return {"method": method, "seed": seed, "subset": subset, "n_train": subset or 43410,
                "overrides": {}, "test": split, "dev": split, "fit_seconds": 10.0}

    screen = {**record("defaults", 0, 0.5, subset=10000), "estimator_params": {"max_epochs": 2}}
    text = multilabel.table([record("defaults", 0, 0.40), record("defaults", 1, 0.44), screen,
                             record("bce", 0, 0.30, subset=10000), record("tfidf-lr", 0, 0.455)])
    rows = text.splitlines()[2:]
    assert rows[0].startswith("| 10,000 | plain BCE | 1 | 30.0 |")
    assert "| 43,410 | SharpReCL defaults | 2 | 42.0 ± 2.8 |" in text
    assert "| TF-IDF + OvR LR | 1 | 45.5 |" in text
    assert "| 10,000 | SharpReCL defaults, max_epochs=2 | 1 | 50.0 |" in text


def test_the_readme_block_is_the_table_of_the_committed_records():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(multilabel.README_START), readme.index(multilabel.README_END)
    block = readme[start + len(multilabel.README_START):end].strip()
    assert block == multilabel.table(multilabel.load_records()).strip()
    assert json.loads(next(multilabel.RUNS.glob("tfidf-lr-full-*.json")).read_text())["n_train"] == 43410
