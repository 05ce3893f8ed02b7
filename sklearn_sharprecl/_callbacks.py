"""skorch callbacks that drive the SharpReCL schedule and model selection."""

import numpy as np
from sklearn.metrics import f1_score, log_loss
from sklearn.utils.class_weight import compute_sample_weight
from skorch.callbacks import Callback


def silent(*args, **kwargs):
    """A ``sink`` that prints nothing (picklable, unlike a lambda)."""


def macro_f1(net, X, y):
    """Validation macro-F1; ``X`` is the (cached) validation dataset."""
    return f1_score(y, net.predict(X), average="macro", zero_division=0)


def balanced_log_loss(net, X, y):
    """Validation log-loss with every class weighing the same (smooth where F1 jumps)."""
    proba = net.predict_proba(X)
    return log_loss(y, proba, sample_weight=compute_sample_weight("balanced", y),
                    labels=np.arange(proba.shape[1]))


class HardShareSchedule(Callback):
    """Raise the hard-mixup share linearly from ``start`` to 1 over the fit.

    Paper Section 3.5: ``0.5 + 0.5 t / T`` per epoch, so the synthetic sets
    get harder as the encoder gets better. With ``n_steps_per_epoch`` the same
    ramp runs per training step, rising smoothly instead of in ``max_epochs``
    jumps. Early stopping does not change ``T``. The history's ``hard_share``
    is the share of each epoch's first step (per epoch) or last step (per step).
    """

    def __init__(self, start=0.5, n_steps_per_epoch=None):
        self.start = start
        self.n_steps_per_epoch = n_steps_per_epoch

    def _set(self, net, step, n_steps):
        progress = step / (n_steps - 1) if n_steps > 1 else 1.0
        net.criterion_.hard_share = self.start + (1.0 - self.start) * min(progress, 1.0)

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ = len(net.history) - 1  # 0-based; the row of this epoch exists
        self.step_ = 0
        if self.n_steps_per_epoch is None:
            self._set(net, self.epoch_, net.max_epochs)
            net.history.record("hard_share", net.criterion_.hard_share)

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.n_steps_per_epoch is not None:
            n = self.n_steps_per_epoch
            self._set(net, self.epoch_ * n + self.step_, net.max_epochs * n)
            self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        if self.n_steps_per_epoch is not None:  # the share of the epoch's last step
            net.history.record("hard_share", net.criterion_.hard_share)


class RefreshAugmentedView(Callback):
    """Re-draw the augmented view of the training texts at each epoch but the first.

    Used when ``augment_each_epoch=True``; the view of the first epoch is the
    one made in ``fit``. ``augmenter`` gives a new draw at every call.
    """

    def __init__(self, texts, augmenter, to_ids):
        self.texts = texts
        self.augmenter = augmenter
        self.to_ids = to_ids

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if len(net.history) > 1:
            dataset_train.views[1] = self.to_ids(self.augmenter.augment(self.texts))

    def on_train_end(self, net, **kwargs):
        # Do not pickle the training texts into the fitted model.
        self.texts = None
