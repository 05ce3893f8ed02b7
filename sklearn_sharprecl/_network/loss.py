"""Classification losses and the balanced supervised-contrastive loss of SharpReCL.

Every loss here is a plain ``torch.nn.Module`` working on whole batches; none of
them loops over samples or classes.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .sampling import mixup_similarity


def weighted_mean(losses, sample_weight=None):
    """Mean of per-example ``losses``, each scaled by its sample weight if given.

    The mean is over the batch, not over the weights: a weight of 2 counts an
    example twice, a weight of 0 removes its term, unit weights give the
    unweighted mean exactly.
    """
    return losses.mean() if sample_weight is None else (losses * sample_weight).mean()


def smoothed_class_prior(class_counts):
    """Class prior ``pi_c = (n_c + 1) / (n + C)``.

    The +1 smoothing keeps ``log pi`` finite for a class that is absent from the
    training split (possible after a validation split of a one-example class).
    """
    counts = torch.as_tensor(class_counts, dtype=torch.float32)
    return (counts + 1.0) / (counts.sum() + counts.numel())


def contrastive_class_weight(class_counts, normalize=False):
    """Contrastive anchor weight ``delta_c = -log pi_c`` (paper Eq. 11).

    With ``normalize=True`` the weights are scaled to mean 1 over the training
    examples (``sum_c pi_c delta_c = 1``): the prior then sets only the balance
    between classes, and ``mu`` means the same on every dataset (unscaled, the
    mean weight is about 0.1 on a two-class set at ratio 50 and about 4 with 52
    classes).
    """
    prior = smoothed_class_prior(class_counts)
    weight = -prior.log()
    if normalize:
        weight = weight / (prior * weight).sum()
    return weight


class LogitAdjustedCrossEntropy(nn.Module):
    """Cross-entropy on prior-compensated logits, ``CE(logits + log pi, y)``.

    Paper Eq. 6 (Menon et al., 2021). Training against ``logits + log pi`` makes
    the raw ``logits`` estimate the *balanced* posterior, so prediction uses the
    raw logits.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training examples per class.
    """

    def __init__(self, class_counts):
        super().__init__()
        self.register_buffer("log_prior", smoothed_class_prior(class_counts).log())

    def forward(self, logits, target, sample_weight=None):
        losses = F.cross_entropy(logits + self.log_prior, target, reduction="none")
        return weighted_mean(losses, sample_weight)


class CrossEntropy(nn.Module):
    """Plain cross-entropy (the paper's "w/o delta_CLS", Table 7), with sample weights."""

    def forward(self, logits, target, sample_weight=None):
        return weighted_mean(F.cross_entropy(logits, target, reduction="none"), sample_weight)


class FocalLoss(nn.Module):
    """Focal loss ``-(1 - p_y)^gamma log p_y`` (Lin et al., 2017)."""

    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target, sample_weight=None):
        log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        return weighted_mean(-((1.0 - log_p.exp()) ** self.gamma) * log_p, sample_weight)


class DiceLoss(nn.Module):
    """Self-adjusting dice loss for classification (Li et al., 2020, Eq. 12).

    ``1 - (2 (1-p)^alpha p + s) / ((1-p)^alpha p + 1 + s)`` with ``p`` the
    probability of the true class; ``alpha=0`` gives the plain soft dice.
    """

    def __init__(self, alpha=1.0, smooth=1.0):
        super().__init__()
        self.alpha = alpha
        self.smooth = smooth

    def forward(self, logits, target, sample_weight=None):
        p = F.softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        p = ((1.0 - p) ** self.alpha) * p
        return weighted_mean(1.0 - (2.0 * p + self.smooth) / (p + 1.0 + self.smooth), sample_weight)


def make_classification_loss(name, class_counts, focal_gamma=2.0):
    """Build the classification-branch loss named ``name``."""
    if name == "logit_adjusted":
        return LogitAdjustedCrossEntropy(class_counts)
    if name == "cross_entropy":
        return CrossEntropy()
    if name == "focal":
        return FocalLoss(gamma=focal_gamma)
    if name == "dice":
        return DiceLoss()
    raise ValueError(
        f"Unknown classification_loss {name!r}; expected one of "
        "'logit_adjusted', 'cross_entropy', 'focal', 'dice'."
    )


