import json
import sys

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import f1_score, recall_score
from skorch.history import History

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._text.data import TokenizedTexts, tokenize

import matplotlib  # a test dependency: its absence fails, never skips

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_sharprecl.plotting import (  # noqa: E402
    contrastive_embeddings,
    evaluation_report,
    plot_confusion_matrix,
    plot_embeddings,
    plot_f1_by_class_frequency,
    plot_training_curves,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    # conftest's fast_params, which is function-scoped and so cannot feed a
    # module-scoped fixture.
    params = dict(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=2,
                  criterion__n_neg=40, lr=1e-3, random_state=0, validation_fraction=0.1,
                  precision="fp32")
    X, y = tickets
    return SharpReCLClassifier(**params).fit(X, y)


@pytest.fixture(scope="module")
def predicted(fitted, tickets):
    X, y = tickets
    return np.asarray(y), fitted.predict(X)


def _history(rows):
    history = History()
    for row in rows:
        history.new_epoch()
        for key, value in row.items():
            if key != "batches":
                history.record(key, value)
        for batch in row.get("batches", ()):
            history.new_batch()
            for key, value in batch.items():
                history.record_batch(key, value)
    return history


# ------------------------------------------------------------------ F1 plot
def test_f1_plot_has_one_bar_per_class_ordered_head_to_tail(fitted, predicted):
    y, y_pred = predicted
    fig = plot_f1_by_class_frequency(y, y_pred, fitted.class_counts_, fitted.classes_)
    ax, counts_ax = fig.axes  # the bars and the twin axis of the counts
    order = np.argsort(-fitted.class_counts_, kind="stable")
    expected_classes = [str(c) for c in fitted.classes_[order]]
    assert [t.get_text() for t in ax.get_xticklabels()] == expected_classes
    assert len(ax.patches) == len(fitted.classes_)
    expected_f1 = f1_score(y, y_pred, labels=fitted.classes_[order], average=None)
    np.testing.assert_allclose([p.get_height() for p in ax.patches], expected_f1)
    (count_line,) = counts_ax.get_lines()
    np.testing.assert_array_equal(count_line.get_ydata(), fitted.class_counts_[order])
    assert np.all(np.diff(count_line.get_ydata()) <= 0)
    macro = f1_score(y, y_pred, average="macro")
    assert any(f"{macro:.3f}" in t.get_text() for t in ax.get_legend().get_texts())


def test_f1_plot_draws_on_the_given_axes_and_checks_counts():
    fig, ax = plt.subplots()
    y = ["a", "b", "b", "c"]
    assert plot_f1_by_class_frequency(y, y, [1, 5, 2], ["a", "b", "c"], ax=ax) is fig
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "c", "a"]
    with pytest.raises(ValueError, match="one count per class"):
        plot_f1_by_class_frequency(y, y, [1, 2], ["a", "b", "c"])


def test_f1_plot_of_a_multilabel_indicator_matrix_has_one_bar_per_label():
    Y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    pred = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]])
    fig = plot_f1_by_class_frequency(Y, pred, [5, 2, 9], ["joy", "grief", "neutral"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["neutral", "joy", "grief"]
    per_label = f1_score(Y, pred, average=None)
    np.testing.assert_allclose([p.get_height() for p in ax.patches], per_label[[2, 0, 1]])


# -------------------------------------------------------- confusion matrix
def test_confusion_matrix_is_normalised_by_true_class(predicted, fitted):
    y, y_pred = predicted
    labels = fitted.classes_[::-1]
    fig = plot_confusion_matrix(y, y_pred, labels)
    ax = fig.axes[0]
    matrix = np.asarray(ax.images[0].get_array())
    assert matrix.shape == (len(labels), len(labels))
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(matrix), recall_score(y, y_pred, labels=labels,
                                                             average=None))
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(c) for c in labels]
    assert ax.images[0].get_clim() == (0, 1)
    assert len(fig.axes) == 2  # the matrix and its colour bar


# ---------------------------------------------------------- training curves
def test_training_curves_of_a_fitted_model(fitted):
    history = fitted.net_.history
    fig = plot_training_curves(history)
    loss_ax, contrastive_ax, f1_ax = fig.axes
    train, valid = loss_ax.get_lines()
    # Train: epoch means of the batches' classification loss, weighted by batch size.
    for epoch, row in enumerate(history):
        batches = [b for b in row["batches"] if "classification_loss" in b]
        expected = np.average([b["classification_loss"] for b in batches],
                              weights=[b["train_batch_size"] for b in batches])
        assert train.get_ydata()[epoch] == pytest.approx(expected)
    np.testing.assert_allclose(valid.get_ydata(), history[:, "valid_loss"])
    np.testing.assert_array_equal(valid.get_xdata(), history[:, "epoch"])
    contrastive, total = contrastive_ax.get_lines()
    np.testing.assert_allclose(total.get_ydata(), history[:, "train_loss"])
    (f1_line,) = f1_ax.get_lines()
    np.testing.assert_allclose(f1_line.get_ydata(), history[:, "valid_f1_macro"])


