"""The SharpReCL training objective: ``L_CLS + mu * L_CL`` (paper Eq. 12)."""

import torch
from torch import nn

from .loss import HardMixupContrastiveLoss, contrastive_class_weight, make_classification_loss
from .multilabel_loss import make_multilabel_loss
from .sampling import balanced_synthetic_sets


class SharpReCLLoss(nn.Module):
    """Classification loss plus the (balanced) contrastive loss.

    The defaults here are the estimator's: its routed ``criterion__<name>``
    parameters reach the ones it does not set itself.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training examples per class; gives the priors of both branches.
    classification_loss : {'logit_adjusted', 'cross_entropy', 'focal', 'dice'}
        ``'logit_adjusted'`` carries the classification prior delta_CLS;
        ``'cross_entropy'`` is the paper's "w/o delta_CLS" (Table 7).
    contrastive : {'sharp', 'supcon'} or None
        ``'sharp'``: prototypes join the anchors and every class gets its
        balanced synthetic set. ``'supcon'``: plain SupCon over the views
        (SCLCE, the "w/o SSHM" ablation). ``None``: classification only.
    mu, tau : float
        Contrastive weight and temperature.
    contrastive_prior : bool
        Weigh each anchor by ``delta_y = -log pi_y`` (delta_CL, Table 7).
    normalize_contrastive_prior : bool
        Scale ``delta`` to mean 1 over the training examples
        (:func:`~sklearn_sharprecl._network.loss.contrastive_class_weight`).
    absent_prototype_anchors : bool
        Whether the prototype of a class absent from the batch is an anchor.
        Such an anchor has no positive but copies of itself, so its term only
        pushes its prototype (and through ``proj_h`` the classifier row of a
        rare class) away from the batch; ``False`` keeps it as a contrast
        sample for the other anchors only.
    n_pos, n_neg, k_hard, mixup_alpha, simple_sampling, hard_mixup
        See :func:`balanced_synthetic_sets`.
    cl_normalization : {'positives', 'anchors'}
        See :class:`HardMixupContrastiveLoss`.
    focal_gamma : float
        Focusing parameter of the focal loss.
    label_prior : array-like of shape (n_labels,) or None
        For a multi-label target (``y`` a binary indicator matrix): each
        label's training frequency. The classification loss is then one
        binary loss per label (:mod:`~sklearn_sharprecl._network.multilabel_loss`)
        and ``class_counts`` are the labels' positive counts; the contrastive
        branch is single-label only. ``None``: a single-label target.

    Attributes
    ----------
    hard_share : float
        Share of hard mixups in the synthetic sets; set every epoch by
        :class:`~sklearn_sharprecl._network.callbacks.HardShareSchedule`.
    """

    def __init__(
        self,
        class_counts,
        *,
        classification_loss="logit_adjusted",
        contrastive="sharp",
        mu=1.0,
        tau=0.3,
        contrastive_prior=True,
        normalize_contrastive_prior=False,
        absent_prototype_anchors=True,
        n_pos=10,
        n_neg=500,
        k_hard=20,
        mixup_alpha=0.5,
        simple_sampling=True,
        hard_mixup=True,
        cl_normalization="positives",
        focal_gamma=2.0,
        label_prior=None,
    ):
        super().__init__()
        if label_prior is not None:
            if contrastive is not None:
                raise ValueError("The contrastive branch is single-label; a multi-label target "
                                 "trains with contrastive=None.")
            self.classification = make_multilabel_loss(classification_loss, label_prior)
        else:
            self.classification = make_classification_loss(
                classification_loss, class_counts, focal_gamma=focal_gamma
            )
        self.contrastive = contrastive
        self.mu = mu
        self.contrastive_loss = HardMixupContrastiveLoss(tau=tau, normalization=cl_normalization)
        self.contrastive_prior = contrastive_prior
        self.absent_prototype_anchors = absent_prototype_anchors
        self.register_buffer(
            "class_weight", contrastive_class_weight(class_counts, normalize_contrastive_prior)
        )
        self.sampling = dict(
            n_pos=n_pos,
            n_neg=n_neg,
            k_hard=k_hard,
            mixup_alpha=mixup_alpha,
            simple_sampling=simple_sampling,
            hard_mixup=hard_mixup,
        )
        self.hard_share = 0.5
        self.contrastive_scale = 1.0

    def forward(self, logits, embeddings, prototypes, y, sample_weight=None):
        """Return a dict with the total ``loss`` and its two parts.

        ``logits`` and ``embeddings`` hold every view of the batch stacked
        view-major (``n_views * batch`` rows); ``y`` and ``sample_weight``
        have ``batch`` rows. A text's weight scales its classification terms
        and its views' anchor terms in the contrastive loss (the prototypes'
        anchor terms keep weight 1); see :func:`~sklearn_sharprecl._network.loss.weighted_mean`.
        """
        n_views = logits.shape[0] // y.shape[0]
        y_all = y.repeat(n_views, *([1] * (y.ndim - 1)))  # rows of a multi-label y too
        w_all = None if sample_weight is None else sample_weight.to(logits.dtype).repeat(n_views)
        cls = self.classification(logits, y_all, w_all)
        mu = self.mu * self.contrastive_scale
        if self.contrastive is None or mu == 0:
            return {"loss": cls, "classification": cls, "contrastive": torch.zeros_like(cls)}
        if self.contrastive == "supcon":
            cl = self.contrastive_loss(embeddings, y_all, anchor_weight=w_all)
        elif self.contrastive == "sharp":
            n_classes = prototypes.shape[0]
            pool = torch.cat([embeddings, prototypes])
            labels = torch.cat([y_all, torch.arange(n_classes, device=y.device)])
            pos, neg = balanced_synthetic_sets(
                prototypes @ pool.T, labels, hard_share=self.hard_share, **self.sampling
            )
            weight = self.class_weight if self.contrastive_prior else None
            anchor_mask = None
            if not self.absent_prototype_anchors:
                present = torch.zeros(n_classes, dtype=torch.bool, device=y.device)
                present[y] = True
                anchor_mask = torch.cat([torch.ones_like(y_all, dtype=torch.bool), present])
            anchor_weight = None
            if w_all is not None:
                anchor_weight = torch.cat([w_all, w_all.new_ones(n_classes)])
            cl = self.contrastive_loss(pool, labels, pos, neg, weight, anchor_mask, anchor_weight)
        else:
            raise ValueError(
                f"Unknown contrastive {self.contrastive!r}; expected 'sharp', 'supcon' or None."
            )
        return {"loss": cls + mu * cl, "classification": cls, "contrastive": cl}

