"""Multi-label y: a binary indicator matrix in, one probability and one decision per label out."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import sparse
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._network.multilabel_loss import BinaryCrossEntropy, LogitAdjustedBinaryCrossEntropy
from sklearn_sharprecl._shared.thresholds import FALLBACK_THRESHOLD, best_f1_threshold, f1_thresholds
from sklearn_sharprecl.deploy import ONNXTextClassifier

N_LABELS = 4


def indicator(y):
    """Four overlapping labels from the six ticket classes; every 15th text has none."""
    classes = sorted(set(y))
    Y = np.zeros((len(y), N_LABELS), dtype=np.int64)
    for i, label in enumerate(y):
        c = classes.index(label)
        Y[i, c % N_LABELS] = 1
        if c in (0, 4):
            Y[i, 3] = 1
    Y[::15] = 0  # texts without a label, as scikit-learn allows
    return Y


def _one_thread(fit):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fit()
    finally:
        torch.set_num_threads(previous)


@pytest.fixture
def params(params):
    """The tiny-encoder fit without the contrastive branch's settings (it has none here)."""
    return {k: v for k, v in params.items() if not k.startswith("criterion__")}


@pytest.fixture(scope="module")
def data(tickets):
    X, y = tickets
    return X, indicator(y)


@pytest.fixture(scope="module")
def fitted(tiny_encoder, data):
    X, Y = data
    clf = SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=2,
                              lr=3e-3, random_state=0, precision="fp32", validation_fraction=0.25)
    return _one_thread(lambda: clf.fit(X, Y))


def test_shapes_classes_and_decisions(fitted, data):
    X, Y = data
    proba, scores, pred = fitted.predict_proba(X), fitted.decision_function(X), fitted.predict(X)
    assert proba.shape == scores.shape == pred.shape == Y.shape
    np.testing.assert_array_equal(fitted.classes_, np.arange(N_LABELS))
    assert set(np.unique(pred)) <= {0, 1}
    assert np.all((proba > 0) & (proba < 1))
    assert not np.allclose(proba.sum(1), 1)  # one probability per label, not a distribution
    np.testing.assert_array_equal(pred, (proba >= fitted.thresholds_).astype(int))
    np.testing.assert_array_equal(pred, (scores >= 0).astype(int))
    # Each label's log-probability (it was a log-softmax over the labels).
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X)), proba, rtol=1e-6)
    assert fitted.contrastive_ is None  # 'auto': the branch is single-label
    assert fitted.score(X, Y) == accuracy_score(Y, pred)  # subset accuracy, scikit-learn's
    assert f1_score(Y, pred, average="macro") > 0


def test_class_counts_are_positive_texts_per_label(tiny_encoder, data, params):
    X, Y = data
    clf = _one_thread(lambda: SharpReCLClassifier(**params).fit(X, Y))
    np.testing.assert_array_equal(clf.class_counts_, Y.sum(0))
    np.testing.assert_allclose(clf.label_prior_, (Y.sum(0) + 1) / (len(Y) + 2))
    # Without validation texts every label keeps the fallback threshold.
    np.testing.assert_array_equal(clf.thresholds_, np.full(N_LABELS, FALLBACK_THRESHOLD))


def test_thresholds_are_chosen_on_the_validation_set_and_used(tiny_encoder, data, params):
    X, Y = data
    X_val, Y_val = X[:60], Y[:60].copy()
    Y_val[:, 2] = 0  # a label without validation positives keeps the fallback
    clf = _one_thread(lambda: SharpReCLClassifier(**params).fit(X[60:], Y[60:], X_val=X_val, y_val=Y_val))
    assert clf.thresholds_[2] == FALLBACK_THRESHOLD
    proba = clf.predict_proba(X_val)
    for j in (0, 1, 3):
        at = f1_score(Y_val[:, j], proba[:, j] >= clf.thresholds_[j])
        for other in np.linspace(0.05, 0.95, 19):
            assert at >= f1_score(Y_val[:, j], proba[:, j] >= other) - 1e-12
    # predict decides by thresholds_, whatever they are.
    clf.thresholds_ = np.array([0.0, 1.1, 0.0, 1.1])
    np.testing.assert_array_equal(clf.predict(X[:5]), np.tile([1, 0, 1, 0], (5, 1)))


