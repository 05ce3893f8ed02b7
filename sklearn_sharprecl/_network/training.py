"""One fit of the network: datasets, net, training, and nothing of training left behind."""

from dataclasses import replace

import numpy as np

from .._shared.thresholds import FALLBACK_THRESHOLD, f1_thresholds
from .._text.data import TokenizedTexts, tokenize
from .._text.multilabel import label_counts, label_prior
from .._text.data import training_datasets
from ..auto import resolve_head_init
from .build import build_net
from .seeding import seeded_torch


def fit_network(settings, data, rng, second_view):
    """Train a new net on ``data`` (a :class:`~sklearn_sharprecl._text.training_data.TrainingData`).

    Returns the fitted attributes it decides: ``net_``, ``class_counts_``
    (weight sums with sample weights) and ``head_init_``; for multi-label
    data also ``label_prior_`` and ``thresholds_`` (see :func:`label_thresholds`).
    Nothing else is changed, so the estimator can take them all at once, or
    none when this raises.
    """
    params = settings.params
    torch_seed = rng.randint(2**31 - 1)

    def to_ids(texts):
        return tokenize(settings.tokenizer, texts, params["max_length"], params["truncation"])

    train_set, valid_set, augmentation, weights = training_datasets(
        data, to_ids, validation_fraction=params["validation_fraction"], second_view=second_view, rng=rng)
    n_classes = len(data.classes)
    y = train_set.y.numpy()
    multilabel = {}
    if data.multilabel:  # a text per label it carries
        class_counts, texts_per_class = label_counts(y, weights), y.sum(axis=0)
        total = len(y) if weights is None else weights.sum()
        multilabel = {"label_prior_": label_prior(class_counts, total)}
    else:
        counts = np.bincount(y, weights=weights, minlength=n_classes)
        class_counts = counts if weights is not None else counts.astype(np.int64)
        texts_per_class = np.bincount(y, minlength=n_classes)
    head_init = resolve_head_init(params["head_init"], texts_per_class, bool(params["accelerate"]))
    net = build_net(
        replace(settings, head_init=head_init),
        n_classes=n_classes, class_counts=class_counts, valid_set=valid_set,
        augmentation=augmentation, train_lengths=train_set.lengths(),
        label_prior=multilabel.get("label_prior_"))
    # The validation token ids: caching the frozen layers replaces the dataset's views.
    valid_ids = None if valid_set is None else valid_set.views[0]
    with seeded_torch(torch_seed):
        net.initialize()
        net.partial_fit(train_set, y=None)
    drop_training_state(net)
    if data.multilabel:
        multilabel["thresholds_"] = label_thresholds(net, valid_ids, valid_set, n_classes)
    return {"net_": net, "class_counts_": class_counts, "head_init_": head_init, **multilabel}


def label_thresholds(net, valid_ids, valid_set, n_labels):
    """Each label's F1-maximising threshold on the validation texts (the fitted net's
    probabilities); :data:`~sklearn_sharprecl._shared.thresholds.FALLBACK_THRESHOLD` for a
    label without positive validation texts, and for every label without validation texts."""
    if valid_set is None:
        return np.full(n_labels, FALLBACK_THRESHOLD)
    proba = net.predict_proba(TokenizedTexts([valid_ids]))
    return f1_thresholds(proba, valid_set.y.numpy(), valid_set.sample_weight_array())


def drop_training_state(net):
    """Forget what only training needed, so a saved model holds no training data.

    The validation texts (in ``train_split``), the frozen-state cache and
    AdamW's moment estimates (twice the model's size) serve further training
    only.
    """
    net.train_split = None
    net.module_.use_frozen_states(None)
    net.initialize_optimizer()
    accelerator = getattr(net, "accelerator", None)
    if accelerator is not None:
        # It holds the prepared optimizer, whose step the LR scheduler
        # wrapped: training state, and not picklable.
        accelerator.free_memory()
