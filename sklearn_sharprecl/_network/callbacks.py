"""The skorch callbacks of a SharpReCL fit: schedules, the second view, the head's start, model selection.

Each is one of the net's default callbacks (:meth:`SharpReCLNet.get_default_callbacks`)
under a fixed name, so a user reaches its parameters as skorch users do,
``SharpReCLClassifier(callbacks__lr_schedule__warmup_fraction=0.2)``, or
replaces or disables it as a whole (``callbacks__lr_schedule=None``: a
constant learning rate).
"""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, log_loss
from sklearn.multioutput import MultiOutputClassifier
from sklearn.utils.class_weight import compute_sample_weight
from skorch.callbacks import Callback, EarlyStopping, LRScheduler

from .._text.data import TokenizedTexts


def silent(*args, **kwargs):
    """A ``sink`` that prints nothing (picklable, unlike a lambda)."""


def macro_f1(net, X, y):
    """Validation macro-F1 (weighted by the validation texts' weights, if any);
    ``X`` is the (cached) validation dataset."""
    return f1_score(y, net.predict(X), average="macro", zero_division=0,
                    sample_weight=X.sample_weight_array())


def balanced_log_loss(net, X, y):
    """Validation log-loss with every class weighing the same (smooth where F1 jumps).

    For a multi-label ``y``: the mean over labels of each label's binary
    log-loss with its positive and negative texts weighing the same.
    """
    proba = net.predict_proba(X)
    if np.ndim(y) == 2:
        return _balanced_binary_log_loss(proba, np.asarray(y), X.sample_weight_array())
    weights = compute_sample_weight("balanced", y)
    if X.sample_weight is not None:
        weights = weights * X.sample_weight_array()
    return log_loss(y, proba, sample_weight=weights, labels=np.arange(proba.shape[1]))


def _balanced_binary_log_loss(proba, Y, sample_weight=None):
    losses = []
    for j in range(Y.shape[1]):
        if Y[:, j].min() == Y[:, j].max():  # one side absent: no balance to strike
            continue
        weights = compute_sample_weight("balanced", Y[:, j])
        if sample_weight is not None:
            weights = weights * sample_weight
        losses.append(log_loss(Y[:, j], proba[:, j], sample_weight=weights, labels=[0, 1]))
    return float(np.mean(losses)) if losses else float("nan")


