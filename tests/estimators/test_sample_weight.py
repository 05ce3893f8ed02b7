"""``fit(X, y, sample_weight)``: exact where it promises to be, and reachable through routing.

The promises (``fit``'s docstring): unit weights give the unweighted model
exactly, texts of weight 0 are left out of training altogether, and
``class_counts_`` are weight sums. scikit-learn's metadata routing must carry
the weights from a grid search or a pipeline to the estimator's ``fit``.
"""

import numpy as np
import pytest
import sklearn
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_sharprecl import SharpReCLClassifier


@pytest.fixture(scope="module")
def data(tickets):
    """50 tickets of four classes (20, 12, 10, 8 texts), in corpus order."""
    texts, labels = tickets
    counts = {"billing": 20, "shipping": 12, "technical": 10, "account": 8}
    idx = np.sort(np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in counts.items()]))
    return [texts[i] for i in idx], labels[idx]


@pytest.fixture(scope="module")
def probe_texts(tickets):
    return tickets[0][-40:]


def _weight_sums(labels, weights):
    """Weight sum of each class, in sorted label order (``classes_``'s)."""
    return np.array([weights[labels == c].sum() for c in np.unique(labels)])


def _non_uniform(labels):
    """Weights 0.5 to 3, drawn once per text (none zero)."""
    return np.random.RandomState(3).uniform(0.5, 3.0, size=len(labels))


# ------------------------------------------------------------------ exactness
def test_unit_weights_give_the_unweighted_model(params, data, probe_texts):
    texts, labels = data
    plain = SharpReCLClassifier(**params).fit(texts, labels)
    weighted = SharpReCLClassifier(**params).fit(texts, labels, sample_weight=np.ones(len(texts)))
    np.testing.assert_array_equal(weighted.predict_proba(probe_texts), plain.predict_proba(probe_texts))
    np.testing.assert_array_equal(weighted.class_counts_, plain.class_counts_)


def test_zero_weight_texts_are_left_out(params, data, probe_texts):
    texts, labels = data
    weights = np.ones(len(texts))
    weights[::3] = 0  # every class keeps texts
    kept = np.flatnonzero(weights)
    zeroed = SharpReCLClassifier(**params).fit(texts, labels, sample_weight=weights)
    without = SharpReCLClassifier(**params).fit([texts[i] for i in kept], labels[kept])
    full = SharpReCLClassifier(**params).fit(texts, labels)

    np.testing.assert_array_equal(zeroed.predict_proba(probe_texts), without.predict_proba(probe_texts))
    np.testing.assert_array_equal(zeroed.class_counts_, without.class_counts_)
    assert not np.array_equal(zeroed.predict_proba(probe_texts), full.predict_proba(probe_texts))
    assert zeroed.class_counts_.sum() == len(kept) < full.class_counts_.sum()


def test_non_uniform_weights_change_the_model_and_sum_into_class_counts(params, data, probe_texts):
    texts, labels = data
    weights = _non_uniform(labels)
    weighted = SharpReCLClassifier(**params).fit(texts, labels, sample_weight=weights)
    plain = SharpReCLClassifier(**params).fit(texts, labels)
    np.testing.assert_allclose(weighted.class_counts_, _weight_sums(labels, weights), rtol=1e-12)
    assert not np.allclose(weighted.class_counts_, plain.class_counts_)
    assert not np.array_equal(weighted.predict_proba(probe_texts), plain.predict_proba(probe_texts))


def test_scalar_weight_is_every_texts_weight(params, data):
    texts, labels = data
    clf = SharpReCLClassifier(**params).fit(texts, labels, sample_weight=2.0)
    np.testing.assert_array_equal(clf.class_counts_, 2.0 * _weight_sums(labels, np.ones(len(labels))))


@pytest.mark.parametrize("weights, message", [
    (lambda n: np.r_[-1.0, np.ones(n - 1)], "finite and non-negative"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "finite and non-negative"),
    (lambda n: np.r_[np.inf, np.ones(n - 1)], "finite and non-negative"),
    (lambda n: np.ones(n - 1), r"sample_weight has shape \(\d+,\); expected \(\d+,\)"),
    (lambda n: np.ones((n, 1)), r"sample_weight has shape \(\d+, 1\)"),
    (lambda n: np.zeros(n), "zero for every text"),
], ids=["negative", "nan", "inf", "short", "2-d", "all-zero"])
def test_invalid_weights_are_refused(params, data, weights, message):
    texts, labels = data
    clf = SharpReCLClassifier(**params)
    with pytest.raises(ValueError, match=message):
        clf.fit(texts, labels, sample_weight=weights(len(texts)))
    assert not hasattr(clf, "net_")


# --------------------------------------------------------- metadata routing
def _passthrough():
    """A text-in, text-out first step (what a cleaning step would be)."""
    return FunctionTransformer(None)


@pytest.mark.parametrize("make", [
    lambda clf: GridSearchCV(clf, {"mu": [1.0]}, cv=2, error_score="raise"),
    lambda clf: Pipeline([("clean", _passthrough()), ("clf", clf)]),
    lambda clf: ImbPipeline([("clean", _passthrough()), ("clf", clf)]),
], ids=["GridSearchCV", "Pipeline", "imblearn-Pipeline"])
def test_routing_carries_weights_to_fit(params, data, probe_texts, make):
    texts, labels = data
    weights = _non_uniform(labels)
    direct = SharpReCLClassifier(**params).fit(texts, labels, sample_weight=weights)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = SharpReCLClassifier(**params)
        meta = make(clf)
        # A grid search also routes the weights to the scorer: declined here.
        clf.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        meta.fit(texts, labels, sample_weight=weights)
    fitted = meta.best_estimator_ if hasattr(meta, "best_estimator_") else meta[-1]
    np.testing.assert_allclose(fitted.class_counts_, _weight_sums(labels, weights), rtol=1e-12)
    np.testing.assert_array_equal(fitted.predict_proba(probe_texts), direct.predict_proba(probe_texts))


def test_routed_zero_weights_on_a_whole_class_are_refused(params, data):
    # Through a pipeline, zero weights on every 'account' text: the class is named, not dropped.
    texts, labels = data
    weights = np.where(labels == "account", 0.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = SharpReCLClassifier(**params).set_fit_request(sample_weight=True)
        with pytest.raises(ValueError, match=r"class\(es\) \['account'\]"):
            Pipeline([("clean", _passthrough()), ("clf", clf)]).fit(texts, labels, sample_weight=weights)
    assert not hasattr(clf, "classes_")


def test_weights_without_a_request_are_refused_under_routing(params, data):
    # Routing on, no set_fit_request: the pipeline must not drop the weights silently.
    texts, labels = data
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("clean", _passthrough()), ("clf", SharpReCLClassifier(**params))])
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            pipe.fit(texts, labels, sample_weight=np.ones(len(texts)))
