"""Simple sampling and hard mixup: the balanced synthetic sets of SharpReCL.

For every class ``c`` the sampler builds ``n_pos`` synthetic positives and
``n_neg`` synthetic negatives from the batch pool (both views of every text plus
the class prototypes), paper Eq. 8-10. All classes are handled at once with
masked ``topk``/``multinomial`` over a ``(n_classes, n_pool)`` score matrix.

A synthetic sample is never materialised: it is a :class:`MixupSet` entry, a
pair of pool indices and a mixing weight. Simple samples are pairs of one index
with itself. Because every anchor of the contrastive loss is itself a pool
member, its similarity to any synthetic sample follows exactly from the pool's
Gram matrix (see :func:`mixup_similarity`), which is far cheaper than building
``n_classes * (n_pos + n_neg)`` vectors.
"""

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F


def take(values, index):
    """``values[index]`` along the first dimension, through ``index_select``.

    The backward of advanced indexing (``index_put_`` with accumulation) adds
    the gradients of repeated indices in whatever order the CPU threads reach
    them once it has enough elements to run in parallel, so two fits with one
    ``random_state`` drifted apart; ``index_select``'s backward (``index_add_``)
    adds them in a fixed order.
    """
    return values.index_select(0, index.reshape(-1)).view(*index.shape, *values.shape[1:])


class MixupSet(NamedTuple):
    """Synthetic samples ``normalize(lam * pool[first] + (1 - lam) * pool[second])``.

    Each field has shape ``(n_classes, set_size)``: row ``c`` is class ``c``'s set.
    """

    first: torch.Tensor
    second: torch.Tensor
    lam: torch.Tensor

    def vectors(self, pool):
        """The samples as vectors, shape ``(n_classes, set_size, dim)``."""
        lam = self.lam.unsqueeze(-1)
        return F.normalize(lam * take(pool, self.first) + (1.0 - lam) * take(pool, self.second), dim=-1)


def mixup_similarity(gram, mixup_set, rows):
    """Dot products of pool members ``rows`` with their class's synthetic samples.

    With ``G = pool @ pool.T`` and a sample ``m = (lam z_i + (1 - lam) z_j) / ||.||``:
    ``z_a . m = (lam G[a, i] + (1 - lam) G[a, j]) / sqrt(lam^2 G[i, i] +
    (1 - lam)^2 G[j, j] + 2 lam (1 - lam) G[i, j])`` -- exact, and only gathers.

    Parameters
    ----------
    gram : Tensor of shape (n_pool, n_pool)
    mixup_set : MixupSet
    rows : LongTensor of shape (n_pool,)
        Class of each pool member (whose set it meets).

    Returns
    -------
    Tensor of shape (n_pool, set_size)
    """
    first, second, lam = mixup_set
    diag = gram.diagonal()
    squared_norm = (
        lam**2 * take(diag, first)
        + (1.0 - lam) ** 2 * take(diag, second)
        + 2.0 * lam * (1.0 - lam) * take(gram.reshape(-1), first * gram.shape[1] + second)
    )
    first, second, lam = first[rows], second[rows], lam[rows]
    dot = lam * gram.gather(1, first) + (1.0 - lam) * gram.gather(1, second)
    return dot / take(squared_norm.clamp(min=1e-12).sqrt(), rows)


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


def _beta(alpha, shape):
    """``Beta(alpha, alpha)`` draws, reproducible under ``torch.manual_seed``.

    torch's Beta goes through Gamma sampling, which on a CPU takes ~20 ms for
    the ~20k weights of a 52-class step (over half the criterion's time);
    NumPy's is ~15x faster. Seeding it from torch's generator keeps runs
    deterministic for a ``random_state``.
    """
    seed = int(torch.randint(0, 2**62, (1,)))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=shape))


def _draw(score, member, n, n_hard, k_hard, mixup_alpha):
    """Draw ``n`` samples per row of ``member``: ``n_hard`` mixups of pairs among
    the ``k_hard`` highest-``score`` members, the rest uniformly among members.

    score, member : (n_classes, n_pool). Returns a :class:`MixupSet`.
    """
    n_classes, n_pool = member.shape
    device = score.device
    firsts, seconds, lams = [], [], []
    if n_hard > 0:
        k = min(k_hard, n_pool)
        top = score.masked_fill(~member, float("-inf")).topk(k, dim=1).indices
        # A class may have fewer than k members: pick pairs only among its
        # valid (finite-score, sorted first) entries.
        n_valid = member.sum(1).clamp(max=k, min=1)
        pick = (torch.rand(n_classes, 2 * n_hard, device=device) * n_valid[:, None]).long()
        pair = top.gather(1, pick)
        firsts.append(pair[:, :n_hard])
        seconds.append(pair[:, n_hard:])
        lams.append(_beta(mixup_alpha, (n_classes, n_hard)).to(device=device, dtype=score.dtype))
    if n - n_hard > 0:
        idx = torch.multinomial(member.float(), n - n_hard, replacement=True)
        firsts.append(idx)
        seconds.append(idx)
        lams.append(torch.ones(idx.shape, device=device, dtype=score.dtype))
    if not firsts:
        empty = torch.zeros(n_classes, 0, dtype=torch.long, device=device)
        return MixupSet(empty, empty, score.new_zeros(n_classes, 0))
    return MixupSet(torch.cat(firsts, 1), torch.cat(seconds, 1), torch.cat(lams, 1))


def balanced_synthetic_sets(
    prototype_similarity,
    labels,
    *,
    n_pos,
    n_neg,
    k_hard,
    hard_share,
    mixup_alpha,
    simple_sampling,
    hard_mixup,
):
    """Draw the balanced synthetic positive and negative sets of every class.

    Parameters
    ----------
    prototype_similarity : Tensor of shape (n_classes, n_pool)
        Similarity of each class prototype to each pool member; ranks hardness
        (Eq. 9). Only its order matters, so no gradient is needed.
    labels : LongTensor of shape (n_pool,)
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
    positives, negatives : MixupSet
        Of shapes ``(n_classes, n_pos)`` and ``(n_classes, n_neg)``.
    """
    n_classes = prototype_similarity.shape[0]
    sim = prototype_similarity.detach()
    same = labels[None, :] == torch.arange(n_classes, device=labels.device)[:, None]
    common = dict(k_hard=k_hard, mixup_alpha=mixup_alpha)
    positives = _draw(
        -sim, same, n_pos, hard_count(n_pos, hard_share, simple_sampling, hard_mixup), **common
    )
    negatives = _draw(
        sim, ~same, n_neg, hard_count(n_neg, hard_share, simple_sampling, hard_mixup), **common
    )
    return positives, negatives
