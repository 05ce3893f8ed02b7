"""From class scores to what a scikit-learn classifier returns, and the decision-prior shift
applied to them (numpy only: the torch-free :mod:`sklearn_sharprecl.deploy` shares it)."""

import numpy as np

DECISION_PRIORS = ("balanced", "train")


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


def check_decision_prior(decision_prior, n_classes):
    """A ``decision_prior`` parameter, checked.

    Parameters
    ----------
    decision_prior : {'balanced', 'train'}, array-like of shape (n_classes,) or None
    n_classes : int

    Returns
    -------
    prior : {'balanced', 'train'}, ndarray of shape (n_classes,) or None
        An array is normalised to sum to 1.

    Raises
    ------
    ValueError
        For any other string, or an array that is not one positive, finite
        number per class.
    """
    if decision_prior is None or (isinstance(decision_prior, str) and decision_prior in DECISION_PRIORS):
        return decision_prior
    prior = np.full(1, np.nan)  # reported below with the value given
    if not isinstance(decision_prior, str):
        try:
            prior = np.asarray(decision_prior, dtype=float)
        except (TypeError, ValueError):
            pass
    if prior.shape != (n_classes,) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        by_label = (" To give it by label: [prior[c] for c in clf.classes_]."
                    if isinstance(decision_prior, dict) else "")
        raise ValueError(
            f"decision_prior must be 'balanced', 'train', None or one positive, finite number "
            f"per class ({n_classes} classes, in the order of classes_); got "
            f"{decision_prior!r}.{by_label}")
    return prior / prior.sum()


def named_prior(name, class_counts):
    """``'balanced'`` (uniform) or ``'train'`` (the training class frequencies) as an array.

    Parameters
    ----------
    name : {'balanced', 'train'}
    class_counts : array-like of shape (n_classes,)
        The (possibly weighted) number of training texts of each class.

    Returns
    -------
    prior : ndarray of shape (n_classes,)
    """
    counts = np.asarray(class_counts, dtype=float)
    if name == "balanced":
        return np.full(len(counts), 1.0 / len(counts))
    if name == "train":
        return counts / counts.sum()
    raise ValueError(f"A named prior is one of {DECISION_PRIORS}; got {name!r}.")


def trained_prior(class_counts, classification_loss):
    """The class prior the network's own posterior assumes: uniform for
    ``classification_loss='logit_adjusted'``, the training frequencies otherwise."""
    return named_prior("balanced" if classification_loss == "logit_adjusted" else "train", class_counts)


def decision_prior_shift(decision_prior, class_counts, classification_loss):
    """Per-class factor ``decision_prior / trained_prior`` that turns the trained posterior
    into the decision prior's.

    The one definition of the shift: the estimators add its logarithm to the
    logits, and the ONNX export records that logarithm for the torch-free
    loader to add.

    Parameters
    ----------
    decision_prior : {'balanced', 'train'}, array-like of shape (n_classes,) or None
    class_counts : array-like of shape (n_classes,)
        The (possibly weighted) number of training texts of each class.
    classification_loss : str
        The loss the network was trained with; it sets the trained prior
        (see :func:`trained_prior`).

    Returns
    -------
    shift : ndarray of shape (n_classes,) or None
        None for ``decision_prior=None``: the logits stay as they are.
    """
    target = check_decision_prior(decision_prior, len(class_counts))
    if target is None:
        return None
    if isinstance(target, str):
        target = named_prior(target, class_counts)
    return target / trained_prior(class_counts, classification_loss)


def log_decision_prior_shift(decision_prior, class_counts, classification_loss):
    """``log(decision_prior / trained_prior)`` per class, zeros for ``decision_prior=None``:
    what is added to the logits (see :func:`decision_prior_shift`)."""
    shift = decision_prior_shift(decision_prior, class_counts, classification_loss)
    return np.zeros(len(class_counts)) if shift is None else np.log(shift)


def log_softmax(scores):
    """Row-wise log of :func:`softmax`, finite where a probability underflows to 0."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
