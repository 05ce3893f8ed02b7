"""Classification losses for multi-label targets: one binary problem per label.

The logit-adjusted binary loss shifts each label's logit by the label's
training log-odds, ``BCE(z + log(p / (1 - p)), y)``: the sigmoid of the
trained logit ``z`` then estimates the label's *balanced* posterior, the one
under which the label is as likely present as absent (Menon et al.'s logit
adjustment, per label). Plain binary cross-entropy is its ablation.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .loss import weighted_mean

MULTILABEL_LOSSES = ("logit_adjusted", "cross_entropy")


def _per_text(logits, target):
    """Per-text loss: the mean over labels of the binary cross-entropies."""
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none").mean(1)


class LogitAdjustedBinaryCrossEntropy(nn.Module):
    """Binary cross-entropy of each label on logits shifted by its training log-odds.

    Parameters
    ----------
    label_prior : array-like of shape (n_labels,)
        Each label's training frequency, in (0, 1) (smoothed, see
        :func:`~sklearn_sharprecl._text.multilabel.label_prior`).
    """

    def __init__(self, label_prior):
        super().__init__()
        prior = torch.as_tensor(label_prior, dtype=torch.float32)
        self.register_buffer("log_odds", (prior / (1 - prior)).log())

    def forward(self, logits, target, sample_weight=None):
        return weighted_mean(_per_text(logits + self.log_odds, target), sample_weight)


class BinaryCrossEntropy(nn.Module):
    """Plain binary cross-entropy of each label (the ablation of the logit adjustment)."""

    def forward(self, logits, target, sample_weight=None):
        return weighted_mean(_per_text(logits, target), sample_weight)


def make_multilabel_loss(name, label_prior):
    """The multi-label classification loss named ``name`` (see :data:`MULTILABEL_LOSSES`)."""
    if name == "logit_adjusted":
        return LogitAdjustedBinaryCrossEntropy(label_prior)
    if name == "cross_entropy":
        return BinaryCrossEntropy()
    raise ValueError(f"classification_loss={name!r} does not support multi-label y; use one of "
                     f"{MULTILABEL_LOSSES} (per-label binary losses).")
