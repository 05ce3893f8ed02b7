"""scikit-learn's tools around a fitted or unfitted SharpReCLClassifier: log-probabilities,
``set_output`` for the embeddings, thresholds, calibration and cross-validated probabilities."""

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import make_column_transformer
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import f1_score, log_loss, make_scorer
from sklearn.model_selection import (FixedThresholdClassifier, StratifiedKFold, TunedThresholdClassifierCV,
                                     cross_val_predict)
from sklearn.preprocessing import StandardScaler

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._shared.scores import log_softmax, softmax
from sklearn_sharprecl.plotting import contrastive_embeddings

HIDDEN = 32  # the tiny encoder's hidden size


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    """A two-epoch fit on all six classes of the tickets (string labels)."""
    X, y = tickets
    return SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=2,
                               criterion__n_neg=40, lr=3e-3, random_state=0, precision="fp32").fit(X, y)


@pytest.fixture(scope="module")
def binary(tickets):
    """Billing against refund tickets: two string labels, 'refund' the rare one (15 of 110)."""
    X, y = tickets
    keep = np.flatnonzero(np.isin(y, ["billing", "refund"]))
    return [X[i] for i in keep], y[keep]


@pytest.fixture
def binary_params(params):
    return {**params, "max_epochs": 2, "lr": 3e-3}


def _own_copy(fitted):
    """The fitted model with an output configuration of its own (``set_output`` sets one for good)."""
    model = copy.copy(fitted)
    vars(model).pop("_sklearn_output_config", None)
    return model


def _threshold(proba_pos, threshold, pos_label, neg_label):
    return np.where(proba_pos >= threshold, pos_label, neg_label)


# ------------------------------------------------------------------ predict_log_proba
def test_predict_log_proba_is_the_log_of_predict_proba(fitted, tickets):
    X, _ = tickets
    proba = fitted.predict_proba(X[:30])
    log_proba = fitted.predict_log_proba(X[:30])
    assert log_proba.shape == (30, 6) and np.isfinite(log_proba).all()
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(fitted.classes_[log_proba.argmax(1)], fitted.predict(X[:30]))


def test_predict_log_proba_follows_the_decision_prior(fitted, tickets):
    X, _ = tickets
    prior = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    shifted = SharpReCLClassifier(**{**fitted.get_params(), "decision_prior": prior})
    vars(shifted).update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    np.testing.assert_allclose(np.exp(shifted.predict_log_proba(X[:10])), shifted.predict_proba(X[:10]),
                               rtol=1e-10)
    assert not np.allclose(shifted.predict_log_proba(X[:10]), fitted.predict_log_proba(X[:10]))


def test_calora_predict_log_proba_and_no_embedding_output(fitted, tickets):
    """CALoRA shares the mixin: the log of its probabilities, and no transform to name."""
    from sklearn_sharprecl import CALoRAClassifier

    X, y = tickets
    calora = CALoRAClassifier(fitted, rank=2, top_k=2, max_epochs=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(np.exp(calora.predict_log_proba(X[:10])), calora.predict_proba(X[:10]),
                               rtol=1e-6)
    assert not hasattr(calora, "get_feature_names_out") and not hasattr(calora, "set_output")


def test_log_softmax_stays_finite_where_softmax_underflows():
    scores = np.array([[0.0, -1000.0, 5.0], [1.0, 1.0, 1.0]])
    with np.errstate(divide="ignore"):
        naive = np.log(softmax(scores))
    assert np.isneginf(naive[0, 1])  # what the log of the probabilities gives
    log_proba = log_softmax(scores)
    np.testing.assert_allclose(log_proba[0], [-5.0, -1005.0, 0.0], atol=1e-2)
    np.testing.assert_allclose(log_proba[1], np.log(1 / 3))
    np.testing.assert_allclose(np.exp(log_proba), softmax(scores))


def test_cross_val_predict_log_proba(binary, binary_params):
    X, y = binary
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    log_proba = cross_val_predict(SharpReCLClassifier(**binary_params), X, y, cv=cv,
                                  method="predict_log_proba")
    proba = cross_val_predict(SharpReCLClassifier(**binary_params), X, y, cv=cv, method="predict_proba")
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-6)


# ------------------------------------------------------------------ set_output
def test_feature_names_out_name_the_embedding_dimensions(fitted):
    names = fitted.get_feature_names_out()
    assert names.dtype == object and len(names) == HIDDEN
    assert names[0] == "sharpreclclassifier0" and names[-1] == f"sharpreclclassifier{HIDDEN - 1}"
    np.testing.assert_array_equal(fitted.get_feature_names_out(["text"]), names)


def test_feature_names_out_need_a_fitted_model(tiny_encoder):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SharpReCLClassifier(encoder=tiny_encoder).get_feature_names_out()


def test_set_output_pandas_keeps_the_index_of_a_text_column(fitted, tickets):
    X, _ = tickets
    frame = pd.DataFrame({"text": X[:12]}, index=[f"t{i}" for i in range(12)])
    model = _own_copy(fitted).set_output(transform="pandas")
    out = model.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(fitted.get_feature_names_out())
    assert list(out.index) == list(frame.index)
    np.testing.assert_array_equal(out.to_numpy(), fitted.transform(X[:12]))
    # A list of texts (no index to keep) gives a range index.
    assert list(model.transform(X[:3]).index) == [0, 1, 2]
    assert isinstance(model.set_output(transform="default").transform(X[:3]), np.ndarray)


def test_set_output_polars(fitted, tickets):
    pl = pytest.importorskip("polars")  # an optional dependency of scikit-learn's set_output
    X, _ = tickets
    out = _own_copy(fitted).set_output(transform="polars").transform(X[:5])
    assert isinstance(out, pl.DataFrame)
    assert out.columns == list(fitted.get_feature_names_out())
    np.testing.assert_array_equal(out.to_numpy(), fitted.transform(X[:5]))


