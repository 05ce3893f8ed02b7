import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import sharp_loss
from sklearn_sharprecl._network.sampling import MixupSet
from sklearn_sharprecl._network.loss import (
    DiceLoss,
    FocalLoss,
    HardMixupContrastiveLoss,
    LogitAdjustedCrossEntropy,
    contrastive_class_weight,
    make_classification_loss,
    smoothed_class_prior,
)


def reference_balanced_scl(anchors, labels, pos_sets, neg_sets, class_weight, tau, normalization):
    """Eq. 11 written plainly, one anchor and one target at a time."""
    a = anchors.double().tolist()
    pos = pos_sets.double().tolist()
    neg = neg_sets.double().tolist()
    labels = labels.tolist()

    def dot(u, v):
        return sum(x * y for x, y in zip(u, v))

    total = 0.0
    for i, zi in enumerate(a):
        c = labels[i]
        targets, is_pos = [], []
        for j, zj in enumerate(a):
            if j != i:
                targets.append(dot(zi, zj) / tau)
                is_pos.append(labels[j] == c)
        for zp in pos[c]:
            targets.append(dot(zi, zp) / tau)
            is_pos.append(True)
        for zn in neg[c]:
            targets.append(dot(zi, zn) / tau)
            is_pos.append(False)
        log_denominator = math.log(sum(math.exp(t) for t in targets))
        terms = [-(t - log_denominator) for t, p in zip(targets, is_pos) if p]
        term = sum(terms) / (len(terms) if normalization == "positives" else 1)
        weight = 1.0 if class_weight is None else float(class_weight[c])
        total += weight * term
    return total / len(a)


def _normalised(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1).float()


def _random_mixup_set(n_classes, size, n_pool, seed, simple_share=0.3):
    """Random pairs of pool indices and weights; some entries simple (i == j, lam = 1)."""
    g = torch.Generator().manual_seed(seed)
    first = torch.randint(0, n_pool, (n_classes, size), generator=g)
    second = torch.randint(0, n_pool, (n_classes, size), generator=g)
    lam = torch.rand(n_classes, size, generator=g)
    simple = torch.rand(n_classes, size, generator=g) < simple_share
    return MixupSet(first, torch.where(simple, first, second), torch.where(simple, 1.0, lam))


@pytest.mark.parametrize("normalization", ["positives", "anchors"])
@pytest.mark.parametrize("weighted", [True, False])
def test_contrastive_loss_matches_reference(normalization, weighted):
    n_classes, dim = 5, 8
    labels = torch.tensor([0, 1, 1, 2, 3, 3, 3, 4, 0, 2, 0, 1, 2, 3, 4])
    anchors = _normalised(len(labels), dim, seed=1)
    pos = _random_mixup_set(n_classes, 3, len(labels), seed=2)
    neg = _random_mixup_set(n_classes, 7, len(labels), seed=3)
    weight = -smoothed_class_prior([10, 5, 3, 2, 1]).log() if weighted else None
    loss = HardMixupContrastiveLoss(tau=0.3, normalization=normalization)(anchors, labels, pos, neg, weight)
    # The reference meets the synthetic samples as explicit vectors: this also
    # checks the Gram-matrix identity the loss uses instead.
    expected = reference_balanced_scl(
        anchors, labels, pos.vectors(anchors), neg.vectors(anchors), weight, 0.3, normalization
    )
    assert loss.item() == pytest.approx(expected, abs=1e-5)


def test_contrastive_gradient_is_the_same_on_every_call_with_two_threads():
    # A batch of 64 views and 6 prototypes with 512 negatives per class: the synthetic
    # similarities (70 x 512) are large enough for torch to spread the backward of an
    # indexing op over threads, where advanced indexing's accumulation order varied
    # from call to call and two fits with one random_state drifted apart.
    n_classes, n = 6, 70
    labels = torch.cat([torch.arange(64) % n_classes, torch.arange(n_classes)])
    anchors = _normalised(n, 128, seed=1)
    pos = _random_mixup_set(n_classes, 64, n, seed=2)
    neg = _random_mixup_set(n_classes, 512, n, seed=3)
    loss = HardMixupContrastiveLoss(tau=0.3)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        gradients = []
        for _ in range(30):
            leaf = anchors.clone().requires_grad_(True)
            loss(leaf, labels, pos, neg).backward()
            gradients.append(leaf.grad)
    finally:
        torch.set_num_threads(previous)
    assert all(torch.equal(gradients[0], g) for g in gradients[1:])


