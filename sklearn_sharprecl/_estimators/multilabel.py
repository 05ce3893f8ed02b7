"""Inference of a model fitted on a multi-label ``y``: per-label probabilities, scores and
decisions by the fitted per-label thresholds."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._shared.thresholds import log_sigmoid, sigmoid, threshold_predictions, threshold_scores
from .prior import DecisionPriorMixin


def is_multilabel_model(estimator):
    """Whether ``estimator`` was fitted on a multi-label indicator matrix (it has ``thresholds_``)."""
    return getattr(estimator, "thresholds_", None) is not None


class MultiLabelMixin:
    """:meth:`predict`, :meth:`predict_proba`, :meth:`decision_function` for a multi-label fit.

    A model fitted on a binary indicator matrix ``y`` predicts one sigmoid
    probability per label and decides each label by its threshold in
    ``thresholds_``; a single-label model goes on to the next class in the
    method resolution order. Needs ``_forward(X, 0)`` (the logits).
    """

    def _multilabel_logits(self, X):
        if self.decision_prior is not None:
            raise ValueError("decision_prior is single-label: a multi-label model decides by its "
                             "per-label thresholds_; set decision_prior=None.")
        return self._forward(X, 0).astype(np.float64)

    def predict_proba(self, X):
        """Class probabilities under the decision prior, or, for a multi-label model, each
        label's probability.

        Single-label: with ``classification_loss='logit_adjusted'`` and the
        default ``decision_prior=None`` these estimate the balanced posterior
        (each class equally likely a priori); rows sum to 1. Multi-label: the
        sigmoid of each label's logit, the posterior the loss estimates (for
        ``'logit_adjusted'``, balanced per label: the label as likely present
        as absent a priori); rows need not sum to 1.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_`` (the labels' columns of ``y``).
        """
        if not _fitted_multilabel(self):
            return super().predict_proba(X)
        return sigmoid(self._multilabel_logits(X))

    def _log_proba(self, X):
        """What :meth:`predict_log_proba` returns: a multi-label model's per-label log-sigmoid."""
        if not _fitted_multilabel(self):
            return super()._log_proba(X)
        return log_sigmoid(self._multilabel_logits(X))

    def decision_function(self, X):
        """Scores whose argmax :meth:`predict` takes, or, for a multi-label model, per-label
        scores it thresholds at 0.

        Single-label: the classifier's logits plus ``log(decision_prior /
        trained_prior)``, log-posteriors up to a constant per text; for two
        classes the score of ``classes_[1]`` minus that of ``classes_[0]``, as
        scikit-learn's binary classifiers return. Multi-label: each label's
        logit minus the logit of its threshold in ``thresholds_``, so a label
        is predicted where its score is non-negative (up to rounding).

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
        """
        if not _fitted_multilabel(self):
            return super().decision_function(X)
        return threshold_scores(self._multilabel_logits(X), self.thresholds_)

    def predict(self, X):
        """Most probable class of each text, or, for a multi-label model, its labels.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), or (n_samples, n_labels)
            Multi-label: the binary indicator matrix of the labels whose
            probability reaches their threshold (``predict_proba(X) >=
            thresholds_``); a row may be all zeros.
        """
        if not _fitted_multilabel(self):
            return super().predict(X)
        return threshold_predictions(self.predict_proba(X), self.thresholds_)

    def estimate_decision_prior(self, X, **kwargs):
        if _fitted_multilabel(self):
            raise ValueError("estimate_decision_prior is single-label: the label-shift estimate "
                             "of a class prior does not apply to a multi-label model.")
        return super().estimate_decision_prior(X, **kwargs)

    estimate_decision_prior.__doc__ = DecisionPriorMixin.estimate_decision_prior.__doc__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _fitted_multilabel(estimator):
    check_is_fitted(estimator)
    return is_multilabel_model(estimator)
