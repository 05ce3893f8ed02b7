"""The sharprecl command on multi-label data: label names joined by --label-separator."""

import json

import numpy as np
import pandas as pd
import pytest

from sklearn_sharprecl.cli import load_model, main

NAMES = ["billing", "bug", "login", "urgent"]


def _labels(y):
    """Each ticket's label names joined by '|': one or two per text, none for every 15th."""
    classes = sorted(set(y))
    cells = []
    for i, label in enumerate(y):
        c = classes.index(label)
        names = [NAMES[c % 4]] + (["urgent"] if c in (0, 4) else [])
        cells.append("" if i % 15 == 0 else "|".join(sorted(set(names))))
    return cells


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tickets):
    path = tmp_path_factory.mktemp("cli-multilabel")
    X, y = tickets
    labels = _labels(y)
    pd.DataFrame({"text": X[60:], "labels": labels[60:]}).to_csv(path / "train.csv", index=False)
    pd.DataFrame({"text": X[:60], "labels": labels[:60]}).to_csv(path / "valid.csv", index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(data_dir, tiny_encoder):
    path = data_dir / "model"
    status = main([
        "fit", str(data_dir / "train.csv"), "--model", str(path), "--encoder", tiny_encoder,
        "--label-column", "labels", "--label-separator", "|", "--validation",
        str(data_dir / "valid.csv"), "--max-epochs", "2", "--max-length", "32", "--batch-size", "16",
        "--lr", "3e-3", "--random-state", "0", "--set", "precision=fp32",
    ])
    assert status == 0
    return path


def test_fit_saves_a_multilabel_model_with_its_label_names(model_dir, data_dir, capsys):
    model = load_model(model_dir)
    assert list(model.classes_) == NAMES
    assert model.thresholds_.shape == (4,)
    train = pd.read_csv(data_dir / "train.csv", keep_default_na=False)
    counts = [sum(name in cell.split("|") for cell in train["labels"]) for name in NAMES]
    np.testing.assert_array_equal(model.class_counts_, counts)


def test_predict_joins_the_predicted_labels(model_dir, data_dir, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model_dir), str(data_dir / "valid.csv"), "--output", str(out),
                 "--label-separator", ";"]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    model = load_model(model_dir)
    expected = model.predict(frame["text"].tolist())
    got = [[name in cell.split(";") for name in NAMES] if cell else [False] * 4
           for cell in frame["prediction"]]
    np.testing.assert_array_equal(np.array(got, dtype=int), expected)
    proba = frame[[f"proba_{name}" for name in NAMES]].to_numpy()
    np.testing.assert_allclose(proba, model.predict_proba(frame["text"].tolist()), atol=1e-6)


def test_evaluate_prints_per_label_scores(model_dir, data_dir, tmp_path, capsys):
    assert main(["evaluate", str(model_dir), str(data_dir / "valid.csv"), "--output-dir",
                 str(tmp_path / "report"), "--label-column", "labels", "--label-separator", "|"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    assert "precision" in out and "recall" in out and "support" in out
    assert (tmp_path / "report" / "f1_by_class.png").stat().st_size > 0 and "f1_by_class.png" in out
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    model = load_model(model_dir)
    valid = pd.read_csv(data_dir / "valid.csv", keep_default_na=False)
    Y = np.array([[name in cell.split("|") for name in NAMES] for cell in valid["labels"]], int)
    from sklearn.metrics import f1_score

    expected = f1_score(Y, model.predict(valid["text"].tolist()), average="macro", zero_division=0)
    assert metrics["f1_macro"] == pytest.approx(expected)


def test_evaluate_with_the_wrong_separator_is_an_error(model_dir, data_dir, tmp_path, capsys):
    # Every training row with two labels would become one unknown name; rows with one still match.
    frame = pd.read_csv(data_dir / "valid.csv", keep_default_na=False)
    frame["labels"] = frame["labels"].str.replace("|", "+")
    frame = frame[frame["labels"].str.contains("+", regex=False)]
    frame.to_csv(tmp_path / "pairs.csv", index=False)
    status = main(["evaluate", str(model_dir), str(tmp_path / "pairs.csv"), "--output-dir",
                   str(tmp_path / "r"), "--label-column", "labels", "--label-separator", "|"])
    assert status == 1
    assert "--label-separator" in capsys.readouterr().err


def test_info_shows_labels_and_thresholds(model_dir, capsys):
    assert main(["info", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "labels (4) of a multi-label model" in out
    model = load_model(model_dir)
    assert f"threshold {model.thresholds_[0]:.3f}" in out
    assert main(["info", str(model_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(info["thresholds"], model.thresholds_)