def test_best_f1_threshold():
    proba, positive = np.array([0.9, 0.8, 0.3, 0.2]), np.array([1, 0, 1, 0])
    # F1 by cut: 2/3, 1/2, 4/5, 2/3: the cut after 0.3, midway to 0.2.
    assert best_f1_threshold(proba, positive) == pytest.approx(0.25)
    # The positive at 0.3 weighs nothing: the cut after 0.9 is perfect.
    assert best_f1_threshold(proba, positive, np.array([1, 1, 0, 1])) == pytest.approx(0.85)
    # Texts of equal probability are never split.
    assert best_f1_threshold(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.25)
    assert best_f1_threshold(proba, np.zeros(4)) is None
    np.testing.assert_array_equal(f1_thresholds(proba[:, None], np.zeros((4, 1))), [FALLBACK_THRESHOLD])


def test_logit_adjusted_bce_is_balanced_at_the_training_frequency():
    # Targets present at the frequency of the label prior: the adjusted loss is
    # minimal at logit 0 (balanced posterior 0.5), plain BCE at the log-odds.
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    prior = target.mean(0)
    logits = torch.zeros(4, 2, requires_grad=True)
    LogitAdjustedBinaryCrossEntropy(prior)(logits, target).backward()
    torch.testing.assert_close(logits.grad.sum(0), torch.zeros(2))
    log_odds = (prior / (1 - prior)).log()
    logits = log_odds.repeat(4, 1).requires_grad_()
    BinaryCrossEntropy()(logits, target).backward()
    torch.testing.assert_close(logits.grad.sum(0), torch.zeros(2))
    # Sample weights scale each text's term.
    weight = torch.tensor([2.0, 0.0, 1.0, 1.0])
    plain = F.binary_cross_entropy_with_logits(torch.ones(4, 2), target, reduction="none").mean(1)
    torch.testing.assert_close(BinaryCrossEntropy()(torch.ones(4, 2), target, weight), (plain * weight).mean())


def test_unit_weights_give_the_unweighted_model_and_zero_weights_drop_texts(data, params):
    X, Y = data
    plain = _one_thread(lambda: SharpReCLClassifier(**params).fit(X, Y))
    unit = _one_thread(lambda: SharpReCLClassifier(**params).fit(X, Y, sample_weight=np.ones(len(X))))
    np.testing.assert_allclose(unit.predict_proba(X[:20]), plain.predict_proba(X[:20]), atol=1e-6)
    weights = np.ones(len(X))
    weights[:30] = 0.0
    weighted = _one_thread(lambda: SharpReCLClassifier(**params).fit(X, Y, sample_weight=weights))
    np.testing.assert_allclose(weighted.class_counts_, Y[30:].sum(0))


def test_sparse_y_and_linear_probe_head(data, params):
    X, Y = data
    clf = SharpReCLClassifier(**{**params, "lr": 1e-12, "head_lr": 1e-12}, head_init="linear_probe")
    _one_thread(lambda: clf.fit(X, sparse.csr_matrix(Y)))
    probe = dict(clf.net_.callbacks_)["head_init"].probe_
    # The head starts at each label's probe, its training log-odds taken out of the bias.
    bias = np.array([est.intercept_[0] for est in probe.estimators_]) - np.log(
        clf.label_prior_ / (1 - clf.label_prior_))
    np.testing.assert_allclose(clf.net_.module_.classifier.bias.detach().numpy(), bias, atol=1e-4)


def test_nested_lists_of_zeros_and_ones_are_an_indicator_matrix(data, params):
    X, Y = data
    clf = _one_thread(lambda: SharpReCLClassifier(**params).fit(X, Y.tolist()))
    assert clf.predict(X[:2]).shape == (2, N_LABELS)


def test_frozen_lower_layers_keep_the_validation_texts_for_the_thresholds(data, params):
    # The frozen layers' cache replaces the validation set's token ids during training;
    # the thresholds are still chosen on the texts.
    X, Y = data
    clf = _one_thread(lambda: SharpReCLClassifier(**params, train_layers=1).fit(
        X[60:], Y[60:], X_val=X[:60], y_val=Y[:60]))
    expected = f1_thresholds(clf.predict_proba(X[:60]), Y[:60])
    np.testing.assert_allclose(clf.thresholds_, expected, atol=1e-6)


