"""Per-label decision thresholds of a multi-label classifier (numpy only: the torch-free
:mod:`sklearn_sharprecl.deploy` shares them with the estimator).

A multi-label model gives each label its own probability; a label is predicted
where its probability reaches the label's threshold. Each threshold is the one
that maximises that label's F1 on validation texts; a label without positive
validation texts (or a model without validation texts) keeps
:data:`FALLBACK_THRESHOLD`.
"""

import numpy as np

#: Threshold of a label that has no positive validation text to choose one on:
#: 0.5 on the posterior the loss estimates (the balanced one for the
#: logit-adjusted loss, where every label is as likely present as absent).
FALLBACK_THRESHOLD = 0.5


def sigmoid(scores):
    """Element-wise logistic function, stable for large scores of either sign."""
    scores = np.asarray(scores, dtype=np.float64)
    out = np.empty_like(scores)
    positive = scores >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-scores[positive]))
    exp = np.exp(scores[~positive])
    out[~positive] = exp / (1.0 + exp)
    return out


def log_sigmoid(scores):
    """Element-wise ``log(sigmoid(scores))``, finite where the probability underflows."""
    return -np.logaddexp(0.0, -np.asarray(scores, dtype=np.float64))


def best_f1_threshold(proba, positive, sample_weight=None):
    """The threshold on ``proba`` that maximises F1 of one label, or None without positives.

    Candidate cuts lie between consecutive distinct probabilities (a text is
    predicted positive where ``proba >= threshold``); the threshold returned
    is the midpoint of the best cut, so texts of equal probability are never
    split. Ties in F1 go to the higher threshold.

    Parameters
    ----------
    proba : ndarray of shape (n_samples,)
    positive : ndarray of shape (n_samples,)
        Whether each text carries the label (0/1 or bool).
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    threshold : float or None
        None when no positive text has positive weight.
    """
    proba = np.asarray(proba, dtype=np.float64)
    weight = np.ones(len(proba)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    pos_weight = weight * (np.asarray(positive) > 0)
    total_pos = pos_weight.sum()
    if total_pos <= 0:
        return None
    order = np.argsort(-proba, kind="stable")
    p, tp, fp = proba[order], np.cumsum(pos_weight[order]), np.cumsum((weight - pos_weight)[order])
    # A cut after position i is possible only where the next probability is lower.
    last_of_value = np.append(p[1:] < p[:-1], True)
    f1 = 2 * tp / (2 * tp + fp + (total_pos - tp))
    f1 = np.where(last_of_value, f1, -1.0)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold
    lower = p[best + 1] if best + 1 < len(p) else 0.0
    return float((p[best] + lower) / 2)


def f1_thresholds(proba, Y, sample_weight=None):
    """Each label's F1-maximising threshold on validation probabilities.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_labels)
    Y : ndarray of shape (n_samples, n_labels)
        Binary indicator matrix of the validation texts.
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    thresholds : ndarray of shape (n_labels,)
        :data:`FALLBACK_THRESHOLD` for a label without positive validation texts.
    """
    thresholds = [best_f1_threshold(proba[:, j], Y[:, j], sample_weight) for j in range(Y.shape[1])]
    return np.array([FALLBACK_THRESHOLD if t is None else t for t in thresholds])


def threshold_scores(logits, thresholds):
    """Per-label decision scores: ``logits - logit(thresholds)``, positive where
    ``sigmoid(logits) > thresholds``; what a multi-label ``decision_function`` returns."""
    t = np.clip(np.asarray(thresholds, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.asarray(logits, dtype=np.float64) - np.log(t / (1 - t))


def threshold_predictions(proba, thresholds):
    """The binary indicator matrix of ``proba >= thresholds`` (one column per label)."""
    return (np.asarray(proba) >= np.asarray(thresholds)[None, :]).astype(np.int64)
