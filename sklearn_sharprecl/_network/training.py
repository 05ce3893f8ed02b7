"""One fit of the network: datasets, net, training, and nothing of training left behind."""

from dataclasses import replace

import numpy as np

from .._text.data import tokenize
from .._text.training_data import training_datasets
from ..auto import resolve_head_init
from .build import build_net
from .seeding import seeded_torch


def fit_network(settings, data, rng, second_view):
    """Train a new net on ``data`` (a :class:`~sklearn_sharprecl._text.training_data.TrainingData`).

    Returns the fitted attributes it decides: ``net_``, ``class_counts_``
    (weight sums with sample weights) and ``head_init_``. Nothing else is
    changed, so the estimator can take them all at once, or none when this
    raises.
    """
    params = settings.params
    torch_seed = rng.randint(2**31 - 1)

    def to_ids(texts):
        return tokenize(settings.tokenizer, texts, params["max_length"], params["truncation"])

    train_set, valid_set, augmentation, weights = training_datasets(
        data, to_ids, validation_fraction=params["validation_fraction"], second_view=second_view, rng=rng)
    n_classes = len(data.classes)
    counts = np.bincount(train_set.y.numpy(), weights=weights, minlength=n_classes)
    class_counts = counts if weights is not None else counts.astype(np.int64)
    texts_per_class = np.bincount(train_set.y.numpy(), minlength=n_classes)
    head_init = resolve_head_init(params["head_init"], texts_per_class, bool(params["accelerate"]))
    net = build_net(
        replace(settings, head_init=head_init),
        n_classes=n_classes, class_counts=class_counts, valid_set=valid_set,
        augmentation=augmentation, train_lengths=train_set.lengths())
    with seeded_torch(torch_seed):
        net.initialize()
        net.partial_fit(train_set, y=None)
    drop_training_state(net)
    return {"net_": net, "class_counts_": class_counts, "head_init_": head_init}


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
