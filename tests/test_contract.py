"""scikit-learn's estimator contract, checked on texts.

``sklearn.utils.estimator_checks`` skips an estimator whose tags say it takes
strings rather than a 2-D numeric array, so none of its checks reach
``SharpReCLClassifier``. These tests do by hand what those checks do for
numeric estimators (clone, parameters, idempotent fits, pickling, tags), plus
what the routed ``criterion__``/``callbacks__`` parameters add to the contract.
"""

import inspect
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV
from sklearn.utils import get_tags
from skorch.callbacks import Callback

from sklearn_sharprecl import SharpReCLClassifier


@pytest.fixture(scope="module")
def data(tickets):
    """At most 10 tickets per class (59 texts, six classes, the rarest with 9)."""
    texts, labels = tickets
    idx = np.sort(np.concatenate([np.flatnonzero(labels == c)[:10] for c in np.unique(labels)]))
    return [texts[i] for i in idx], labels[idx]


@pytest.fixture(scope="module")
def probe_texts(tickets):
    """Texts to compare predictions on, none of them training texts of ``data``."""
    return tickets[0][-40:]


class CountEpochs(Callback):
    """A user callback with state: counts the epochs it sees."""

    def __init__(self, epochs=0):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


# ---------------------------------------------------------------- parameters
def test_clone_keeps_every_parameter_and_drops_fitted_state(params, data):
    clf = SharpReCLClassifier(**params, callbacks__lr_schedule__warmup_fraction=0.2,
                              callbacks=[("count", CountEpochs())])
    cloned = clone(clf)
    assert cloned is not clf
    assert joblib.hash(cloned.get_params()) == joblib.hash(clf.get_params())
    assert cloned.get_params()["callbacks__lr_schedule__warmup_fraction"] == 0.2
    # clone copies object parameters: the callback list is not shared.
    assert cloned.callbacks is not clf.callbacks

    clf.fit(*data)
    cloned = clone(clf)
    fitted = [name for name in vars(cloned) if name.endswith("_") and not name.startswith("_")]
    assert fitted == []
    assert joblib.hash(cloned.get_params()) == joblib.hash(clf.get_params())


def test_get_params_set_params_round_trip(params):
    clf = SharpReCLClassifier(**params)
    got = clf.get_params()
    assert got["criterion__n_neg"] == 40
    assert SharpReCLClassifier(**got).get_params() == got
    assert clf.set_params(**got) is clf
    assert clf.get_params() == got

    clf.set_params(criterion__n_neg=12, callbacks__lr_schedule__warmup_fraction=0.25, mu=0.5)
    deep, shallow = clf.get_params(deep=True), clf.get_params(deep=False)
    for name, value in {"criterion__n_neg": 12, "callbacks__lr_schedule__warmup_fraction": 0.25,
                        "mu": 0.5}.items():
        assert deep[name] == value
        assert shallow[name] == value  # clone() and repr() read the shallow parameters
    assert "criterion__n_neg=12" in repr(clf)


def test_every_listed_routed_parameter_can_be_set_and_read(params):
    defaults = SharpReCLClassifier.routed_parameters()
    clf = SharpReCLClassifier(**params).set_params(**defaults)
    got = clf.get_params()
    assert {name: got[name] for name in defaults} == defaults


def test_routed_parameters_reach_the_fitted_net(params, data):
    clf = SharpReCLClassifier(**params).set_params(
        criterion__n_neg=12, callbacks__lr_schedule__warmup_fraction=0.25, mu=0.5, tau=0.2)
    clf.fit(*data)
    criterion = clf.net_.criterion_
    assert criterion.sampling["n_neg"] == 12
    assert criterion.mu == 0.5
    assert criterion.contrastive_loss.tau == 0.2
    assert dict(clf.net_.callbacks_)["lr_schedule"].warmup_fraction == 0.25


def test_signature_stays_small():
    # 23 parameters a user tunes plus **routed_params; everything else is routed.
    assert len(inspect.signature(SharpReCLClassifier).parameters) <= 24


@pytest.mark.parametrize("misspelt, closest", [
    ("criterion__n_negs", "criterion__n_neg"),
    ("callbacks__lr_schedule__warmup_fractoin", "callbacks__lr_schedule__warmup_fraction"),
    ("module__poolng", "module__pooling"),
    ("optimizer__weight_decy", "optimizer__weight_decay"),
])
def test_misspelt_routed_name_fails_with_the_closest_name(params, misspelt, closest):
    with pytest.raises(TypeError, match=f"{misspelt}'.*Did you mean '{closest}'"):
        SharpReCLClassifier(**params, **{misspelt: 1})
    clf = SharpReCLClassifier(**params)
    before = clf.get_params()
    with pytest.raises(TypeError, match=f"Did you mean '{closest}'"):
        clf.set_params(mu=0.5, **{misspelt: 1})
    # Refused as a whole: neither the misspelt name nor the valid one beside it is set.
    assert clf.get_params() == before


def test_routed_name_with_one_underscore_gets_the_closest_name_everywhere(params):
    # A grid search sets its grid through set_params: a key misspelt there
    # must get the same hint as one misspelt in the constructor.
    with pytest.raises(TypeError, match="Did you mean 'criterion__n_neg'"):
        SharpReCLClassifier(**params, criterion_n_neg=20)
    with pytest.raises((TypeError, ValueError), match="Did you mean 'criterion__n_neg'"):
        SharpReCLClassifier(**params).set_params(criterion_n_neg=20)