def test_mixup_set_vectors_are_normalised_convex_pairs():
    pool = _normalised(6, 4, seed=7)
    mixup_set = MixupSet(torch.tensor([[0, 2]]), torch.tensor([[1, 2]]), torch.tensor([[0.25, 1.0]]))
    vectors = mixup_set.vectors(pool)
    torch.testing.assert_close(vectors[0, 0], F.normalize(0.25 * pool[0] + 0.75 * pool[1], dim=0))
    torch.testing.assert_close(vectors[0, 1], pool[2])


def test_contrastive_loss_without_sets_is_supcon():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    anchors = _normalised(6, 4, seed=4)
    empty = anchors.new_zeros(3, 0, 4)
    loss = HardMixupContrastiveLoss(tau=0.5)(anchors, labels)
    expected = reference_balanced_scl(anchors, labels, empty, empty, None, 0.5, "positives")
    assert loss.item() == pytest.approx(expected, abs=1e-5)


def test_contrastive_loss_is_finite_for_an_anchor_without_positives():
    labels = torch.tensor([0, 1, 1])
    anchors = _normalised(3, 4, seed=5)
    loss = HardMixupContrastiveLoss(tau=0.1)(anchors, labels)
    assert torch.isfinite(loss)


def test_contrastive_loss_rejects_unknown_normalization():
    with pytest.raises(ValueError, match="normalization"):
        HardMixupContrastiveLoss(normalization="mean")(_normalised(2, 3), torch.tensor([0, 1]))


def test_logit_adjusted_ce_adds_log_prior():
    counts = [90, 9, 1]
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    prior = (torch.tensor(counts, dtype=torch.float32) + 1) / (sum(counts) + 3)
    expected = F.cross_entropy(logits + prior.log(), target)
    assert LogitAdjustedCrossEntropy(counts)(logits, target).item() == pytest.approx(expected.item(), abs=1e-6)


def test_focal_loss_reduces_to_ce_at_gamma_zero():
    logits, target = torch.randn(8, 4), torch.randint(0, 4, (8,))
    assert FocalLoss(gamma=0)(logits, target).item() == pytest.approx(
        F.cross_entropy(logits, target).item(), abs=1e-6
    )
    assert FocalLoss(gamma=2)(logits, target) < F.cross_entropy(logits, target)


def test_dice_loss_is_zero_only_for_confident_correct_predictions():
    target = torch.tensor([0, 1])
    confident = torch.tensor([[20.0, -20.0], [-20.0, 20.0]])
    wrong = -confident
    assert DiceLoss(alpha=0)(confident, target).item() == pytest.approx(0.0, abs=1e-6)
    assert DiceLoss(alpha=0)(wrong, target).item() > 0.4


def test_unknown_classification_loss():
    with pytest.raises(ValueError, match="classification_loss"):
        make_classification_loss("hinge", [1, 2])


def _criterion_inputs(seed=0, n_classes=4, batch=12, views=2, dim=16):
    torch.manual_seed(seed)
    y = torch.arange(batch) % n_classes
    logits = torch.randn(views * batch, n_classes, requires_grad=True)
    emb = F.normalize(torch.randn(views * batch, dim), dim=-1).requires_grad_()
    protos = F.normalize(torch.randn(n_classes, dim), dim=-1).requires_grad_()
    return logits, emb, protos, y


