"""From class scores to what a scikit-learn classifier returns (numpy only, so that
the torch-free :mod:`sklearn_sharprecl.deploy` shares it)."""

import numpy as np


def softmax(scores):
    """Row-wise softmax of ``scores`` (n_samples, n_classes), stable for large scores."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    proba = np.exp(shifted)
    return proba / proba.sum(axis=1, keepdims=True)


def decision_scores(scores):
    """``scores`` as ``decision_function`` returns them: for two classes the score of
    ``classes_[1]`` minus that of ``classes_[0]`` (scikit-learn's binary convention,
    which its scorers such as ``'roc_auc'`` read), otherwise unchanged."""
    return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores


def log_softmax(scores):
    """Row-wise log of :func:`softmax`, finite where a probability underflows to 0."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