def steps_per_epoch(net, n_texts):
    """Optimizer steps per epoch of ``n_texts`` training texts, in this process.

    With Accelerate on k processes each runs every k-th batch (the last ones
    padded to an even count), unless the Accelerator splits each batch
    across them (``split_batches``).
    """
    n_batches = -(-n_texts // net.batch_size)  # the last one short
    accelerator = getattr(net, "accelerator", None)
    if accelerator is None or accelerator.split_batches:
        return n_batches
    return -(-n_batches // accelerator.num_processes)


class HardShareSchedule(Callback):
    """Raise the hard-mixup share linearly from ``start`` to 1 over the fit.

    Paper Section 3.5: ``0.5 + 0.5 t / T`` per epoch, so the synthetic sets
    get harder as the encoder gets better. With ``per_step=True`` the same
    ramp runs per training step, rising smoothly instead of in ``max_epochs``
    jumps. Early stopping does not change ``T``. The history's ``hard_share``
    is the share of each epoch's first step (per epoch) or last step (per step).

    Parameters
    ----------
    start : float, default=0.5
        Share of hard mixups at the first epoch (or step).
    per_step : bool, default=False
        Raise the share at every training step instead of every epoch.
    """

    def __init__(self, start=0.5, per_step=False):
        self.start = start
        self.per_step = per_step

    def _set(self, net, step, n_steps):
        progress = step / (n_steps - 1) if n_steps > 1 else 1.0
        net.criterion_.hard_share = self.start + (1.0 - self.start) * min(progress, 1.0)

    def on_train_begin(self, net, X=None, **kwargs):
        self.n_steps_per_epoch_ = steps_per_epoch(net, len(X)) if self.per_step else None

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ = len(net.history) - 1  # 0-based; the row of this epoch exists
        self.step_ = 0
        if not self.per_step:
            self._set(net, self.epoch_, net.max_epochs)
            net.history.record("hard_share", net.criterion_.hard_share)

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.per_step:
            n = self.n_steps_per_epoch_
            self._set(net, self.epoch_ * n + self.step_, net.max_epochs * n)
            self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        if self.per_step:  # the share of the epoch's last step
            net.history.record("hard_share", net.criterion_.hard_share)


class ContrastiveWarmup(Callback):
    """Raise the contrastive term's weight from 0 to ``mu`` over the first ``fraction`` of the steps.

    The prototypes are projections of the classifier's rows, which start as
    noise (unless ``head_init`` fits them first); with many classes most
    anchors of a batch are prototypes, so the contrastive term can pull the
    encoder towards that noise before the classifier has learnt anything.
    The warm-up lets the classification loss shape the rows first. The
    scale is ``criterion_.contrastive_scale`` (1 outside the warm-up); the
    history's ``contrastive_scale`` is each epoch's last value.

    Parameters
    ----------
    fraction : float, default=0.0
        Share of the fit's training steps (``max_epochs`` epochs, as for the
        learning-rate schedule) over which the weight rises linearly. 0: no
        warm-up.
    """

    def __init__(self, fraction=0.0):
        self.fraction = fraction

    def on_train_begin(self, net, X=None, **kwargs):
        total = net.max_epochs * steps_per_epoch(net, len(X))
        self.n_warmup_steps_ = int(round(self.fraction * total))
        self.step_ = 0

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            n = self.n_warmup_steps_
            net.criterion_.contrastive_scale = min(self.step_ / n, 1.0) if n else 1.0
            self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        net.history.record("contrastive_scale", net.criterion_.contrastive_scale)

    def on_train_end(self, net, **kwargs):
        net.criterion_.contrastive_scale = 1.0


class WarmupLinearDecay(LRScheduler):
    """Linear warm-up over ``warmup_fraction`` of the fit's steps, then linear decay to 0.

    ``transformers.get_linear_schedule_with_warmup`` stepped every batch by
    skorch's ``LRScheduler``; the fit's length is ``max_epochs`` epochs of
    the training set, whether or not early stopping ends it sooner.

    Parameters
    ----------
    warmup_fraction : float, default=0.1
        Share of the steps spent warming up.
    """

    def __init__(self, warmup_fraction=0.1):
        from transformers import get_linear_schedule_with_warmup

        super().__init__(policy=get_linear_schedule_with_warmup, step_every="batch")
        self.warmup_fraction = warmup_fraction

    def get_params(self, deep=True):
        return {"warmup_fraction": self.warmup_fraction}

    @property
    def kwargs(self):
        # What LRScheduler passes to the policy: the steps of this fit.
        return self.policy_kwargs_

    def on_train_begin(self, net, X=None, **kwargs):
        total = net.max_epochs * steps_per_epoch(net, len(X))
        self.policy_kwargs_ = {"num_warmup_steps": int(round(self.warmup_fraction * total)),
                               "num_training_steps": total}
        super().on_train_begin(net, X=X, **kwargs)

    def on_train_end(self, net, **kwargs):
        # The scheduler holds the optimizer: training state only.
        self.lr_scheduler_ = None


class RefreshAugmentedView(Callback):
    """Re-draw the augmented second view of the training texts at each epoch but the first.

    Present whenever the second view comes from an augmenter; it acts only
    with ``each_epoch=True``. The estimator hands it the texts, the augmenter
    and the tokenisation at ``fit``.

    Parameters
    ----------
    each_epoch : bool, default=False
        Draw a fresh view every epoch instead of once per fit.
    """

    def __init__(self, each_epoch=False, texts=None, augmenter=None, to_ids=None):
        self.each_epoch = each_epoch
        self.texts = texts
        self.augmenter = augmenter
        self.to_ids = to_ids

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.each_epoch and len(net.history) > 1:
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
    texts (first view, evaluation mode, so without dropout) are computed once
    and scikit-learn's ``LogisticRegression(C=C)`` is fitted to them (with the
    fit's sample weights). For the logit-adjusted loss the log prior is then
    taken out of the intercept: ``CE(Wx + b + log pi, y)`` is plain
    cross-entropy with intercept ``b + log pi``, and the penalty does not
    involve the intercept, so this is the minimiser of the criterion's own
    objective. The focal and dice losses start from the cross-entropy probe.
    Only at the start of a fit: a ``partial_fit`` that continues training
    keeps the head it has.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength of the probe.
    max_iter : int, default=1000
        L-BFGS iterations at most; reaching it warns (``ConvergenceWarning``).

    Attributes
    ----------
    probe_ : LogisticRegression
        The fitted probe.
    """

    def __init__(self, C=1.0, max_iter=1000):
        self.C = C
        self.max_iter = max_iter

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if len(net.history):  # continued training: the head is no longer the random one
            return
        # One view, sorted by length so that batches pad least; labels follow.
        data, _ = TokenizedTexts([X.views[0]], X.y, X.sample_weight).sorted_by_length()
        features = net.transform(data).astype(np.float64)
        n_classes = net.module_.classifier.out_features
        probe = LogisticRegression(C=self.C, max_iter=self.max_iter)
        y = data.y.numpy()
        if y.ndim == 2:  # multi-label: one binary probe per label
            probe = MultiOutputClassifier(probe)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            probe.fit(features, y, sample_weight=data.sample_weight_array())
        for w in caught:  # anything else the fit warned about goes on to the user
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            # scikit-learn's own warning names lbfgs; this one names the setting to raise.
            warnings.warn(
                f"head_init='linear_probe': the probe reached max_iter={self.max_iter} before it "
                "converged; fine-tuning starts from it. Raise callbacks__head_init__max_iter.",
                ConvergenceWarning, stacklevel=2)
        self.probe_ = probe
        weight, bias = _full_rank_coefficients(probe, n_classes)
        # The logit-adjusted losses' offset: the log prior, or each label's log-odds.
        log_prior = getattr(net.criterion_.classification, "log_prior",
                            getattr(net.criterion_.classification, "log_odds", None))
        if log_prior is not None:
            bias = bias - log_prior.double().cpu().numpy()
        classifier = net.module_.classifier
        with torch.no_grad():
            classifier.weight.copy_(torch.as_tensor(weight))
            classifier.bias.copy_(torch.as_tensor(bias))


def _full_rank_coefficients(probe, n_classes):
    """``(W, b)`` with one row per class; scikit-learn stores one row for two classes.
    A multi-label probe's binary probes give one row per label."""
    if hasattr(probe, "estimators_"):
        return (np.vstack([p.coef_ for p in probe.estimators_]),
                np.concatenate([p.intercept_ for p in probe.estimators_]))
    weight, bias = probe.coef_, probe.intercept_
    if n_classes == 2 and weight.shape[0] == 1:
        # softmax([-z/2, z/2]) == sigmoid(z): the same posterior, one row per class.
        weight, bias = np.vstack([-weight / 2, weight / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    return weight, bias


class SelectBestEpoch(EarlyStopping):
    """Keep the best epoch on the validation split, and stop when it stops improving.

    skorch's ``EarlyStopping`` with ``load_best=True``, monitoring one of the
    validation scores the net records.

    Parameters
    ----------
    metric : {'f1_macro', 'balanced_log_loss'}, default='f1_macro'
        Validation macro-F1, or the validation log-loss with every class
        weighted equally, which moves smoothly where macro-F1 jumps with one
        of a handful of minority examples.
    patience : int or None, default=3
        Stop after this many epochs without a better score; ``None`` never
        stops early (the best epoch is still restored).
    """

    def __init__(self, metric="f1_macro", patience=3):
        self.metric = metric
        super().__init__(patience=patience, load_best=True, sink=silent)

    def get_params(self, deep=True):
        return {"metric": self.metric, "patience": self.patience}

    def initialize(self):
        if self.metric not in ("f1_macro", "balanced_log_loss"):
            raise ValueError(
                f"callbacks__early_stopping__metric must be 'f1_macro' or 'balanced_log_loss'; "
                f"got {self.metric!r}.")
        self.monitor = f"valid_{self.metric}"
        self.lower_is_better = self.metric == "balanced_log_loss"
        return super().initialize()

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self.best_model_weights_ = None  # a copy of the weights, for training only


#: The net's own callbacks that take user settings, by name.
DEFAULT_CALLBACKS = {
    "hard_share": HardShareSchedule,
    "mu_warmup": ContrastiveWarmup,
    "lr_schedule": WarmupLinearDecay,
    "refresh_view": RefreshAugmentedView,
    "head_init": LinearProbeHead,
    "early_stopping": SelectBestEpoch,
}
DEFAULT_CALLBACK_PARAMETERS = {
    "hard_share": ("start", "per_step"),
    "mu_warmup": ("fraction",),
    "lr_schedule": ("warmup_fraction",),
    "refresh_view": ("each_epoch",),
    "head_init": ("C", "max_iter"),
    "early_stopping": ("metric", "patience"),
}
