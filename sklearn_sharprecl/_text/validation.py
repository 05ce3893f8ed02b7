"""Input validation for text estimators: labels and sample weights (the texts' check,
which the torch-free loader shares, is :func:`sklearn_sharprecl._shared.texts.check_texts`)."""

import numpy as np
from sklearn.utils import check_consistent_length
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d


def _first_missing(values):
    """Index of the first None or float NaN in an object sequence, or None."""
    missing = np.fromiter(
        (v is None or (isinstance(v, float) and v != v) for v in values), dtype=bool, count=len(values)
    )
    return int(np.flatnonzero(missing)[0]) if missing.any() else None


def check_labels(y, n_samples):
    """Return ``y`` as a 1-D array after the checks a classifier needs."""
    if y is None:
        raise ValueError("y is required: this classifier is supervised.")
    if isinstance(y, (list, tuple)):
        # np.asarray would turn a NaN among strings into the label 'nan'.
        first = _first_missing(y)
        if first is not None:
            raise ValueError(f"Input y contains NaN or None (first at index {first}).")
    y = column_or_1d(np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=None))
    check_consistent_length(np.empty(n_samples), y)
    if y.dtype == object:
        first = _first_missing(y)
        if first is not None:
            raise ValueError(f"Input y contains NaN or None (first at index {first}).")
    elif np.issubdtype(y.dtype, np.floating) and np.isnan(y).any():
        raise ValueError("Input y contains NaN.")
    check_classification_targets(y)
    return y


def check_sample_weight(sample_weight, n_samples):
    """``sample_weight`` as a float64 array of ``n_samples`` non-negative finite numbers, or None."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {weights.shape}; expected ({n_samples},), one "
                         "weight per text.")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if not np.any(weights > 0):
        raise ValueError("sample_weight is zero for every text; nothing to train on.")
    return weights
