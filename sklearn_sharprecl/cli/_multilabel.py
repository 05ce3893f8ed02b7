"""Multi-label data files of the ``sharprecl`` command: a label column of names joined by a
separator (``--label-separator``), binarized for fit, joined again by predict, scored per label
by evaluate."""

# License: BSD 3 clause

import json
from pathlib import Path

import numpy as np

from .._shared.thresholds import threshold_predictions
from ._data import _column
from ._errors import CLIError

DEFAULT_SEPARATOR = ";"


def is_multilabel_model(estimator):
    """Whether ``estimator`` was fitted on a multi-label target (it decides by ``thresholds_``)."""
    return getattr(estimator, "thresholds_", None) is not None


def label_sets(frame, name, option, path, separator):
    """Each row's labels: the cell split at ``separator``, stripped; an empty cell has none."""
    values = _column(frame, name, option, path).astype(str)
    return [[label.strip() for label in cell.split(separator) if label.strip()] for cell in values]


def binarize(train_sets, valid_sets=None, valid_path=None):
    """``(Y, Y_val, names)``: indicator matrices over the labels of ``train_sets``, sorted."""
    from sklearn.preprocessing import MultiLabelBinarizer

    binarizer = MultiLabelBinarizer().fit(train_sets)
    names = binarizer.classes_
    Y_val = None
    if valid_sets is not None:
        unknown = sorted({label for row in valid_sets for label in row} - set(names))
        if unknown:
            raise CLIError(f"{valid_path} has label(s) that the training data do not: "
                           f"{', '.join(unknown)}")
        Y_val = binarizer.transform(valid_sets)
    return binarizer.transform(train_sets), Y_val, names


def prediction_columns(estimator, proba, separator):
    """predict's new columns: each text's predicted labels joined by ``separator``, and
    one ``proba_<label>`` column per label."""
    names = [str(c) for c in estimator.classes_]
    decided = threshold_predictions(proba, estimator.thresholds_)
    columns = {"prediction": [separator.join(n for n, on in zip(names, row) if on) for row in decided]}
    for j, name in enumerate(names):
        columns[f"proba_{name}"] = proba[:, j]
    return columns


def evaluate(estimator, texts, label_rows, output_dir, label_column):
    """Score a multi-label model: per-label precision, recall, F1 and support.

    Writes ``report.txt``, ``metrics.json`` and ``f1_by_class.png`` (each
    label's F1 by its number of training texts) to ``output_dir`` and returns
    the report's text and the metrics.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    from ..plotting import plot_f1_by_class_frequency

    names = [str(c) for c in estimator.classes_]
    unknown = sorted({label for row in label_rows for label in row} - set(names))
    known = [[label for label in row if label in names] for row in label_rows]
    if unknown and not any(known):
        raise CLIError(f"none of the labels in column {label_column!r} are labels of the model "
                       f"(model labels: {', '.join(names)}); is --label-separator right?")
    Y = np.array([[name in row for name in names] for row in known], dtype=np.int64)
    # By the thresholds, from predict_proba (which may show a progress bar).
    pred = threshold_predictions(estimator.predict_proba(texts), estimator.thresholds_)
    report = classification_report(Y, pred, target_names=names, digits=4, zero_division=0)
    metrics = {
        "f1_macro": f1_score(Y, pred, average="macro", zero_division=0),
        "f1_micro": f1_score(Y, pred, average="micro", zero_division=0),
        "f1_samples": f1_score(Y, pred, average="samples", zero_division=0),
        "subset_accuracy": accuracy_score(Y, pred),
        "n_samples": len(texts),
        "unknown_labels": unknown,
    }
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "report.txt").write_text(report, encoding="utf-8")
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    fig = plot_f1_by_class_frequency(Y, pred, estimator.class_counts_, names)
    fig.savefig(output_dir / "f1_by_class.png", dpi=120)
    plt.close(fig)
    return report, metrics