def test_misspelt_plain_parameter_fails_with_the_closest_name(params):
    for make in (lambda: SharpReCLClassifier(max_lenght=16),
                 lambda: SharpReCLClassifier(**params).set_params(max_lenght=16)):
        with pytest.raises((TypeError, ValueError), match="Did you mean 'max_length'"):
            make()


# ------------------------------------------------------------------------ fit
def test_fit_is_idempotent(params, data, probe_texts, tickets):
    texts, labels = data
    clf = SharpReCLClassifier(**params).fit(texts, labels)
    first = clf.predict_proba(probe_texts)
    # A fit on other data in between must leave nothing behind.
    other = np.flatnonzero(np.isin(tickets[1], ["billing", "shipping"]))[:30]
    clf.fit([tickets[0][i] for i in other], tickets[1][other])
    clf.fit(texts, labels)
    np.testing.assert_array_equal(clf.predict_proba(probe_texts), first)
    np.testing.assert_array_equal(clone(clf).fit(texts, labels).predict_proba(probe_texts), first)


def test_fit_changes_no_constructor_parameter(params, data):
    counter = CountEpochs()
    clf = SharpReCLClassifier(**params, decision_prior="train", callbacks=[("count", counter)],
                              callbacks__lr_schedule__warmup_fraction=0.2)
    before = clf.get_params()
    identities = {name: id(value) for name, value in before.items()}
    hashes = {name: joblib.hash(value) for name, value in before.items()}
    public_before = {name for name in vars(clf) if not name.startswith("_")}

    clf.fit(*data)

    after = clf.get_params()
    assert {name: id(value) for name, value in after.items()} == identities
    assert {name: joblib.hash(value) for name, value in after.items()} == hashes
    assert counter.epochs == 0  # the net trained a copy of the user's callback
    added = {name for name in vars(clf) if not name.startswith("_")} - public_before
    assert added and all(name.endswith("_") for name in added), added


def test_fit_sets_no_n_features_in(params, data):
    texts, labels = data
    for X in (texts, pd.Series(texts, name="text")):
        clf = SharpReCLClassifier(**params).fit(X, labels)
        assert not hasattr(clf, "n_features_in_")
        assert not hasattr(clf, "feature_names_in_")


@pytest.mark.parametrize("kind", ["str", "int"])
def test_classes_are_sorted_unique_labels(params, data, probe_texts, kind):
    texts, labels = data
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


def test_tags_say_string_input():
    clf = SharpReCLClassifier()
    tags = get_tags(clf)
    assert tags.input_tags.string
    assert not tags.input_tags.two_d_array  # what makes estimator_checks skip it
    assert tags.estimator_type == "classifier" and is_classifier(clf)
    assert tags.requires_fit


# ----------------------------------------------------------------- pickling
def _round_trip(obj, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(obj))
    joblib.dump(obj, tmp_path / "model.joblib")
    return joblib.load(tmp_path / "model.joblib")


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_before_fit(params, data, probe_texts, tmp_path, how):
    clf = SharpReCLClassifier(**params, callbacks__lr_schedule__warmup_fraction=0.2)
    loaded = _round_trip(clf, how, tmp_path)
    assert joblib.hash(loaded.get_params()) == joblib.hash(clf.get_params())
    np.testing.assert_array_equal(loaded.fit(*data).predict_proba(probe_texts),
                                  clf.fit(*data).predict_proba(probe_texts))


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_after_fit(params, data, probe_texts, tmp_path, how, recwarn):
    clf = SharpReCLClassifier(**params).fit(*data)
    expected = clf.predict_proba(probe_texts)
    loaded = _round_trip(clf, how, tmp_path)
    # Same library versions: loading warns about none.
    assert not [w for w in recwarn if "version" in str(w.message).lower()]
    assert loaded.net_.module_ is not clf.net_.module_
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(probe_texts), expected)
    np.testing.assert_array_equal(loaded.transform(probe_texts), clf.transform(probe_texts))


# ------------------------------------------------------------ model selection
_CHOSEN = {"mu": 0.5, "tau": 0.2, "criterion__n_neg": 20}


def _closeness_to_chosen(estimator, X, y):
    """A score read from the fitted criterion: highest where it trained with ``_CHOSEN``.

    The grid search can only find ``_CHOSEN`` if every candidate's settings,
    the routed one included, reached the net that candidate fitted.
    """
    criterion = estimator.net_.criterion_
    return -(abs(criterion.mu - _CHOSEN["mu"]) + abs(criterion.contrastive_loss.tau - _CHOSEN["tau"])
             + abs(criterion.sampling["n_neg"] - _CHOSEN["criterion__n_neg"]))


def test_grid_search_over_plain_and_routed_parameters(params, data):
    # The chosen values come last in each list: a search that ignored a
    # parameter would tie and keep the first.
    grid = {"mu": [1.0, 0.5], "tau": [0.3, 0.2], "criterion__n_neg": [40, 20]}
    search = GridSearchCV(SharpReCLClassifier(**params), grid, cv=2, scoring=_closeness_to_chosen,
                          error_score="raise").fit(*data)
    assert search.best_params_ == _CHOSEN
    assert len(set(search.cv_results_["mean_test_score"])) == 8
    best = search.best_estimator_
    assert {name: best.get_params()[name] for name in _CHOSEN} == _CHOSEN
    assert _closeness_to_chosen(best, None, None) == 0
    np.testing.assert_array_equal(best.classes_, np.unique(data[1]))
