"""Simple sampling and hard mixup: the balanced synthetic sets of SharpReCL.

For every class ``c`` the sampler builds ``n_pos`` synthetic positives and
``n_neg`` synthetic negatives from the batch pool (both views of every text plus
the class prototypes), paper Eq. 8-10. All classes are handled at once with
masked ``topk``/``multinomial`` over a ``(n_classes, n_pool)`` score matrix.
"""

import torch
import torch.nn.functional as F


def hard_count(n, hard_share, simple_sampling=True, hard_mixup=True):
    """How many of ``n`` synthetic samples are hard mixups.

    ``hard_share`` is the paper's schedule value ``0.5 + 0.5 t / T``; switching
    one component off gives the whole set to the other (Table 4 ablations).
    """
    if not hard_mixup:
        return 0
    if not simple_sampling:
        return n
    return int(round(hard_share * n))


def _draw(pool, score, member, n, n_hard, k_hard, mixup_alpha):
    """Draw ``n`` samples per row of ``member``: ``n_hard`` mixups of pairs among
    the ``k_hard`` highest-``score`` members, the rest uniformly among members.

    pool : (n_pool, dim); score, member : (n_classes, n_pool).
    Returns (n_classes, n, dim).
    """
    n_classes = member.shape[0]
    parts = []
    if n_hard > 0:
        k = min(k_hard, pool.shape[0])
        top = score.masked_fill(~member, float("-inf")).topk(k, dim=1).indices
        # A class may have fewer than k members: pick pairs only among its
        # valid (finite-score, sorted first) entries.
        n_valid = member.sum(1).clamp(max=k, min=1)
        pick = (torch.rand(n_classes, n_hard, 2, device=pool.device) * n_valid[:, None, None]).long()
        pair = top.gather(1, pick.view(n_classes, -1)).view(n_classes, n_hard, 2)
        lam = torch.distributions.Beta(mixup_alpha, mixup_alpha).sample((n_classes, n_hard, 1))
        lam = lam.to(device=pool.device, dtype=pool.dtype)
        mixed = lam * pool[pair[..., 0]] + (1.0 - lam) * pool[pair[..., 1]]
        parts.append(F.normalize(mixed, dim=-1))
    if n - n_hard > 0:
        idx = torch.multinomial(member.float(), n - n_hard, replacement=True)
        parts.append(pool[idx])
    if not parts:
        return pool.new_zeros(n_classes, 0, pool.shape[1])
    return torch.cat(parts, dim=1)


def balanced_synthetic_sets(
    pool,
    labels,
    prototypes,
    *,
    n_pos=10,
    n_neg=500,
    k_hard=20,
    hard_share=0.5,
    mixup_alpha=0.5,
    simple_sampling=True,
    hard_mixup=True,
):
    """Build the balanced synthetic positive and negative sets of every class.

    Parameters
    ----------
    pool : Tensor of shape (n_pool, dim)
        L2-normalised embeddings of the batch (all views) and the prototypes.
    labels : LongTensor of shape (n_pool,)
    prototypes : Tensor of shape (n_classes, dim)
        L2-normalised class prototypes, used to rank hardness (Eq. 9).
    n_pos, n_neg : int
        Size of each class's positive and negative set.
    k_hard : int
        Hard candidates per class: the ``k_hard`` same-class members least
        similar to the prototype (hard positives) and the ``k_hard`` other-class
        members most similar to it (hard negatives).
    hard_share : float in [0, 1]
        Share of each set made of hard mixups (the rest is simple sampling).
    mixup_alpha : float
        Mixing weights are drawn from ``Beta(mixup_alpha, mixup_alpha)``;
        mixed vectors are re-normalised (Eq. 10).
    simple_sampling, hard_mixup : bool
        Ablation switches (paper Table 4).

    Returns
    -------
    pos_sets : Tensor of shape (n_classes, n_pos, dim)
    neg_sets : Tensor of shape (n_classes, n_neg, dim)
    """
    n_classes = prototypes.shape[0]
    same = labels[None, :] == torch.arange(n_classes, device=labels.device)[:, None]
    sim = prototypes @ pool.T
    common = dict(k_hard=k_hard, mixup_alpha=mixup_alpha)
    pos = _draw(
        pool, -sim, same, n_pos,
        hard_count(n_pos, hard_share, simple_sampling, hard_mixup), **common,
    )
    neg = _draw(
        pool, sim, ~same, n_neg,
        hard_count(n_neg, hard_share, simple_sampling, hard_mixup), **common,
    )
    return pos, neg
