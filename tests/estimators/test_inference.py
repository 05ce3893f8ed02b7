"""Inference is side-effect free, thread-safe, and its scores mean what the docs say.

A fitted model is shared: served from several threads at once, its
parameters changed between calls (``decision_prior``, ``max_length``), and
copied to int8. None of that may rebind anything on the estimator or its net,
and concurrent calls must answer exactly what sequential ones do. Empty, blank and
very long texts are valid input.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from sklearn_sharprecl import SharpReCLClassifier


def _subset(tickets, per_class):
    """The first ``per_class[c]`` tickets of each class ``c``, in corpus order."""
    texts, labels = tickets
    idx = np.sort(np.concatenate([np.flatnonzero(labels == c)[:n] for c, n in per_class.items()]))
    return [texts[i] for i in idx], labels[idx]


@pytest.fixture
def multiclass(tickets, params):
    """A fresh six-class model on 55 tickets, long-tailed (20 to 4 per class)."""
    counts = {"billing": 20, "shipping": 12, "technical": 8, "account": 6, "refund": 5, "security": 4}
    return SharpReCLClassifier(**params).fit(*_subset(tickets, counts))


@pytest.fixture
def binary(tickets, params):
    """A fresh two-class model, imbalanced 3:1 (billing against shipping)."""
    return SharpReCLClassifier(**params).fit(*_subset(tickets, {"billing": 24, "shipping": 8}))


def _bindings(obj):
    """What each attribute of ``obj`` is bound to (a rebinding changes the id)."""
    return {name: id(value) for name, value in vars(obj).items()}


def _infer_all(clf, texts):
    """Every inference entry point once; returns their outputs."""
    return {
        "predict": clf.predict(texts),
        "predict_proba": clf.predict_proba(texts),
        "decision_function": clf.decision_function(texts),
        "transform": clf.transform(texts),
        "estimate_decision_prior": clf.estimate_decision_prior(texts),
        "score": clf.score(texts, clf.predict(texts)),
    }


# ---------------------------------------------------------------- no side effects
# The EM prior estimate of a one-epoch model need not converge; it is called
# here for its side effects only.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_inference_sets_no_attribute(multiclass, tickets):
    clf, texts = multiclass, tickets[0][-40:]
    estimator, net = _bindings(clf), _bindings(clf.net_)
    first = _infer_all(clf, texts)  # the first calls after fit, too
    _infer_all(clf, texts[:7])
    assert _bindings(clf) == estimator
    assert _bindings(clf.net_) == net

    # Parameters that act at inference, changed between calls: only they change.
    clf.set_params(max_length=8, decision_prior="train")
    changed = _infer_all(clf, texts)
    after = _bindings(clf)
    assert {name for name in after if after[name] != estimator.get(name)} == {"max_length", "decision_prior"}
    assert _bindings(clf.net_) == net
    # ... and they did act, without a refit.
    assert not np.array_equal(changed["predict_proba"], first["predict_proba"])
    assert not np.array_equal(changed["transform"], first["transform"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_int8_inference_sets_no_attribute_on_either_model(multiclass, tickets):
    clf, texts = multiclass, tickets[0][-40:]
    quantized = clf.quantize_int8()
    before = [_bindings(obj) for obj in (clf, clf.net_, quantized, quantized.net_)]
    _infer_all(quantized, texts)
    assert [_bindings(obj) for obj in (clf, clf.net_, quantized, quantized.net_)] == before


# ------------------------------------------------------------------- threads
def _concurrent_equals_sequential(clf, texts, n_threads=8, calls=3):
    """Each thread predicts ``calls`` different subsets; all start together."""
    jobs = [[texts[(t + c) % n_threads::n_threads][: 10 + 5 * c] for c in range(calls)]
            for t in range(n_threads)]
    expected = [[clf.predict_proba(subset) for subset in job] for job in jobs]
    start = threading.Barrier(n_threads)

    def work(job):
        start.wait()
        return [clf.predict_proba(subset) for subset in job]

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        got = list(pool.map(work, jobs))
    for job_expected, job_got in zip(expected, got):
        for e, g in zip(job_expected, job_got):
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("int8", [False, True], ids=["fp32", "int8"])
def test_concurrent_predict_proba_gives_the_sequential_answers(multiclass, tickets, int8):
    clf = multiclass.quantize_int8() if int8 else multiclass
    _concurrent_equals_sequential(clf, tickets[0])


# ---------------------------------------------------------------------- int8
def test_quantize_int8_returns_a_copy_and_leaves_the_model_alone(multiclass, tickets, tmp_path):
    clf, texts = multiclass, tickets[0][-40:]
    module = clf.net_.module_
    weights = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    proba = clf.predict_proba(texts)

    quantized = clf.quantize_int8()

    assert quantized is not clf and quantized.net_ is not clf.net_
    assert clf.net_.module_ is module
    state = module.state_dict()
    assert state.keys() == weights.keys()
    assert all(torch.equal(state[name], weights[name]) for name in weights)
    assert not hasattr(clf, "quantized_")
    # The copy's encoder runs int8 linears; the original's stays fp32.
    int8_linear = torch.ao.nn.quantized.dynamic.Linear
    assert not any(type(m) is torch.nn.Linear for m in quantized.net_.module_.encoder.modules())
    assert any(type(m) is int8_linear for m in quantized.net_.module_.encoder.modules())
    assert not any(type(m) is int8_linear for m in module.encoder.modules())
    np.testing.assert_array_equal(clf.predict_proba(texts), proba)
    # The copy answers what the fp32 model answers, to int8's precision.
    np.testing.assert_allclose(quantized.predict_proba(texts), proba, atol=0.01)

    with pytest.raises(ValueError, match="int8 copy cannot be saved"):
        quantized.save_pretrained(tmp_path / "int8")
    assert not (tmp_path / "int8").exists() or not any((tmp_path / "int8").iterdir())
    clf.save_pretrained(tmp_path / "fp32")  # the original still can be


# ---------------------------------------------------------- decision_function
def test_decision_function_multiclass(multiclass, tickets):
    clf, texts = multiclass, tickets[0]
    scores = clf.decision_function(texts)
    assert scores.shape == (len(texts), len(clf.classes_))
    np.testing.assert_array_equal(clf.classes_[scores.argmax(axis=1)], clf.predict(texts))
    # predict_proba is the softmax of the same scores.
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(texts), exp / exp.sum(axis=1, keepdims=True), rtol=1e-12)


def test_decision_function_binary_is_one_dimensional(binary, tickets):
    clf, texts = binary, tickets[0]
    scores = clf.decision_function(texts)
    assert scores.shape == (len(texts),)
    predicted = clf.predict(texts)
    assert len(set(predicted)) == 2  # both signs occur, so the test can tell them apart
    np.testing.assert_array_equal(np.where(scores > 0, clf.classes_[1], clf.classes_[0]), predicted)


def test_decision_prior_train_shifts_scores_by_the_log_prior_ratio(multiclass, binary, tickets):
    texts = tickets[0]
    for clf in (multiclass, binary):
        prior = clf.class_counts_ / clf.class_counts_.sum()
        balanced = np.full(len(prior), 1 / len(prior))  # what the logit-adjusted loss trains for
        plain = clf.set_params(decision_prior=None).decision_function(texts)
        shifted = clf.set_params(decision_prior="train").decision_function(texts)
        shift = np.log(prior / balanced)
        if len(prior) == 2:
            shift = shift[1] - shift[0]
        assert np.abs(shift).max() > 0.1  # a shift large enough to see
        np.testing.assert_allclose(shifted - plain, np.broadcast_to(shift, plain.shape), rtol=0, atol=1e-12)


def test_empty_whitespace_and_very_long_texts_are_valid(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, y)
    huge = "refund " * 200_000
    proba = clf.predict_proba(["", "   ", "\n\t", huge])
    assert proba.shape == (4, len(clf.classes_)) and np.isfinite(proba).all()
