"""The input check of a collection of texts: 1-D strings in, a clear error otherwise.

Shared by the estimators and the torch-free ONNX loader, so that both accept the
same inputs and refuse the rest with the same errors (numpy only).
"""

import numpy as np


def check_texts(X):
    """Return ``X`` as a list of ``str``.

    Accepts a 1-D sequence of strings (list, tuple, ndarray, pandas Series) or
    a single-column 2-D array or DataFrame (what imbalanced-learn samplers
    hand on). Empty and whitespace-only strings are valid texts.

    Parameters
    ----------
    X : sequence of str of shape (n_samples,) or (n_samples, 1)

    Returns
    -------
    texts : list of str

    Raises
    ------
    TypeError
        For a single string, or an element that is not a ``str`` (named by
        its index).
    ValueError
        For None, no texts, more than one column, more than two dimensions,
        or a text holding a lone surrogate (named by its index).
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
