"""Loaders for text classification CSV datasets and long-tailed subsampling.

Nothing here downloads: datasets are folders of ``train.csv`` / ``test.csv``
files (UTF-8, header ``text,label``, optional ``aug_text``), either given as a
path or found by name under a data home folder.
"""

# License: BSD 3 clause

import numbers
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.utils import check_sampling_strategy
# _safe_indexing despite its underscore is in scikit-learn's public API reference (rows of a
# list, array or DataFrame alike).
from sklearn.utils import Bunch, _safe_indexing, check_consistent_length, check_random_state
from sklearn.utils.multiclass import check_classification_targets

from ._text.synthetic import make_support_tickets

__all__ = ["get_data_home", "load_text_dataset", "make_long_tailed", "make_support_tickets"]

_SUBSETS = ("train", "test", "all")
_REQUIRED_COLUMNS = ("text", "label")


def get_data_home(data_home=None):
    """Return the folder that holds datasets looked up by name.

    Unlike :func:`sklearn.datasets.get_data_home`, the folder is not created:
    nothing is ever downloaded into it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. None means the ``SHARPRECL_DATA`` environment variable if
        set, else ``~/sharprecl_data``.

    Returns
    -------
    data_home : pathlib.Path
        The folder, with ``~`` expanded.

    Examples
    --------
    >>> from sklearn_sharprecl.datasets import get_data_home
    >>> get_data_home("/data/text").as_posix()
    '/data/text'
    """
    if data_home is None:
        data_home = os.environ.get("SHARPRECL_DATA") or "~/sharprecl_data"
    return Path(data_home).expanduser()


