"""Class prior of unlabelled data under label shift (Saerens, Latinne and Decaestecker, 2002)."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


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