def test_grid_search_with_f1_macro(data, params):
    X, Y = data
    # error_score="raise": a fit or a scoring that fails is an error, not a NaN score.
    search = GridSearchCV(SharpReCLClassifier(**params), {"tau": [0.3]}, scoring="f1_macro", cv=2,
                          error_score="raise")
    _one_thread(lambda: search.fit(X, Y))
    assert search.predict(X[:3]).shape == (3, N_LABELS)


@pytest.mark.parametrize("y, match", [
    (lambda Y: [[j for j in np.flatnonzero(row)] for row in Y], "MultiLabelBinarizer"),
    (lambda Y: np.column_stack([Y, np.zeros(len(Y), int)]), r"column\(s\) \[4\] of y have no positive"),
    (lambda Y: np.column_stack([Y, np.ones(len(Y), int)]), r"column\(s\) \[4\] of y have no negative"),
    (lambda Y: Y * 2 + 1, "binary indicator matrix"),
    (lambda Y: pd.Series([[j for j in np.flatnonzero(row)] for row in Y]), "MultiLabelBinarizer"),
    (lambda Y: [["a", "b"]] * len(Y), "MultiLabelBinarizer"),  # equal lengths: still label lists
])
def test_bad_multilabel_targets_are_refused(data, params, y, match):
    X, Y = data
    clf = SharpReCLClassifier(**params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y(Y))
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize("setting, match", [
    ({"classification_loss": "focal"}, "single-label"),
    ({"contrastive": "sharp"}, "contrastive branch is single-label"),
    ({"contrastive": "supcon"}, "contrastive branch is single-label"),
    ({"decision_prior": "balanced"}, "thresholds_"),
])
def test_single_label_settings_are_refused(data, params, setting, match):
    X, Y = data
    with pytest.raises(ValueError, match=match):
        SharpReCLClassifier(**params, **setting).fit(X, Y)


def test_a_validation_set_of_other_labels_is_refused(data, params):
    X, Y = data
    with pytest.raises(ValueError, match="indicator matrix of the 4 labels"):
        SharpReCLClassifier(**params).fit(X, Y, X_val=X[:10], y_val=Y[:10, :3])


def test_single_label_decision_tools_are_refused_on_a_multilabel_model(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match="single-label"):
        fitted.estimate_decision_prior(X[:10])
    clf = SharpReCLClassifier(**fitted.get_params())
    vars(clf).update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    clf.set_params(decision_prior="train")
    with pytest.raises(ValueError, match="thresholds_"):
        clf.predict(X[:3])


def test_save_and_load_give_the_same_predictions(fitted, data, tmp_path):
    X, _ = data
    loaded = SharpReCLClassifier.load_pretrained(fitted.save_pretrained(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.thresholds_, fitted.thresholds_)
    np.testing.assert_array_equal(loaded.label_prior_, fitted.label_prior_)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))


def test_onnx_export_gives_the_same_predictions(fitted, data, tmp_path):
    X, _ = data
    model = ONNXTextClassifier.load(fitted.export_onnx(tmp_path / "m"))
    np.testing.assert_array_equal(model.thresholds_, fitted.thresholds_)
    np.testing.assert_allclose(model.predict_proba(X), fitted.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(model.decision_function(X), fitted.decision_function(X), atol=1e-4)
    np.testing.assert_allclose(model.predict_log_proba(X), fitted.predict_log_proba(X), atol=1e-4)
    np.testing.assert_array_equal(model.predict(X), fitted.predict(X))
    int8 = ONNXTextClassifier.load(fitted.export_onnx(tmp_path / "int8", quantize="int8"))
    assert int8.predict(X).shape == (len(X), N_LABELS)


def test_int8_copy_predicts_per_label(fitted, data):
    X, Y = data
    quantized = fitted.quantize_int8()
    assert quantized.predict(X).shape == Y.shape
    np.testing.assert_allclose(quantized.predict_proba(X), fitted.predict_proba(X), atol=0.05)


def test_calora_refuses_multilabel_targets_and_bases(fitted, data):
    from sklearn_sharprecl import CALoRAClassifier

    X, Y = data
    with pytest.raises(ValueError, match="CALoRAClassifier is single-label"):
        CALoRAClassifier().fit(X, Y)
    with pytest.raises(ValueError, match="CALoRAClassifier is single-label"):
        CALoRAClassifier(estimator=fitted).fit(X, np.arange(len(X)) % 2)
