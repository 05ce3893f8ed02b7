"""The data of a fit, checked and encoded.

:func:`check_training_data` turns what a user passes to ``fit`` into
:class:`TrainingData` (texts, encoded labels, weights, an optional second view
and validation set), refusing anything a later step would trip over, so a
``fit`` that starts training has data it can finish on.
:func:`~sklearn_sharprecl._text.data.training_datasets` then tokenises it once
into the datasets that go down to the net.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import LabelEncoder

from .multilabel import check_label_columns, check_label_matrix, is_multilabel, refuse_label_lists
from .._shared.texts import check_texts
from .validation import check_labels, check_sample_weight


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with their encoded labels and weights (``None``: every text weighs 1)."""

    texts: list
    y: np.ndarray
    weights: np.ndarray = None

    def kept(self):
        """The texts of positive weight: a text of weight 0 takes no part in training."""
        if self.weights is None:
            return self
        keep = np.flatnonzero(self.weights > 0)
        return LabelledTexts([self.texts[i] for i in keep], self.y[keep], self.weights[keep])


@dataclass(frozen=True)
class TrainingData:
    """What ``fit`` trains on: the training texts, their second view, a validation set."""

    classes: np.ndarray
    train: LabelledTexts
    aug_texts: list = None
    valid: LabelledTexts = None

    @property
    def multilabel(self):
        """Whether ``y`` is a multi-label indicator matrix (one column per label)."""
        return self.train.y.ndim == 2


def check_training_data(X, y, sample_weight=None, X_aug=None, X_val=None, y_val=None,
                        sample_weight_val=None):
    """Validate and encode the data of a ``fit``; nothing is tokenised yet.

    ``classes`` are the labels of ``y`` (scikit-learn's convention, whatever
    the weights); a class whose texts all weigh 0 is refused, since the model
    could neither learn it nor give it a prior. Texts of weight 0 are dropped.
    A multi-label ``y`` (a binary indicator matrix) has its column indices as
    ``classes`` (see :mod:`~sklearn_sharprecl._text.multilabel`); a list of
    label lists is refused.
    """
    texts = check_texts(X)
    refuse_label_lists(y)
    multilabel = is_multilabel(y)
    labels = None if multilabel else check_labels(y, len(texts))
    weights = check_sample_weight(sample_weight, len(texts))
    aug_texts = None if X_aug is None else check_texts(X_aug)
    if aug_texts is not None and len(aug_texts) != len(texts):
        raise ValueError(f"X_aug has {len(aug_texts)} texts but X has {len(texts)}; "
                         "give one augmented view per text.")
    if multilabel:
        return _check_multilabel_data(texts, y, weights, aug_texts, X_val, y_val, sample_weight_val)
    encoder = LabelEncoder().fit(labels)
    classes = encoder.classes_
    if len(classes) < 2:
        raise ValueError("The number of classes has to be greater than one; got "
                         f"{len(classes)} class ({classes.tolist()[0]!r}).")
    train = LabelledTexts(texts, encoder.transform(labels), weights)
    if weights is not None:
        _check_every_class_weighs(classes, train)
        kept = np.flatnonzero(weights > 0)
        aug_texts = None if aug_texts is None else [aug_texts[i] for i in kept]
        train = train.kept()
    valid = _check_validation_set(X_val, y_val, sample_weight_val, encoder)
    return TrainingData(classes, train, aug_texts, valid)


def _check_multilabel_data(texts, y, weights, aug_texts, X_val, y_val, sample_weight_val):
    """:func:`check_training_data` for an indicator matrix ``y``: ``classes`` are its column
    indices; a label without a positive text (of positive weight) is refused."""
    Y = check_label_matrix(y, len(texts))
    check_label_columns(Y, weights)
    train = LabelledTexts(texts, Y, weights)
    if weights is not None:
        kept = np.flatnonzero(weights > 0)
        aug_texts = None if aug_texts is None else [aug_texts[i] for i in kept]
        train = train.kept()
    valid = None
    if _has_validation_set(X_val, y_val, sample_weight_val):
        valid_texts = check_texts(X_val)
        refuse_label_lists(y_val, "y_val")
        if not is_multilabel(y_val) or np.shape(y_val)[1] != Y.shape[1]:
            raise ValueError(f"y_val must be an indicator matrix of the {Y.shape[1]} labels of y; "
                             f"got shape {np.shape(y_val)}.")
        valid = LabelledTexts(valid_texts, check_label_matrix(y_val, len(valid_texts), "y_val"),
                              check_sample_weight(sample_weight_val, len(valid_texts)))
    return TrainingData(np.arange(Y.shape[1]), train, aug_texts, valid)


def _has_validation_set(X_val, y_val, sample_weight_val):
    """Whether a validation set is given; refuses half of one."""
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError("sample_weight_val is given without X_val and y_val.")
        return False
    if X_val is None or y_val is None:
        raise ValueError("X_val and y_val must be given together.")
    return True


def _check_every_class_weighs(classes, data):
    weight_of = np.bincount(data.y, weights=data.weights, minlength=len(classes))
    empty = classes[weight_of == 0].tolist()
    if empty:
        raise ValueError(f"sample_weight is 0 for every text of class(es) {empty}; a class needs "
                         "weight to be learnt. Drop its texts from X and y to leave it out.")


def _check_validation_set(X_val, y_val, sample_weight_val, encoder):
    if not _has_validation_set(X_val, y_val, sample_weight_val):
        return None
    texts = check_texts(X_val)
    refuse_label_lists(y_val, "y_val")
    labels = check_labels(y_val, len(texts))
    unknown = sorted(set(labels.tolist()) - set(encoder.classes_.tolist()), key=str)
    if unknown:
        raise ValueError(f"y_val holds label(s) {unknown} that y does not have; the model can "
                         "only be validated on the classes it is trained on.")
    weights = check_sample_weight(sample_weight_val, len(texts))
    return LabelledTexts(texts, encoder.transform(labels), weights)