class HardMixupContrastiveLoss(nn.Module):
    """Balanced supervised-contrastive loss of SharpReCL (paper Eq. 11).

    Each anchor ``i`` (every view of every text, and every class prototype) is
    contrasted against the other anchors and against the synthetic set of its
    own class: ``n_pos`` synthetic positives and ``n_neg`` synthetic negatives.
    Its positives are the other anchors of its class plus the synthetic
    positives; its term is ``-log softmax(sim / tau)`` over those positives,
    weighted by the class-prior weight ``delta_y = -log pi_y``.

    With empty synthetic sets, no prototypes among the anchors and no weights
    this is exactly the SupCon loss of Khosla et al. (2020), which is how the
    ``contrastive='supcon'`` ablation uses it.

    Parameters
    ----------
    tau : float
        Temperature.
    normalization : {'positives', 'anchors'}, default='positives'
        How an anchor's sum over its positives is normalised.

        - ``'positives'`` divides by the anchor's number of positives (the
          authors' code and SupCon). Every anchor then weighs the same whatever
          the size of its class in the batch; this is the default because
          summing instead lets majority-class anchors, which have many more
          in-batch positives, dominate the loss, the very imbalance the
          method removes.
        - ``'anchors'`` divides the sum by the number of anchors, as Eq. 11
          is printed.

    Notes
    -----
    In both cases the loss is the mean over anchors of the weighted per-anchor
    terms (Eq. 11's ``sum_i 1/|D| ...``).
    """

    def __init__(self, tau=0.3, normalization="positives"):
        super().__init__()
        self.tau = tau
        self.normalization = normalization

    def forward(self, anchors, labels, positives=None, negatives=None, class_weight=None,
                anchor_mask=None, anchor_weight=None):
        """Compute the loss.

        Parameters
        ----------
        anchors : Tensor of shape (n_anchors, dim)
            L2-normalised embeddings (views and prototypes). The synthetic
            samples are mixups of these very vectors.
        labels : LongTensor of shape (n_anchors,)
        positives, negatives : MixupSet or None
            Each class's synthetic positives / negatives as pairs of anchor
            indices and mixing weights, shape (n_classes, set_size).
        class_weight : Tensor of shape (n_classes,) or None
            Per-class anchor weight (``delta``); ``None`` weighs all anchors 1.
        anchor_mask : BoolTensor of shape (n_anchors,) or None
            Which rows are anchors; the others are contrast samples only (they
            still appear in every anchor's denominator). ``None``: all rows.
        anchor_weight : Tensor of shape (n_anchors,) or None
            Per-anchor factor on top of ``class_weight`` (the sample weights
            of the views, 1 for the prototypes); ``None``: 1 for every row.
        """
        n = anchors.shape[0]
        gram = anchors @ anchors.T
        self_mask = torch.eye(n, dtype=torch.bool, device=anchors.device)
        sim = (gram / self.tau).masked_fill(self_mask, float("-inf"))
        positive = (labels[:, None] == labels[None, :]) & ~self_mask

        blocks, block_positive = [sim], [positive]
        for mixup_set, is_positive in ((positives, True), (negatives, False)):
            if mixup_set is None or mixup_set.lam.shape[1] == 0:
                continue
            blocks.append(mixup_similarity(gram, mixup_set, labels) / self.tau)
            block_positive.append(
                torch.full(
                    (n, mixup_set.lam.shape[1]), is_positive, dtype=torch.bool, device=anchors.device
                )
            )
        logits = torch.cat(blocks, dim=1)
        positive = torch.cat(block_positive, dim=1)

        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        # where(): 0 * -inf on the masked self-similarity would be NaN.
        pos_log_prob = torch.where(positive, log_prob, torch.zeros_like(log_prob)).sum(1)
        if self.normalization == "positives":
            per_anchor = -pos_log_prob / positive.sum(1).clamp(min=1)
        elif self.normalization == "anchors":
            per_anchor = -pos_log_prob
        else:
            raise ValueError(
                f"Unknown normalization {self.normalization!r}; "
                "expected 'positives' or 'anchors'."
            )
        if class_weight is not None:
            per_anchor = per_anchor * class_weight[labels]
        if anchor_weight is not None:
            per_anchor = per_anchor * anchor_weight
        if anchor_mask is not None:
            per_anchor = per_anchor[anchor_mask]
        return per_anchor.mean()
