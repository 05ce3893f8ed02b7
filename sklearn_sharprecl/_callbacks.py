"""skorch callbacks that drive the SharpReCL schedule and model selection."""

import copy
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, log_loss
from sklearn.utils.class_weight import compute_sample_weight
from skorch.callbacks import Callback

from ._data import TokenizedTexts


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


class LinearProbeHead(Callback):
    """Start fine-tuning from the classifier that fits the pretrained features (LP-FT).

    Kumar et al. (2022, "Fine-Tuning can Distort Pretrained Features"): while
    a randomly initialised head catches up, its gradients distort the
    pretrained features; starting from the head a linear probe fits changes
    them less. At the start of training the pooled features of the training
    texts (first view, evaluation mode, so without dropout) are computed once,
    and the classifier's weight ``W`` and bias are set to the minimiser of the
    criterion's classification loss (logit-adjusted by default) plus
    ``||W||^2 / (2 n)`` over the ``n`` texts: scikit-learn's
    ``LogisticRegression(C=1)`` objective, which it is exactly when the loss is
    cross-entropy. Full-batch L-BFGS from zero, in float64 on the CPU. Only
    at the start of a fit: a ``partial_fit`` that continues training keeps
    the head it has.

    Parameters
    ----------
    max_iter : int, default=500
        L-BFGS iterations at most; reaching it warns (``ConvergenceWarning``).
    tol : float, default=1e-7
        Stop when the gradient's largest entry is below ``tol``.

    Attributes
    ----------
    loss_ : float
        The probe's objective at its solution.
    n_iter_ : int
        L-BFGS iterations run.
    """

    def __init__(self, max_iter=500, tol=1e-7):
        self.max_iter = max_iter
        self.tol = tol

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if len(net.history):  # continued training: the head is no longer the random one
            return
        # One view, sorted by length so that batches pad least; labels follow.
        data, _ = TokenizedTexts([X.views[0]], X.y).sorted_by_length()
        # net.transform returns the features on the CPU; the loss follows them
        # there (its buffers, e.g. the log prior, live on the net's device),
        # in float64, which not every accelerator has.
        features = torch.from_numpy(net.transform(data)).double()
        labels = data.y
        loss_fn = copy.deepcopy(net.criterion_.classification).to("cpu", torch.float64)
        classifier = net.module_.classifier
        weight = features.new_zeros(classifier.weight.shape).requires_grad_()
        bias = features.new_zeros(classifier.bias.shape).requires_grad_()
        optimizer = torch.optim.LBFGS(
            [weight, bias], max_iter=self.max_iter, tolerance_grad=self.tol,
            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe",
        )
        l2 = 0.5 / len(labels)

        def objective():
            loss = loss_fn(features @ weight.T + bias, labels)
            return loss + l2 * weight.pow(2).sum()

        def closure():
            optimizer.zero_grad()
            loss = objective()
            loss.backward()
            return loss

        optimizer.step(closure)
        self.n_iter_ = optimizer.state[weight]["n_iter"]
        if self.n_iter_ >= self.max_iter:
            warnings.warn(
                f"head_init='linear_probe': L-BFGS reached max_iter={self.max_iter} before the "
                "probe converged; fine-tuning starts from its last iterate.",
                ConvergenceWarning,
                stacklevel=2,
            )
        with torch.no_grad():
            self.loss_ = float(objective())
            classifier.weight.copy_(weight)
            classifier.bias.copy_(bias)