def _dataset_dir(name_or_path, data_home, files):
    """Resolve `name_or_path` to the dataset folder holding `files`."""
    path = Path(name_or_path).expanduser()
    candidates = [path]
    # A bare name (no separator) is also looked up under data_home; an
    # explicit path is taken as it is.
    if path.name == str(name_or_path) and not path.is_absolute():
        candidates.append(get_data_home(data_home) / path)
    for folder in candidates:
        if all((folder / f).is_file() for f in files):
            return folder
    looked = " and ".join(repr(str(c.absolute())) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(
        f"Dataset {str(name_or_path)!r} not found: looked in {looked} for "
        f"{', '.join(files)} (CSV, UTF-8, columns text,label). Nothing is "
        "downloaded: put the files there, pass the dataset folder's path, or set "
        "data_home / the SHARPRECL_DATA environment variable to the folder that "
        "contains the dataset folder."
    )


def _read_csv(filename):
    # keep_default_na=False: the texts "NA", "null", "None" stay strings (they
    # are real TREC/CR tokens), and empty fields are "" rather than NaN.
    frame = pd.read_csv(filename, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in _REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{str(filename)!r} lacks the column(s) {missing}; expected a header "
            f"with text,label (and optionally aug_text), got {list(frame.columns)}."
        )
    return frame


def _readme_section(readme, name):
    """Text of the Markdown section of `readme` whose heading is `name`."""
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8")
    heading = re.search(rf"^(#+)[ \t]+`?{re.escape(name)}`?[ \t]*$", text, flags=re.MULTILINE)
    if heading is None:
        return None
    # The section ends at the next heading of the same or a higher level.
    level = len(heading.group(1))
    end = re.compile(rf"^#{{1,{level}}}[ \t]", flags=re.MULTILINE)
    stop = end.search(text, heading.end())
    body = text[heading.start() : stop.start() if stop else len(text)]
    return body.strip()


def load_text_dataset(name_or_path, subset="train", data_home=None, return_X_y=False):
    """Load a text classification dataset stored as CSV files.

    The dataset is a folder with ``train.csv`` and ``test.csv``: UTF-8, written
    with Python's :mod:`csv` quoting, header ``text,label`` and optionally a
    third column ``aug_text`` (a precomputed augmented view of each text).
    Labels are read as strings. Nothing is ever downloaded.

    Parameters
    ----------
    name_or_path : str or path-like
        The dataset folder, or the name of a folder under `data_home`
        (e.g. ``"trec"``). A bare name is first tried relative to the current
        directory, then under `data_home`.
    subset : {"train", "test", "all"}, default="train"
        Which split to load; ``"all"`` concatenates train then test.
    data_home : str or path-like, default=None
        Folder holding dataset folders, for lookup by name. None means the
        ``SHARPRECL_DATA`` environment variable, else ``~/sharprecl_data``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : list of str
            The texts.
        target : ndarray of str, shape (n_samples,)
            The labels.
        target_names : list of str
            Sorted unique labels.
        aug_data : list of str
            The ``aug_text`` column, aligned with `data`. Only present when
            every CSV read has that column (for ``subset="all"`` both files
            must have it).
        DESCR : str
            A one-line summary (number of texts, classes, class counts),
            followed by the dataset's section of a ``README.md`` in the
            dataset folder's parent, when there is one.
        filename : str or list of str
            Path of the CSV read; for ``subset="all"``, the train and test
            paths.

    (data, target) : tuple if ``return_X_y`` is True
        The texts (list of str) and labels (ndarray of str).

    Raises
    ------
    FileNotFoundError
        If the dataset folder or its CSV files are not found; the message
        names the folders looked in and the files expected.
    ValueError
        If `subset` is invalid or a CSV lacks the ``text``/``label`` columns.

    Examples
    --------
    >>> from sklearn_sharprecl.datasets import load_text_dataset
    >>> trec = load_text_dataset("trec", data_home="../shared/datasets")  # doctest: +SKIP
    >>> len(trec.data), trec.target_names  # doctest: +SKIP
    (5452, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'])
    >>> X, y = load_text_dataset("../shared/datasets/trec", subset="test",
    ...                          return_X_y=True)  # doctest: +SKIP
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {_SUBSETS}, got {subset!r}.")
    splits = ("train", "test") if subset == "all" else (subset,)
    files = [f"{split}.csv" for split in splits]
    folder = _dataset_dir(name_or_path, data_home, files)
    filenames = [str(folder / f) for f in files]
    frames = [_read_csv(f) for f in filenames]
    frame = pd.concat(frames, ignore_index=True)

    data = frame["text"].tolist()
    target = frame["label"].to_numpy(dtype=str)
    if return_X_y:
        return data, target

    target_names, counts = np.unique(target, return_counts=True)
    summary = (
        f"{folder.name} ({subset}): {len(data)} texts, {len(target_names)} classes; "
        "class counts: "
        + ", ".join(f"{name}={count}" for name, count in zip(target_names, counts, strict=True))
        + "."
    )
    section = _readme_section(folder.parent / "README.md", folder.name)
    bunch = Bunch(
        data=data,
        target=target,
        target_names=target_names.tolist(),
        DESCR=summary if section is None else f"{summary}\n\n{section}",
        filename=filenames[0] if len(filenames) == 1 else filenames,
    )
    if all("aug_text" in f.columns for f in frames):
        bunch.aug_data = frame["aug_text"].tolist()
    return bunch


def make_long_tailed(X, y, imbalance_ratio, random_state=None, return_indices=False):
    """Subsample a dataset to an exponential long-tailed class profile.

    Classes are ranked by size (largest first; ties broken by label so the
    ranking is deterministic) and the class of rank ``i`` (0-based) of ``C``
    keeps ``n_i = int(n_max * imbalance_ratio ** (-i / (C - 1)))`` examples,
    at least 1 and never more than it has (Cui et al., 2019). ``n_max`` is
    the size of the largest class, which is kept whole.

    Parameters
    ----------
    X : list of str, ndarray or pandas object of shape (n_samples, ...)
        The texts (or any samples). The same container type is returned.
    y : array-like of shape (n_samples,)
        The labels.
    imbalance_ratio : float
        Ratio between the largest and the smallest target class size; >= 1.
        1 keeps every class at ``n_max`` (i.e. whole, as none is larger).
    random_state : int, RandomState instance or None, default=None
        Controls which examples are kept. An int gives the same subset on
        every call.
    return_indices : bool, default=False
        If True, also return the indices of the kept samples in `X`, e.g. to
        subsample an aligned ``aug_data`` list with the same rows.

    Returns
    -------
    X_lt : same type as X
        The kept samples, in their original order.
    y_lt : ndarray of shape (n_kept,)
        Their labels.
    indices : ndarray of int, shape (n_kept,)
        Indices of the kept samples in `X`, increasing. Only returned if
        `return_indices` is True.

    Raises
    ------
    ValueError
        If `imbalance_ratio` is not a real number >= 1, `y` has fewer than two
        classes, or `X` and `y` differ in length.

    Notes
    -----
    **Nesting.** For the same integer `random_state`, the subset kept for a
    larger ratio is contained in the one kept for a smaller ratio (e.g. ir=50
    within ir=20 within ir=10): one random key is drawn per sample,
    independently of the ratio, and each class keeps its ``n_i`` members with
    the smallest keys, i.e. a prefix of one fixed random permutation of the
    class. A RandomState instance gives nesting only if it is in the same
    state on each call.

    The per-class targets are validated with imbalanced-learn's
    ``check_sampling_strategy``, but the selection does not go through
    :func:`imblearn.datasets.make_imbalance`: it returns neither the kept
    indices nor a documented guarantee that two different targets select
    nested subsets (its ``RandomUnderSampler`` draws with
    ``RandomState.choice``, whose draws are an implementation detail).

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn_sharprecl.datasets import make_long_tailed
    >>> X = [f"text {i}" for i in range(300)]
    >>> y = ["a"] * 100 + ["b"] * 100 + ["c"] * 100
    >>> X_lt, y_lt = make_long_tailed(X, y, imbalance_ratio=10, random_state=0)
    >>> sorted(Counter(y_lt.tolist()).items())
    [('a', 100), ('b', 31), ('c', 10)]
    >>> type(X_lt).__name__
    'list'
    """
    if (
        isinstance(imbalance_ratio, bool)
        or not isinstance(imbalance_ratio, numbers.Real)
        or not np.isfinite(imbalance_ratio)
        or imbalance_ratio < 1
    ):
        raise ValueError(
            f"imbalance_ratio must be a finite real number >= 1, got {imbalance_ratio!r}."
        )
    check_consistent_length(X, y)
    y = np.asarray(y)
    check_classification_targets(y)
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    n_classes = len(classes)
    if n_classes < 2:
        raise ValueError(
            f"make_long_tailed needs at least 2 classes, got {n_classes} ({classes.tolist()})."
        )

    # Rank classes by size, largest first; np.unique sorted them by label and
    # a stable sort keeps that order among equal sizes.
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(n_classes, dtype=int)
    rank[order] = np.arange(n_classes)
    n_max = counts.max()
    target = (n_max * float(imbalance_ratio) ** (-rank / (n_classes - 1))).astype(int)
    target = np.clip(target, 1, counts)
    # Same contract as imblearn.datasets.make_imbalance (an under-sampling
    # dict that no class can exceed).
    check_sampling_strategy(
        dict(zip(classes.tolist(), target.tolist(), strict=True)), y, "under-sampling"
    )

    # One random key per sample, drawn whatever the ratio: ordering each
    # class by key gives one fixed random permutation per class, and keeping
    # its first n_i members makes subsets for larger ratios nested in those
    # for smaller ones (for a fixed seed).
    keys = check_random_state(random_state).random_sample(len(y))
    by_class_then_key = np.lexsort((keys, y_idx))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    cls = y_idx[by_class_then_key]
    position_in_class = np.arange(len(y)) - starts[cls]
    indices = np.sort(by_class_then_key[position_in_class < target[cls]])

    X_lt = _safe_indexing(X, indices)
    y_lt = y[indices]
    if return_indices:
        return X_lt, y_lt, indices
    return X_lt, y_lt