def test_global_transform_output_config(fitted, tickets):
    X, _ = tickets
    with config_context(transform_output="pandas"):
        out = fitted.transform(X[:4])
        # What reads the embeddings inside the package still gets numbers.
        projected = contrastive_embeddings(fitted, X[:4])
    assert isinstance(out, pd.DataFrame) and out.shape == (4, HIDDEN)
    assert isinstance(projected, np.ndarray) and projected.shape[0] == 4
    np.testing.assert_allclose(projected, contrastive_embeddings(fitted, X[:4]), rtol=1e-6)


def test_embeddings_beside_tabular_columns(fitted, tickets):
    """A fitted model as the text step of a ColumnTransformer, with pandas output."""
    X, _ = tickets
    frame = pd.DataFrame({"text": X[:8], "amount": np.arange(8.0)})
    model = _own_copy(fitted)
    columns = make_column_transformer((FrozenEstimator(model), ["text"]), (StandardScaler(), ["amount"]))
    out = columns.set_output(transform="pandas").fit_transform(frame)
    assert out.shape == (8, HIDDEN + 1)
    assert out.columns[0] == "frozenestimator__sharpreclclassifier0"
    assert out.columns[-1] == "standardscaler__amount"
    np.testing.assert_array_equal(out.iloc[:, :HIDDEN].to_numpy(), fitted.transform(X[:8]))


# ------------------------------------------------------------------ thresholds
def test_fixed_threshold_with_string_labels_and_pos_label(binary, binary_params):
    X, y = binary
    # 'billing' sorts first: the positive class is classes_[0], whose column the
    # tool has to pick instead of the usual classes_[1].
    clf = FixedThresholdClassifier(SharpReCLClassifier(**binary_params), threshold=0.8,
                                   pos_label="billing", response_method="predict_proba").fit(X, y)
    inner = clf.estimator_
    assert list(inner.classes_) == ["billing", "refund"]
    expected = _threshold(inner.predict_proba(X)[:, 0], 0.8, "billing", "refund")
    np.testing.assert_array_equal(clf.predict(X), expected)
    assert (expected != inner.predict(X)).any()  # the threshold changed some decisions
    np.testing.assert_array_equal(clf.predict_proba(X), inner.predict_proba(X))


def test_fixed_threshold_on_a_frozen_model_decision_function(binary, binary_params):
    X, y = binary
    model = SharpReCLClassifier(**binary_params).fit(X, y)
    scores = model.decision_function(X)  # refund minus billing
    threshold = float(np.median(scores))
    clf = FixedThresholdClassifier(FrozenEstimator(model), threshold=threshold, pos_label="refund",
                                   response_method="decision_function").fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), _threshold(scores, threshold, "refund", "billing"))
    assert 0.4 < np.mean(clf.predict(X) == "refund") < 0.6


def test_tuned_threshold_with_string_labels(binary, binary_params):
    X, y = binary
    scoring = make_scorer(f1_score, pos_label="refund")  # the scorer says which class is positive
    tuned = TunedThresholdClassifierCV(
        SharpReCLClassifier(**binary_params), scoring=scoring, response_method="predict_proba", thresholds=25,
        cv=StratifiedKFold(2, shuffle=True, random_state=0), store_cv_results=True).fit(X, y)
    assert 0 < tuned.best_threshold_ < 1
    assert np.isfinite(tuned.best_score_) and tuned.best_score_ == max(tuned.cv_results_["scores"])
    refund = list(tuned.estimator_.classes_).index("refund")
    expected = _threshold(tuned.estimator_.predict_proba(X)[:, refund], tuned.best_threshold_,
                          "refund", "billing")
    np.testing.assert_array_equal(tuned.predict(X), expected)


# ------------------------------------------------------------------ calibration
@pytest.mark.filterwarnings("ignore:The least populated class")  # the frozen model is not refitted
def test_calibrating_a_fitted_model(fitted, tickets):
    X, y = tickets
    held_out = np.arange(0, len(X), 2)
    X_cal, y_cal = [X[i] for i in held_out], y[held_out]
    raw = fitted.predict_proba(X_cal)
    for method in ("sigmoid", "isotonic", "temperature"):
        calibrated = CalibratedClassifierCV(FrozenEstimator(fitted), method=method).fit(X_cal, y_cal)
        np.testing.assert_array_equal(calibrated.classes_, fitted.classes_)
        proba = calibrated.predict_proba(X_cal)
        assert proba.shape == raw.shape
        np.testing.assert_allclose(proba.sum(1), 1.0)
        assert not np.allclose(proba, raw)
        if method == "temperature":  # one parameter fitted by log-loss: it cannot do worse
            assert log_loss(y_cal, proba, labels=fitted.classes_) <= log_loss(y_cal, raw, labels=fitted.classes_)
        # The frozen model was used as it is, not refitted.
        assert calibrated.calibrated_classifiers_[0].estimator.estimator is fitted


# ------------------------------------------------------------------ cross-validated probabilities
def test_cross_val_predict_proba_with_string_labels(tickets, params):
    X, y = tickets
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    proba = cross_val_predict(SharpReCLClassifier(**params), X, y, cv=cv, method="predict_proba")
    assert proba.shape == (len(X), 6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    # Columns in the order of the sorted labels: the fold models' probabilities, put back in place.
    train, test = next(cv.split(X, y))
    fold = SharpReCLClassifier(**params).fit([X[i] for i in train], y[train])
    assert list(fold.classes_) == sorted(set(y))
    np.testing.assert_allclose(proba[test], fold.predict_proba([X[i] for i in test]), rtol=1e-5, atol=1e-7)