def test_classification_only_criterion_is_the_classification_loss():
    counts = [30, 10, 5, 1]
    logits, emb, protos, y = _criterion_inputs()
    out = sharp_loss(counts, contrastive=None)(logits, emb, protos, y)
    expected = LogitAdjustedCrossEntropy(counts)(logits, y.repeat(2))
    assert out["loss"].item() == pytest.approx(expected.item(), abs=1e-6)
    assert out["contrastive"].item() == 0


@pytest.mark.parametrize(
    "switch",
    [
        dict(contrastive="supcon"),
        dict(simple_sampling=False),
        dict(hard_mixup=False),
        dict(contrastive_prior=False),
        dict(cl_normalization="anchors"),
        dict(classification_loss="cross_entropy"),
        dict(classification_loss="focal"),
        dict(classification_loss="dice"),
        dict(tau=1.0),
        dict(mu=0.5),
    ],
)
def test_ablation_switches_change_the_loss(switch):
    counts = [30, 10, 5, 1]
    logits, emb, protos, y = _criterion_inputs()
    torch.manual_seed(1)
    full = sharp_loss(counts, n_neg=20)(logits, emb, protos, y)["loss"]
    torch.manual_seed(1)
    ablated = sharp_loss(counts, n_neg=20, **switch)(logits, emb, protos, y)["loss"]
    assert not torch.isclose(full, ablated)


def test_sharp_loss_sends_gradients_to_logits_embeddings_and_prototypes():
    logits, emb, protos, y = _criterion_inputs()
    sharp_loss([3, 3, 3, 3], n_neg=20)(logits, emb, protos, y)["loss"].backward()
    for t in (logits, emb, protos):
        assert t.grad is not None and t.grad.abs().sum() > 0


def test_contrastive_prior_weights_rare_classes_more():
    weight = sharp_loss([1000, 10]).class_weight
    assert weight[1] > weight[0] > 0
    np.testing.assert_allclose(weight.numpy(), -np.log(np.array([1001, 11]) / 1012), rtol=1e-6)


def test_normalized_contrastive_prior_has_mean_one_and_the_same_ratios():
    counts = [1250, 571, 261, 119, 54, 25]
    plain = contrastive_class_weight(counts)
    scaled = contrastive_class_weight(counts, normalize=True)
    prior = smoothed_class_prior(counts)
    assert float((prior * scaled).sum()) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose((scaled / plain).numpy(), float(scaled[0] / plain[0]), rtol=1e-6)
    # Two classes at ratio 50: unscaled, the mean weight is about 0.1.
    assert float((smoothed_class_prior([2165, 43]) * contrastive_class_weight([2165, 43])).sum()) < 0.15


def test_anchor_mask_averages_over_the_kept_anchors_only():
    anchors = _normalised(10, 8)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1, 2, 3])
    loss = HardMixupContrastiveLoss(tau=0.5)
    mask = torch.ones(10, dtype=torch.bool)
    mask[-1] = False
    kept = loss(anchors, labels, anchor_mask=mask)
    # Mean over nine anchors of the per-anchor terms computed with all ten rows.
    total = loss(anchors, labels) * 10
    last_alone = loss(anchors, labels, anchor_mask=~mask)
    assert kept.item() == pytest.approx(((total - last_alone) / 9).item(), rel=1e-5)


def test_absent_prototypes_stop_being_anchors_only_when_asked():
    counts = [30, 10, 5, 1]
    logits, emb, protos, y = _criterion_inputs(n_classes=4)
    y_present = y % 3  # class 3 absent from the batch
    results = {}
    for anchors in (True, False):
        torch.manual_seed(1)
        results[anchors] = sharp_loss(counts, n_neg=20, absent_prototype_anchors=anchors)(
            logits, emb, protos, y_present)["contrastive"]
    assert not torch.isclose(results[True], results[False])
    # With every class present, the switch changes nothing.
    same = []
    for anchors in (True, False):
        torch.manual_seed(1)
        same.append(sharp_loss(counts, n_neg=20, absent_prototype_anchors=anchors)(
            logits, emb, protos, y)["contrastive"])
    assert torch.equal(same[0], same[1])
