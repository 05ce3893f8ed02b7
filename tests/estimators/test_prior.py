"""EM estimate of a class prior under label shift (sklearn_sharprecl._estimators.prior) and the
decision prior's checks and shift (sklearn_sharprecl._shared.scores)."""

import numpy as np
import pytest

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._estimators.prior import em_class_prior
from sklearn_sharprecl._shared.scores import decision_prior_shift, log_decision_prior_shift


def gaussian_posteriors(prior, reference, n, rng):
    """Exact posteriors under ``reference`` of n samples drawn with class prior ``prior``
    from unit Gaussians centred at 0, 2, 4, ..."""
    means = 2.0 * np.arange(len(prior))
    y = rng.choice(len(prior), size=n, p=prior)
    x = rng.normal(means[y], 1.0)
    likelihood = np.exp(-0.5 * (x[:, None] - means[None, :]) ** 2)
    joint = likelihood * reference
    return joint / joint.sum(1, keepdims=True)


@pytest.mark.parametrize("reference", [np.full(3, 1 / 3), np.array([0.1, 0.3, 0.6])])
def test_recovers_the_prior_of_shifted_samples(reference):
    rng = np.random.default_rng(0)
    true = np.array([0.8, 0.15, 0.05])
    proba = gaussian_posteriors(true, reference, 20000, rng)
    estimate = em_class_prior(proba, reference)
    np.testing.assert_allclose(estimate, true, atol=0.02)
    # The posteriors alone (no EM) are off: the reference prior pulls them.
    assert np.abs(proba.mean(0) - true).max() > 0.03


def test_samples_drawn_under_the_reference_keep_it_and_no_class_reaches_zero():
    rng = np.random.default_rng(1)
    reference = np.array([0.5, 0.3, 0.2])
    estimate = em_class_prior(gaussian_posteriors(reference, reference, 20000, rng), reference * 10)
    np.testing.assert_allclose(estimate, reference, atol=0.02)
    # A class no sample supports is floored, never 0: it stays a valid decision prior.
    proba = np.array([[1.0, 0.0], [1.0, 0.0]])
    estimate = em_class_prior(proba, [0.5, 0.5])
    assert estimate[1] > 0 and estimate.sum() == pytest.approx(1.0)


def test_a_zero_reference_is_refused_and_non_convergence_warned():
    from sklearn.exceptions import ConvergenceWarning

    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    with pytest.raises(ValueError, match="one positive number per column"):
        em_class_prior(proba, [5, 3, 0])
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        em_class_prior(proba, [1, 1, 1], max_iter=1)


@pytest.mark.parametrize("loss, trained", [("logit_adjusted", np.full(3, 1 / 3)),
                                           ("cross_entropy", np.array([0.6, 0.3, 0.1]))])
def test_decision_prior_shift_is_the_decision_prior_over_the_trained_one(loss, trained):
    counts = np.array([60, 30, 10])
    expected = {"balanced": np.full(3, 1 / 3) / trained, "train": np.array([0.6, 0.3, 0.1]) / trained,
                "array": np.array([0.2, 0.2, 0.6]) / trained}
    for name, prior in (("balanced", "balanced"), ("train", "train"), ("array", [1, 1, 3])):
        shift = decision_prior_shift(prior, counts, loss)
        np.testing.assert_allclose(shift, expected[name], rtol=1e-12)
        np.testing.assert_allclose(log_decision_prior_shift(prior, counts, loss), np.log(expected[name]), rtol=1e-12)
    assert decision_prior_shift(None, counts, loss) is None
    np.testing.assert_array_equal(log_decision_prior_shift(None, counts, loss), np.zeros(3))


@pytest.mark.parametrize("prior", ["balnced", "", [1, 2], [1, 0, 2], [1, np.inf, 2], {"a": 1}])
def test_a_decision_prior_that_is_neither_a_name_nor_one_positive_number_per_class_is_refused(prior):
    with pytest.raises(ValueError, match=r"decision_prior must be 'balanced', 'train', None or one positive, "
                                         r"finite number per class \(3 classes, in the order of classes_\)"):
        decision_prior_shift(prior, [60, 30, 10], "logit_adjusted")


def test_decision_prior_as_a_dict_gets_a_clear_error(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, y)
    clf.set_params(decision_prior={c: 1.0 for c in clf.classes_})
    with pytest.raises(ValueError, match=r"\[prior\[c\] for c in clf.classes_\]"):
        clf.predict(X[:2])
