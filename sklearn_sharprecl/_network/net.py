"""The skorch net that trains a :class:`SharpReCLModule` with :class:`SharpReCLLoss`."""

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EpochScoring, ProgressBar
from skorch.hf import AccelerateMixin

from .callbacks import (
    ContrastiveWarmup,
    HardShareSchedule,
    LinearProbeHead,
    RefreshAugmentedView,
    SelectBestEpoch,
    WarmupLinearDecay,
    balanced_log_loss,
    macro_f1,
)
from .partial import FreezeLowerLayers


class SharpReCLNet(NeuralNet):
    """skorch ``NeuralNet`` for the two-branch SharpReCL objective.

    Only the pieces that differ from skorch are overridden:

    - :meth:`get_default_callbacks` adds the SharpReCL schedule, the second
      view's refresh, the head's start and model selection to skorch's own,
      by name (``hard_share``, ``mu_warmup``, ``lr_schedule``, ``refresh_view``,
      ``head_init``, ``valid_f1_macro``, ``valid_balanced_log_loss``,
      ``early_stopping``, ``progress_bar``), so that
      ``callbacks__<name>__<param>`` reaches them.
    - :meth:`get_loss` feeds logits, contrastive embeddings, the module's
      prototypes, the labels and the batch's sample weights to the criterion
      in training, and records the two loss parts in the batch history;
      validation loss is the classification loss of the single view.
    - :meth:`evaluation_step` runs under ``torch.inference_mode``.
    - :meth:`infer` runs under autocast when ``precision`` asks for it.
    - :meth:`predict` is the argmax of ``predict_proba``, which skorch computes
      as ``predict_nonlinearity`` (the estimator passes a softmax) of the
      module's first output, the raw logits: the balanced posterior when the
      classification loss is logit-adjusted.

    Parameters
    ----------
    precision : {'fp32', 'bf16'}, default='fp32'
        ``'bf16'`` runs forward passes under ``torch.autocast`` in bfloat16.
    head_init : {'random', 'linear_probe'}, default='random'
        ``'linear_probe'`` adds the ``head_init`` callback
        (:class:`~sklearn_sharprecl._network.callbacks.LinearProbeHead`).
    second_view : {'dropout', 'augmented'}, default='dropout'
        ``'augmented'`` adds the ``refresh_view`` callback.
    train_layers : int or None, default=None
        Train only the top blocks: adds the ``freeze_lower_layers`` callback
        (:class:`~sklearn_sharprecl._network.partial.FreezeLowerLayers`).
    cache_frozen : bool, default=True
        Whether that callback caches the frozen blocks' output.
    multilabel : bool, default=False
        One independent label per output (``predict_nonlinearity`` a
        sigmoid): :meth:`predict` is then the indicator matrix of the
        probabilities of at least 0.5, and the validation scores are per label.
    **kwargs
        Everything :class:`skorch.NeuralNet` takes.
    """

    def __init__(self, *args, precision="fp32", head_init="random", second_view="dropout",
                 train_layers=None, cache_frozen=True, multilabel=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.head_init = head_init
        self.second_view = second_view
        self.train_layers = train_layers
        self.cache_frozen = cache_frozen
        self.multilabel = multilabel

    def get_default_callbacks(self):
        callbacks = [*super().get_default_callbacks(),
                     ("hard_share", HardShareSchedule),
                     ("mu_warmup", ContrastiveWarmup),
                     ("lr_schedule", WarmupLinearDecay)]
        if self.second_view == "augmented":
            callbacks.append(("refresh_view", RefreshAugmentedView))
        if self.train_layers is not None:  # before the probe, which then sees the cached states
            callbacks.append(("freeze_lower_layers", FreezeLowerLayers(
                self.train_layers, cache=self.cache_frozen,
                collate_fn=getattr(self, "iterator_valid__collate_fn", None))))
        if self.head_init == "linear_probe":
            callbacks.append(("head_init", LinearProbeHead))
        if self.train_split is not None:
            callbacks += [
                ("valid_f1_macro", EpochScoring(macro_f1, lower_is_better=False, name="valid_f1_macro")),
                ("valid_balanced_log_loss", EpochScoring(
                    balanced_log_loss, lower_is_better=True, name="valid_balanced_log_loss")),
                ("early_stopping", SelectBestEpoch),
            ]
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar))
        return callbacks

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        device_type = torch.device(self.device).type
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)

    def infer(self, x, **fit_params):
        # The sample weights travel with the batch for get_loss; the module never sees them.
        x = {k: v for k, v in x.items() if k != "sample_weight"}
        with self._autocast():
            outputs = super().infer(x, **fit_params)
        # Losses and probabilities in fp32 whatever the forward ran in.
        return tuple(out.float() for out in outputs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits, embeddings = y_pred[0], y_pred[1]
        y_true = torch.as_tensor(y_true).to(logits.device)
        if not training:
            return self.criterion_.classification(logits, y_true)
        prototypes = y_pred[3]
        sample_weight = None if X is None else X.get("sample_weight")
        if sample_weight is not None:
            sample_weight = torch.as_tensor(sample_weight).to(logits.device)
        parts = self.criterion_(logits, embeddings, prototypes, y_true, sample_weight)
        self.history.record_batch("classification_loss", parts["classification"].item())
        self.history.record_batch("contrastive_loss", parts["contrastive"].item())
        return parts["loss"]

    def evaluation_step(self, batch, training=False):
        if training:
            return super().evaluation_step(batch, training=True)
        with torch.inference_mode():
            return super().evaluation_step(batch, training=False)

    def predict(self, X):
        proba = self.predict_proba(X)
        return (proba >= 0.5).astype(np.int64) if self.multilabel else np.argmax(proba, axis=1)

    def transform(self, X):
        """Pooled sentence features of ``X``."""
        return torch.cat([out[2] for out in self.forward_iter(X, training=False)]).numpy()


class AcceleratedSharpReCLNet(AccelerateMixin, SharpReCLNet):
    """:class:`SharpReCLNet` driven by a Hugging Face ``accelerate.Accelerator``.

    Multi-GPU (DDP), mixed precision and gradient accumulation come from the
    Accelerator; launch the script with ``accelerate launch``.
    """

    def __getstate__(self):
        # The Accelerator holds process-group state: a fitted (unwrapped)
        # net is pickled without it and then predicts as a plain net.
        state = super().__getstate__()
        state["accelerator"] = None
        return state

    def _initialize_accelerator(self):
        # On several CPU processes Accelerate wraps every prepared module in
        # DistributedDataParallel, which refuses one without trainable
        # parameters, as SharpReCLLoss is: such a criterion is placed on the
        # device, not prepared (there is nothing of it to synchronise).
        idle = [name for name in self._criteria
                if not any(p.requires_grad for p in getattr(self, name + "_").parameters())]
        for name in idle:
            setattr(self, name + "_", getattr(self, name + "_").to(self.accelerator.device))
        criteria = self._criteria
        self._criteria = [name for name in criteria if name not in idle]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def get_iterator(self, *args, **kwargs):
        if self.accelerator is None:
            return SharpReCLNet.get_iterator(self, *args, **kwargs)
        return super().get_iterator(*args, **kwargs)

    def evaluation_step(self, batch, training=False):
        if self.accelerator is None:
            return SharpReCLNet.evaluation_step(self, batch, training=training)
        return super().evaluation_step(batch, training=training)
