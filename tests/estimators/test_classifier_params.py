"""``SharpReCLClassifier``'s parameters: scikit-learn's estimator contract, checked on texts.

``sklearn.utils.estimator_checks`` skips an estimator whose tags say it takes
strings rather than a 2-D numeric array, so none of its checks reach
``SharpReCLClassifier``. These tests do by hand what those checks do for the
parameters of numeric estimators (clone, get_params/set_params, tags, grid
search), plus what the routed ``criterion__``/``callbacks__`` parameters add to
the contract. The contract of ``fit`` is in ``test_classifier_fit.py``, pickling
in ``persistence/test_pickle.py``.
"""

import inspect

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV
from sklearn.utils import get_tags

from conftest import CountEpochs
from sklearn_sharprecl import SharpReCLClassifier


# ---------------------------------------------------------------- parameters
def test_clone_keeps_every_parameter_and_drops_fitted_state(params, ten_per_class):
    clf = SharpReCLClassifier(**params, callbacks__lr_schedule__warmup_fraction=0.2,
                              callbacks=[("count", CountEpochs())])
    cloned = clone(clf)
    assert joblib.hash(cloned.get_params()) == joblib.hash(clf.get_params())
    assert cloned.get_params()["callbacks__lr_schedule__warmup_fraction"] == 0.2

    clf.fit(*ten_per_class)
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


def test_routed_parameters_reach_the_fitted_net(params, ten_per_class):
    clf = SharpReCLClassifier(**params).set_params(
        criterion__n_neg=12, callbacks__lr_schedule__warmup_fraction=0.25, mu=0.5, tau=0.2)
    clf.fit(*ten_per_class)
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


def test_tags_say_string_input():
    clf = SharpReCLClassifier()
    tags = get_tags(clf)
    assert tags.input_tags.string
    assert not tags.input_tags.two_d_array  # what makes estimator_checks skip it
    assert tags.estimator_type == "classifier" and is_classifier(clf)
    assert tags.requires_fit


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


def test_grid_search_over_plain_and_routed_parameters(params, ten_per_class):
    # The chosen values come last in each list: a search that ignored a
    # parameter would tie and keep the first.
    grid = {"mu": [1.0, 0.5], "tau": [0.3, 0.2], "criterion__n_neg": [40, 20]}
    search = GridSearchCV(SharpReCLClassifier(**params), grid, cv=2, scoring=_closeness_to_chosen,
                          error_score="raise").fit(*ten_per_class)
    assert search.best_params_ == _CHOSEN
    assert len(set(search.cv_results_["mean_test_score"])) == 8
    best = search.best_estimator_
    assert {name: best.get_params()[name] for name in _CHOSEN} == _CHOSEN
    assert _closeness_to_chosen(best, None, None) == 0
    np.testing.assert_array_equal(best.classes_, np.unique(ten_per_class[1]))
