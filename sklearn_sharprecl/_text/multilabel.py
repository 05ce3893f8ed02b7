"""Multi-label targets: recognised, checked and counted, scikit-learn's way.

A multi-label ``y`` is a binary indicator matrix of shape (n_samples, n_labels)
(dense or sparse), as ``MultiLabelBinarizer`` gives; ``classes_`` are then
``np.arange(n_labels)``, as scikit-learn's multi-label estimators have them.
A list of label lists is refused with the line that converts it.
"""

import numpy as np
from sklearn.utils.multiclass import type_of_target

_BINARIZE = ("Convert it with Y = sklearn.preprocessing.MultiLabelBinarizer().fit_transform(y) "
             "and keep the binarizer: its classes_ name the columns.")


def is_label_lists(y):
    """Whether ``y`` is a sequence of label sequences (lists, tuples, sets), the legacy
    multi-label form that scikit-learn refuses.

    Nested lists of numbers or bools of equal length are a matrix (an
    indicator matrix written as lists), not label lists.
    """
    if hasattr(y, "to_numpy") and getattr(y, "ndim", 1) == 1:  # a pandas Series
        y = y.to_numpy()
    if isinstance(y, np.ndarray) and y.dtype != object:
        return False
    if not isinstance(y, (list, tuple, np.ndarray)) or len(y) == 0:
        return False
    if not any(isinstance(item, (list, tuple, set, frozenset, np.ndarray)) for item in y):
        return False
    try:
        array = np.asarray(y)
    except ValueError:  # ragged
        return True
    return not (array.ndim == 2 and array.dtype.kind in "biuf")


def refuse_label_lists(y, name="y"):
    """Raise the error for a list of label lists, pointing to ``MultiLabelBinarizer``."""
    if is_label_lists(y):
        raise ValueError(f"{name} is a sequence of label lists; a multi-label {name} is a binary "
                         f"indicator matrix of shape (n_samples, n_labels), as in scikit-learn. "
                         + _BINARIZE)


def is_multilabel(y):
    """Whether ``y`` is a 2-D target of more than one column (an indicator matrix or not)."""
    if hasattr(y, "toarray") or hasattr(y, "tocsr"):  # scipy sparse
        return y.shape[1] > 1 if len(y.shape) == 2 else False
    if is_label_lists(y):
        return False
    array = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    return array.ndim == 2 and array.shape[1] > 1


def check_label_matrix(y, n_samples, name="y"):
    """``y`` as an int64 binary indicator matrix of ``n_samples`` rows.

    Rows without any label (all zeros) are allowed, as in scikit-learn; the
    checks of the columns are :func:`check_label_columns`'.
    """
    if hasattr(y, "toarray"):
        y = y.toarray()
    array = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if array.shape[0] != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{n_samples}, {array.shape[0]}]")
    kind = type_of_target(array, input_name=name)
    if kind == "multilabel-indicator" and not np.isin(array, (0, 1)).all():
        kind = "multiclass-multioutput"  # two values, but not 0 and 1
    if kind != "multilabel-indicator":
        raise ValueError(f"A 2-D {name} must be a binary indicator matrix (0/1 or bool, one column "
                         f"per label) for multi-label classification; got a {kind!r} target. "
                         "Multi-output classification (several multiclass columns) is not "
                         f"supported. If each row lists a text's labels: {_BINARIZE}")
    return array.astype(np.int64)


def label_counts(Y, sample_weight=None):
    """The (weighted) number of texts carrying each label: int64 without weights."""
    return Y.sum(axis=0) if sample_weight is None else sample_weight @ Y


def check_label_columns(Y, sample_weight=None):
    """Refuse a label that no text (of positive weight) carries, or that every such text
    carries: it could not be learnt."""
    counts = label_counts(Y, sample_weight)
    total = len(Y) if sample_weight is None else sample_weight.sum()
    weighted = " of positive sample_weight" if sample_weight is not None else ""
    for constant, what in ((counts <= 0, "no positive"), (counts >= total, "no negative")):
        if constant.any():
            raise ValueError(f"Label column(s) {np.flatnonzero(constant).tolist()} of y have {what} "
                             f"text{weighted}; every label needs positive and negative examples to "
                             "be learnt. Drop those columns from y.")
    return counts


def label_prior(counts, total):
    """Each label's smoothed training frequency ``(n_j + 1) / (n + 2)``, in (0, 1).

    The +1/+2 smoothing keeps the log-odds finite for a label that every text,
    or no text of a validation split's remainder, carries.
    """
    return (np.asarray(counts, dtype=np.float64) + 1.0) / (float(total) + 2.0)
