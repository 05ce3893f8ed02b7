"""``SharpReCLClassifier.fit``: all or nothing, its data's checks, and the user's validation set."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from sklearn_sharprecl import SharpReCLClassifier

TEXTS = ["refund my card payment", "invoice is wrong", "parcel never arrived", "app crashes on login",
         "charged twice this month", "where is my package", "cannot reset password", "update billing address"]
LABELS = ["bill", "bill", "ship", "tech", "acct", "ship", "tech", "acct"]


def snapshot(clf):
    """Every attribute of the estimator and of its net, and the net's weights."""
    state = {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}
    return dict(vars(clf)), dict(vars(clf.net_)), state


def assert_unchanged(clf, before):
    estimator_vars, net_vars, state = before
    assert vars(clf).keys() == estimator_vars.keys()
    assert all(vars(clf)[k] is v for k, v in estimator_vars.items())
    assert vars(clf.net_).keys() == net_vars.keys()
    assert all(vars(clf.net_)[k] is v for k, v in net_vars.items())
    now = clf.net_.module_.state_dict()
    assert all(torch.equal(now[k], v) for k, v in state.items())


@pytest.fixture
def fitted(params):
    return SharpReCLClassifier(**params).fit(TEXTS * 3, LABELS * 3)


def test_a_refit_refused_at_the_validation_split_leaves_the_model_as_it_was(fitted):
    fitted.set_params(validation_fraction=0.25)
    before, predictions = snapshot(fitted), fitted.predict(TEXTS)
    rejected = [label.upper() for label in LABELS * 3] + ["LONE"]
    with pytest.raises(ValueError, match="least populated class"):
        fitted.fit(TEXTS * 3 + ["a lonely text"], rejected)
    assert_unchanged(fitted, before)
    assert fitted.classes_.tolist() == ["acct", "bill", "ship", "tech"]
    np.testing.assert_array_equal(fitted.predict(TEXTS), predictions)


def test_a_refit_with_an_optimizer_value_of_the_wrong_type_is_refused_before_training(fitted):
    fitted.set_params(optimizer__eps="1e-8")
    before = snapshot(fitted)
    with pytest.raises(InvalidParameterError, match="'optimizer__eps' parameter of SharpReCLClassifier"):
        fitted.fit([t.upper() for t in TEXTS * 3], [label.upper() for label in LABELS * 3])
    assert_unchanged(fitted, before)


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 1.5), ("0.9", 0.99)])
def test_optimizer_betas_must_be_two_numbers_below_one(params, betas):
    with pytest.raises(InvalidParameterError, match="'optimizer__betas' parameter"):
        SharpReCLClassifier(**params, optimizer__betas=betas).fit(TEXTS, LABELS)


def test_a_first_fit_that_fails_on_the_decision_prior_leaves_the_estimator_unfitted(params):
    clf = SharpReCLClassifier(**params, decision_prior=[0.5, 0.5])  # four classes
    with pytest.raises(ValueError, match="decision_prior"):
        clf.fit(TEXTS, LABELS)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert not [name for name in vars(clf) if name.endswith("_")]


def test_a_class_whose_texts_all_weigh_zero_is_refused(params):
    weights = np.array([0.0 if label == "ship" else 1.0 for label in LABELS])
    with pytest.raises(ValueError, match=r"class\(es\) \['ship'\]"):
        SharpReCLClassifier(**params).fit(TEXTS, LABELS, sample_weight=weights)


def test_classes_come_from_y_whatever_the_weights(params):
    weights = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # one 'bill' text out of two
    clf = SharpReCLClassifier(**params).fit(TEXTS, LABELS, sample_weight=weights)
    assert clf.classes_.tolist() == ["acct", "bill", "ship", "tech"]
    assert clf.predict_proba(TEXTS).shape == (8, 4)


def test_the_users_validation_set_selects_the_epoch(params):
    clf = SharpReCLClassifier(**{**params, "max_epochs": 2}).fit(
        TEXTS * 2, LABELS * 2, X_val=TEXTS[:4], y_val=LABELS[:4])
    scores = clf.net_.history[:, "valid_f1_macro"]
    assert len(scores) == 2
    assert clf.net_.train_split is None  # the validation texts are not kept in the model


def test_validation_fraction_is_not_used_when_a_validation_set_is_given(params):
    clf = SharpReCLClassifier(**params, validation_fraction=0.5)
    with pytest.warns(UserWarning, match="validation_fraction is not used"):
        clf.fit(TEXTS, LABELS, X_val=TEXTS[:2], y_val=LABELS[:2])
    # All eight texts trained: none was held out.
    assert int(np.sum(clf.class_counts_)) == len(TEXTS)


@pytest.mark.parametrize("kwargs, message", [
    ({"X_val": TEXTS[:2], "y_val": ["bill", "other"]}, r"y_val holds label\(s\) \['other'\]"),
    ({"X_val": TEXTS[:2]}, "X_val and y_val must be given together"),
    ({"sample_weight_val": [1.0, 1.0]}, "without X_val and y_val"),
    ({"X_val": TEXTS[:2], "y_val": LABELS[:3]}, "inconsistent numbers of samples"),
])
def test_a_wrong_validation_set_is_refused(params, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SharpReCLClassifier(**params).fit(TEXTS, LABELS, **kwargs)


def test_the_validation_set_reaches_fit_through_metadata_routing(params):
    with sklearn.config_context(enable_metadata_routing=True):
        clf = SharpReCLClassifier(**params).set_fit_request(X_val=True, y_val=True)
        pipe = make_pipeline(FunctionTransformer(lambda texts: [t.lower() for t in texts]), clf)
        pipe.fit(TEXTS, LABELS, X_val=TEXTS[:4], y_val=LABELS[:4])
    assert "valid_f1_macro" in pipe[-1].net_.history[-1]
