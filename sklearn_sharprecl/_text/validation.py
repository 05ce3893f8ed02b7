"""Input validation for text estimators: 1-D strings in, a clear error otherwise."""

import numpy as np
from sklearn.utils import check_consistent_length
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d


def check_texts(X):
    """Return ``X`` as a list of ``str``.

    Accepts a 1-D sequence of strings (list, tuple, ndarray, pandas Series) or
    a single-column 2-D array or DataFrame (what imbalanced-learn samplers
    hand on). Empty and whitespace-only strings are valid texts.
    """
    if X is None:
        raise ValueError("X must be a collection of strings, got None.")
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "X must be a collection of strings, got a single string; wrap it in a list: [text]."
        )
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"X is a DataFrame with {X.shape[1]} columns; pass the text column itself, "
                "e.g. X['text'], or select it in a ColumnTransformer."
            )
        X = X.iloc[:, 0]
    try:
        arr = np.asarray(X, dtype=object)
    except ValueError as exc:  # ragged nesting numpy cannot shape
        raise TypeError(f"X must be a 1-D collection of strings: {exc}") from exc
    if arr.ndim == 2:
        if arr.shape[1] != 1:
            raise ValueError(
                f"X must be 1-D or a single column, got shape {arr.shape}; pass the text column "
                "itself, e.g. X[:, 0]."
            )
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"X must be a 1-D collection of strings, got an array of shape {arr.shape}.")
    if arr.shape[0] == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    is_str = np.fromiter((isinstance(t, str) for t in arr), dtype=bool, count=arr.shape[0])
    if not is_str.all():
        i = int(np.flatnonzero(~is_str)[0])
        raise TypeError(
            f"X must contain only strings; element {i} is {arr[i]!r} of type "
            f"{type(arr[i]).__name__}. Convert or drop non-text values first."
        )
    texts = arr.tolist()
    _check_encodable(texts)
    return texts


def _check_encodable(texts):
    """Refuse texts holding lone surrogates, which no tokenizer can encode."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        for i, text in enumerate(texts):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"X[{i}] is not valid Unicode: it holds the lone surrogate "
                    f"{text[exc.start]!r} at position {exc.start} (decoding bytes with "
                    "errors='surrogateescape' makes these). Decode the file with its real "
                    "encoding, or with errors='replace'."
                ) from None


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
