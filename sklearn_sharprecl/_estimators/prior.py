"""Decision priors: the class prior a fitted classifier decides under, and its EM estimate from
unlabelled data under label shift (Saerens, Latinne and Decaestecker, 2002)."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._shared.scores import check_decision_prior, decision_prior_shift, softmax, trained_prior


def em_class_prior(proba, reference_prior, *, max_iter=1000, tol=1e-8):
    """Class prior of the samples whose posteriors ``proba`` are, by EM.

    ``proba`` are posteriors computed under ``reference_prior`` (the prior
    the model was trained to predict under). Assuming only the class prior
    differs between that data and these samples (``p(x|y)`` unchanged), the
    EM of Saerens et al. (2002) alternates re-weighting each posterior by
    ``prior / reference_prior`` and setting ``prior`` to the mean re-weighted
    posterior; it converges to the maximum-likelihood prior of the samples.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
    reference_prior : ndarray of shape (n_classes,)
        Positive; normalised here.
    max_iter : int, default=1000
    tol : float, default=1e-8
        Stop when no class's prior moves by more than this.

    Returns
    -------
    prior : ndarray of shape (n_classes,)
        Sums to 1; every entry positive (floored at 1e-12: a decision prior
        of exactly zero would rule a class out).
    """
    reference = np.asarray(reference_prior, dtype=float)
    if reference.shape != (proba.shape[1],) or not np.all(reference > 0):
        raise ValueError(
            f"reference_prior must hold one positive number per column of proba "
            f"({proba.shape[1]}); got {reference_prior!r}."
        )
    reference = reference / reference.sum()
    prior = reference
    for _ in range(max_iter):
        reweighted = proba * (prior / reference)
        reweighted /= reweighted.sum(axis=1, keepdims=True)
        updated = reweighted.mean(axis=0)
        converged = np.max(np.abs(updated - prior)) < tol
        prior = updated
        if converged:
            break
    else:
        warnings.warn(
            f"The EM estimate of the class prior did not converge in {max_iter} iterations "
            f"(tol={tol}); the last estimate is returned.",
            ConvergenceWarning,
            stacklevel=2,
        )
    prior = np.maximum(prior, 1e-12)
    return prior / prior.sum()


class DecisionPriorMixin:
    """The ``decision_prior`` parameter of a fitted classifier, and its estimate from unlabelled texts.

    For an estimator with ``decision_prior``, ``classification_loss``,
    ``classes_``, ``class_counts_`` and ``_forward(X, 0)`` (the logits).
    """

    def _check_decision_prior(self, n_classes=None):
        """The decision prior as an array of probabilities, or None / the name given.

        ``n_classes`` defaults to the fitted model's; ``fit`` checks the prior
        against its data's before training.
        """
        return check_decision_prior(self.decision_prior,
                                    len(self.classes_) if n_classes is None else n_classes)

    def _trained_prior(self):
        """The prior the network's own posterior assumes."""
        return trained_prior(self.class_counts_, self.classification_loss)

    def _prior_shift(self):
        """Per-class factor turning the trained posterior into the decision prior's, or None."""
        return decision_prior_shift(self.decision_prior, self.class_counts_, self.classification_loss)

    def estimate_decision_prior(self, X, *, max_iter=1000, tol=1e-8):
        """Class prior of unlabelled texts, by EM, to use as ``decision_prior``.

        Assumes the texts differ from the training data in their class prior
        only (label shift) and finds the prior that maximises their
        likelihood under the model (Saerens, Latinne and Decaestecker, 2002)::

            clf.set_params(decision_prior=clf.estimate_decision_prior(X_new))

        The estimate is only as good as the model's probabilities and the
        number of texts; the method study (H14) found it underestimates the
        rarest class: read it as a rough class mix before deciding with it.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)
            Unlabelled texts of the data the model will predict on.
        max_iter : int, default=1000
        tol : float, default=1e-8

        Returns
        -------
        prior : ndarray of shape (n_classes,)
            In the order of ``classes_``; sums to 1.
        """
        proba = softmax(self._forward(X, 0).astype(np.float64))
        return em_class_prior(proba, self._trained_prior(), max_iter=max_iter, tol=tol)