def test_training_curves_without_validation_or_contrastive_loss():
    batches = [{"classification_loss": 1.0, "contrastive_loss": 3.0, "train_batch_size": 32}]
    no_valid = _history([
        {"epoch": 1, "train_loss": 4.0, "batches": batches},
        {"epoch": 2, "train_loss": 3.5, "batches": batches},
    ])
    fig = plot_training_curves(no_valid)
    assert [ax.get_title() for ax in fig.axes] == [
        "Classification loss", "Contrastive and total training loss"]
    assert len(fig.axes[0].get_lines()) == 1  # no validation line

    no_cl = [{"classification_loss": 1.0, "contrastive_loss": 0.0, "train_batch_size": 8}]
    fig = plot_training_curves(_history([
        {"epoch": 1, "train_loss": 1.0, "valid_loss": 1.2, "valid_f1_macro": 0.4,
         "batches": no_cl},
    ]))
    assert [ax.get_title() for ax in fig.axes] == ["Classification loss", "Validation macro-F1"]

    # A plain history (no per-batch parts) as a list of dicts: skorch's losses.
    fig = plot_training_curves([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0}])
    (ax,) = fig.axes
    assert ax.get_title() == "Loss"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [2.0, 1.0])


def test_training_curves_check_the_axes_they_get():
    history = [{"epoch": 1, "train_loss": 2.0, "valid_loss": 1.0, "valid_f1_macro": 0.5}]
    fig, axes = plt.subplots(1, 2)
    assert plot_training_curves(history, ax=axes) is fig
    with pytest.raises(ValueError, match="needs 2 axes"):
        plot_training_curves(history, ax=axes[0])
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves([])


# --------------------------------------------------------------- embeddings
def test_contrastive_embeddings_are_what_the_module_computes(fitted, tickets):
    X = tickets[0][:40]
    z = contrastive_embeddings(fitted, X)
    # The module's own second output, through the net's batches in input order.
    dataset = TokenizedTexts([tokenize(fitted.tokenizer_, X, fitted.max_length)])
    from_forward = torch.cat([out[1] for out in fitted.net_.forward_iter(dataset)]).numpy()
    np.testing.assert_allclose(z, from_forward, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    assert z.shape[1] == fitted.prototypes_.shape[1]


def test_embeddings_plot_puts_prototypes_in_the_same_pca_space(fitted, tickets):
    X, y = tickets
    X, y = X[:120], np.asarray(y[:120])
    fig = plot_embeddings(fitted, X, y)
    ax = fig.axes[0]
    points = [c for c in ax.collections if c.get_label() in set(map(str, fitted.classes_))]
    stars = [c for c in ax.collections if c.get_label().startswith("_") and
             len(c.get_offsets()) == 1]
    assert sum(len(c.get_offsets()) for c in points) == len(X)
    assert len(stars) == len(fitted.classes_)
    stacked = np.vstack([contrastive_embeddings(fitted, X), fitted.prototypes_])
    expected = PCA(n_components=2, random_state=0).fit_transform(stacked)[len(X):]
    np.testing.assert_allclose(np.vstack([s.get_offsets() for s in stars]), expected,
                               atol=1e-4)
    assert "class prototype" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_embeddings_plot_tsne_and_subsampling(fitted, tickets):
    X, y = tickets
    y = np.asarray(y)
    fig = plot_embeddings(fitted, X, y, method="tsne", max_points=30)
    ax = fig.axes[0]
    points = {c.get_label(): len(c.get_offsets()) for c in ax.collections
              if c.get_label() in set(map(str, fitted.classes_))}
    assert set(points) == set(map(str, fitted.classes_))  # the tail is kept
    assert max(points.values()) <= 30 // len(fitted.classes_)
    assert ax.get_xlabel() == "t-SNE 1"
    with pytest.raises(ValueError, match="method"):
        plot_embeddings(fitted, X, y, method="umap")


# ------------------------------------------------------------------ report
def test_evaluation_report_writes_every_file(fitted, tickets, tmp_path):
    X, y = tickets
    out_dir = tmp_path / "new" / "report"
    paths = evaluation_report(fitted, X, y, out_dir)
    assert set(paths) == {"f1_by_class", "confusion_matrix", "training_curves", "embeddings",
                          "report", "metrics"}
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in paths.values())
    for key in ("f1_by_class", "confusion_matrix", "training_curves", "embeddings"):
        data = paths[key].read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, key

    y_pred = fitted.predict(X)
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["n_samples"] == len(X)
    assert metrics["f1_macro"] == pytest.approx(f1_score(y, y_pred, average="macro"))
    assert metrics["accuracy"] == pytest.approx(np.mean(np.asarray(y) == y_pred))
    f1 = f1_score(y, y_pred, labels=fitted.classes_, average=None)
    recall = recall_score(y, y_pred, labels=fitted.classes_, average=None)
    for i, c in enumerate(fitted.classes_):
        assert metrics["per_class"][c]["f1"] == pytest.approx(f1[i])
        assert metrics["per_class"][c]["recall"] == pytest.approx(recall[i])
        assert metrics["per_class"][c]["train_count"] == fitted.class_counts_[i]
    report = paths["report"].read_text()
    assert all(c in report for c in fitted.classes_) and "geo" in report
    assert not plt.get_fignums()  # every figure was closed


def test_evaluation_report_with_a_label_the_model_never_saw(fitted, tickets, tmp_path):
    X, y = tickets
    X, y = X[:30], list(y[:30])
    y[0] = "unheard-of"
    paths = evaluation_report(fitted, X, y, tmp_path)
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["per_class"]["unheard-of"] == {
        "f1": 0.0, "precision": 0.0, "recall": 0.0, "support": 1, "train_count": 0}
    assert metrics["f1_macro"] == pytest.approx(
        f1_score(y, fitted.predict(X), average="macro", zero_division=0))


def test_missing_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-sharprecl\[plots\]'"):
        plot_confusion_matrix(["a", "b"], ["a", "a"], ["a", "b"])
