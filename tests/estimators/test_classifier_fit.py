"""``SharpReCLClassifier.fit``: all or nothing, its data's checks, the user's validation set,
scikit-learn's contract of ``fit`` (idempotent, parameters untouched, sorted ``classes_``) and
hard data shapes (a hundred classes, a class of one text, an imbalance ratio of 200)."""

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from conftest import CountEpochs
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


# ------------------------------------------------------- contract of fit
@pytest.fixture(scope="module")
def probe_texts(tickets):
    """Texts to compare predictions on, none of them training texts of ``ten_per_class``."""
    return tickets[0][-40:]


def test_fit_is_idempotent(params, ten_per_class, probe_texts, tickets):
    texts, labels = ten_per_class
    clf = SharpReCLClassifier(**params).fit(texts, labels)
    first = clf.predict_proba(probe_texts)
    # A fit on other data in between must leave nothing behind.
    other = np.flatnonzero(np.isin(tickets[1], ["billing", "shipping"]))[:30]
    clf.fit([tickets[0][i] for i in other], tickets[1][other])
    clf.fit(texts, labels)
    np.testing.assert_array_equal(clf.predict_proba(probe_texts), first)
    np.testing.assert_array_equal(clone(clf).fit(texts, labels).predict_proba(probe_texts), first)


def test_fit_changes_no_constructor_parameter(params, ten_per_class):
    counter = CountEpochs()
    clf = SharpReCLClassifier(**params, decision_prior="train", callbacks=[("count", counter)],
                              callbacks__lr_schedule__warmup_fraction=0.2)
    before = clf.get_params()
    identities = {name: id(value) for name, value in before.items()}
    hashes = {name: joblib.hash(value) for name, value in before.items()}
    public_before = {name for name in vars(clf) if not name.startswith("_")}

    clf.fit(*ten_per_class)

    after = clf.get_params()
    assert {name: id(value) for name, value in after.items()} == identities
    assert {name: joblib.hash(value) for name, value in after.items()} == hashes
    assert counter.epochs == 0  # the net trained a copy of the user's callback
    added = {name for name in vars(clf) if not name.startswith("_")} - public_before
    assert added and all(name.endswith("_") for name in added), added


def test_fit_sets_no_n_features_in(params, ten_per_class):
    texts, labels = ten_per_class
    for X in (texts, pd.Series(texts, name="text")):
        clf = SharpReCLClassifier(**params).fit(X, labels)
        assert not hasattr(clf, "n_features_in_")
        assert not hasattr(clf, "feature_names_in_")


@pytest.mark.parametrize("kind", ["str", "int"])
def test_classes_are_sorted_unique_labels(params, ten_per_class, probe_texts, kind):
    texts, labels = ten_per_class
    if kind == "int":
        # Codes in an order unlike the names', so sorting by either differs.
        codes = dict(zip(np.unique(labels), [30, 4, 17, -2, 8, 11]))
        labels = np.array([codes[label] for label in labels])
    order = np.random.RandomState(1).permutation(len(texts))  # the first label is not the smallest
    texts, labels = [texts[i] for i in order], labels[order]
    clf = SharpReCLClassifier(**params).fit(texts, labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    assert clf.classes_.dtype == np.unique(labels).dtype
    predicted = clf.predict(probe_texts)
    assert predicted.dtype == clf.classes_.dtype
    assert set(predicted) <= set(clf.classes_)
    assert clf.predict_proba(probe_texts).shape == (len(probe_texts), len(clf.classes_))


# ------------------------------------------------------ hard data shapes
def assert_every_step_finite(clf):
    last = clf.net_.history[-1]
    print(f"\n{len(clf.classes_)} classes, counts {clf.class_counts_.min()}..{clf.class_counts_.max()}: "
          f"final train loss {last['train_loss']:.4f}, valid loss {last.get('valid_loss', float('nan')):.4f}")
    steps = [batch for epoch in clf.net_.history for batch in epoch["batches"] if "train_loss" in batch]
    assert len(steps) >= len(clf.net_.history)  # validation batches carry valid_loss instead
    for batch in steps:
        assert np.isfinite(batch["train_loss"]) and np.isfinite(batch["contrastive_loss"])


def test_one_example_class_and_many_classes(fast_params):
    rng = np.random.RandomState(0)
    vocab = "billing shipping technical account refund security moon far what who how is the".split()
    n_classes = 100
    # Class c has a few examples (one for the rarest); texts share a vocabulary.
    sizes = np.maximum(1, (8 * 200.0 ** (-np.arange(n_classes) / (n_classes - 1))).astype(int))
    y = np.repeat(np.arange(n_classes), sizes)
    X = [" ".join(rng.choice(vocab, 5)) + f" {vocab[c % len(vocab)]}" for c in y]
    assert sizes.min() == 1 and sizes.max() / sizes.min() >= 8
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 2, "criterion__n_neg": 30}).fit(X, y)
    assert_every_step_finite(clf)
    assert len(clf.classes_) == n_classes
    assert clf.prototypes_.shape[0] == n_classes
    assert clf.predict_proba(X[:3]).shape == (3, n_classes)
    np.testing.assert_array_equal(clf.class_counts_, sizes)  # every class is in training


def test_imbalance_ratio_200(fast_params, tickets):
    X, y = tickets
    y = np.asarray(y)
    keep = np.concatenate([np.flatnonzero(y != "security"), np.flatnonzero(y == "security")[:1]])
    X2 = [X[i] for i in keep] * 3
    y2 = np.concatenate([y[keep]] * 3)
    head = np.flatnonzero(y2 == "billing")
    X2 += [X2[i] for i in head] * 2  # billing: ~600 vs security: 3
    y2 = np.concatenate([y2, y2[head], y2[head]])
    counts = np.unique(y2, return_counts=True)[1]
    assert counts.max() / counts.min() >= 100
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "batch_size": 32}).fit(X2, y2)
    assert_every_step_finite(clf)
    np.testing.assert_array_equal(clf.class_counts_, counts)  # the three security texts included


def test_ignored_precomputed_views_warn(fast_params, tickets):
    X, y = tickets
    params = {k: v for k, v in fast_params.items() if k != "criterion__n_neg"}  # X_aug alone is inert
    with pytest.warns(UserWarning, match="^X_aug has no effect with contrastive=None"):
        SharpReCLClassifier(**{**params, "max_epochs": 1}, contrastive=None).fit(X, y, X_aug=X)


def test_a_one_example_class_cannot_be_split_for_validation(fast_params, tickets):
    X, y = tickets
    y = np.asarray(y).copy()
    y[0] = "warranty"  # a class of one text: a stratified split cannot give it to both sides
    with pytest.raises(ValueError, match="least populated class.*only 1 member"):
        SharpReCLClassifier(**fast_params, validation_fraction=0.1).fit(X, y)
