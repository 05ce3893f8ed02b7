"""The skorch net that trains a :class:`SharpReCLModule` with :class:`SharpReCLLoss`."""

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.hf import AccelerateMixin


class SharpReCLNet(NeuralNet):
    """skorch ``NeuralNet`` for the two-branch SharpReCL objective.

    Only the pieces that differ from skorch are overridden:

    - :meth:`get_loss` feeds logits, contrastive embeddings, the module's
      prototypes and the labels to the criterion in training, and records the
      two loss parts in the batch history; validation loss is the
      classification loss of the single view.
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
    **kwargs
        Everything :class:`skorch.NeuralNet` takes.
    """

    def __init__(self, *args, precision="fp32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        device_type = torch.device(self.device).type
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)

    def infer(self, x, **fit_params):
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
        parts = self.criterion_(logits, embeddings, prototypes, y_true)
        self.history.record_batch("classification_loss", parts["classification"].item())
        self.history.record_batch("contrastive_loss", parts["contrastive"].item())
        return parts["loss"]

    def evaluation_step(self, batch, training=False):
        if training:
            return super().evaluation_step(batch, training=True)
        with torch.inference_mode():
            return super().evaluation_step(batch, training=False)

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)

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

    def get_iterator(self, *args, **kwargs):
        if self.accelerator is None:
            return SharpReCLNet.get_iterator(self, *args, **kwargs)
        return super().get_iterator(*args, **kwargs)

    def evaluation_step(self, batch, training=False):
        if self.accelerator is None:
            return SharpReCLNet.evaluation_step(self, batch, training=training)
        return super().evaluation_step(batch, training=training)
