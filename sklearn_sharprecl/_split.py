"""Stratified validation split that tolerates classes too small to split."""

import warnings

import numpy as np


def stratified_validation_split(y, validation_fraction, random_state, classes=None):
    """Indices ``(train, valid)`` holding out ``validation_fraction`` of each class.

    A class whose share rounds to zero examples (or that has a single example)
    stays wholly in training, so it still gets its prototype and its prior;
    a ``UserWarning`` names such classes once.

    Parameters
    ----------
    y : ndarray of int of shape (n_samples,)
    validation_fraction : float in (0, 1) or None
        ``None`` returns every index as training and an empty validation set.
    random_state : numpy.random.RandomState
    classes : ndarray of shape (n_classes,) or None
        The labels behind the codes in ``y``, to name classes in the warning.
    """
    n = len(y)
    if validation_fraction is None:
        return np.arange(n), np.arange(0)
    counts = np.bincount(y)
    n_valid = np.rint(validation_fraction * counts).astype(int)
    n_valid = np.where(counts >= 2, np.minimum(n_valid, counts - 1), 0)
    too_small = np.flatnonzero((counts > 0) & (n_valid == 0))
    if too_small.size:
        names = (too_small if classes is None else np.asarray(classes)[too_small]).tolist()
        warnings.warn(
            f"{too_small.size} class(es) have too few examples for a validation_fraction "
            f"of {validation_fraction} and are kept in training only: "
            f"{', '.join(map(repr, names[:10]))}{', ...' if too_small.size > 10 else ''}.",
            UserWarning,
            stacklevel=3,
        )
    # Rank every example within its class in a random order; the first
    # n_valid[c] of class c go to validation.
    perm = random_state.permutation(n)
    order = perm[np.argsort(y[perm], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n) - np.repeat(starts, counts)
    is_valid = rank < n_valid[y]
    return np.flatnonzero(~is_valid), np.flatnonzero(is_valid)
