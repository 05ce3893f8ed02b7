import pytest
import torch
import torch.nn.functional as F

from sklearn_sharprecl._network.callbacks import HardShareSchedule
from conftest import synthetic_sets
from sklearn_sharprecl._network.sampling import hard_count, take


def block_pool(sizes, block=4, seed=0):
    """Pool whose class-c vectors live only in coordinates [c*block, (c+1)*block).

    Any mixup of same-class vectors stays in its class's block, so membership
    of synthetic samples can be read off their support.
    """
    g = torch.Generator().manual_seed(seed)
    n_classes = len(sizes)
    labels = torch.repeat_interleave(torch.arange(n_classes), torch.tensor(sizes))
    pool = torch.zeros(len(labels), n_classes * block)
    for c in range(n_classes):
        rows = labels == c
        pool[rows, c * block:(c + 1) * block] = torch.rand(int(rows.sum()), block, generator=g) + 0.1
    return F.normalize(pool, dim=1), labels


def support_class(vectors, n_classes, block=4):
    """Class owning each vector's support (-1 if it spans several blocks)."""
    mass = vectors.abs().view(*vectors.shape[:-1], n_classes, block).sum(-1) > 1e-6
    return torch.where(mass.sum(-1) == 1, mass.float().argmax(-1), torch.full(mass.shape[:-1], -1))


@pytest.mark.parametrize("hard_share", [0.0, 0.5, 1.0])
def test_sets_are_balanced_and_class_pure(hard_share):
    sizes = [40, 12, 3, 1, 1]  # long tail: two classes present only as a prototype
    pool, labels = block_pool(sizes)
    protos = pool[torch.tensor([0, 40, 52, 55, 56])]
    torch.manual_seed(0)
    pos, neg = synthetic_sets(
        protos @ pool.T, labels, n_pos=10, n_neg=50, k_hard=5, hard_share=hard_share
    )
    pos, neg = pos.vectors(pool), neg.vectors(pool)
    assert pos.shape == (5, 10, pool.shape[1]) and neg.shape == (5, 50, pool.shape[1])
    torch.testing.assert_close(pos.norm(dim=-1), torch.ones(5, 10))
    owner_pos, owner_neg = support_class(pos, 5), support_class(neg, 5)
    classes = torch.arange(5)[:, None]
    assert (owner_pos == classes).all(), "a positive left its class"
    assert ((owner_neg != classes) & (owner_neg >= 0)).all(), "a negative came from its own class"


def test_hard_samples_are_the_least_and_most_prototype_like():
    pool, labels = block_pool([6, 6], block=3)
    # The prototype of class 0 straddles both blocks, so other-class members
    # differ in how similar they are to it.
    protos = F.normalize(torch.tensor([[1.0, 0.2, 0.1, 0.5, 0.0, 0.3], [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]), dim=1)
    sim = protos @ pool.T
    pos, neg = synthetic_sets(sim, labels, n_pos=4, n_neg=4, k_hard=1, hard_share=1.0)
    pos, neg = pos.vectors(pool), neg.vectors(pool)
    least_similar_same = pool[torch.where(labels == 0, sim[0], torch.inf).argmin()]
    most_similar_other = pool[torch.where(labels != 0, sim[0], -torch.inf).argmax()]
    # k_hard=1: every mixup mixes the single hard candidate with itself.
    torch.testing.assert_close(pos[0], least_similar_same.expand(4, -1))
    torch.testing.assert_close(neg[0], most_similar_other.expand(4, -1))


def test_simple_sampling_only_draws_pool_members():
    pool, labels = block_pool([5, 5, 5])
    pos, neg = synthetic_sets(pool[[0, 5, 10]] @ pool.T, labels, n_pos=6, n_neg=6, hard_mixup=False)
    for mixup_set in (pos, neg):
        assert torch.equal(mixup_set.first, mixup_set.second)
        assert (mixup_set.lam == 1).all()
    same_class = labels[pos.first] == torch.arange(3)[:, None]
    assert same_class.all() and (labels[neg.first] != torch.arange(3)[:, None]).all()


def test_mixup_weights_follow_the_beta_distribution():
    pool, labels = block_pool([30, 30])
    torch.manual_seed(0)
    pos, _ = synthetic_sets(
        pool[[0, 30]] @ pool.T, labels, n_pos=4000, n_neg=1, hard_share=1.0, mixup_alpha=0.5
    )
    lam = pos.lam.flatten()
    # Beta(0.5, 0.5): mean 1/2, variance 1/8, U-shaped (mass near 0 and 1).
    assert lam.mean().item() == pytest.approx(0.5, abs=0.02)
    assert lam.var().item() == pytest.approx(0.125, abs=0.01)


def test_hard_count_follows_the_switches():
    assert hard_count(10, 0.5) == 5
    assert hard_count(10, 1.0) == 10
    assert hard_count(10, 0.5, simple_sampling=False) == 10
    assert hard_count(10, 0.9, hard_mixup=False) == 0


class _Net:
    """The attributes of a skorch net the schedule reads and writes."""

    def __init__(self, max_epochs, batch_size=4):
        from skorch.history import History

        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.history = History()
        self.criterion_ = type("Criterion", (), {"hard_share": None})()


def test_hard_share_schedule_rises_from_half_to_one():
    net, schedule, shares = _Net(max_epochs=5), HardShareSchedule(), []
    schedule.on_train_begin(net, X=range(10))
    for _ in range(5):
        net.history.new_epoch()
        schedule.on_epoch_begin(net)
        shares.append(net.criterion_.hard_share)
    assert shares == pytest.approx([0.5, 0.625, 0.75, 0.875, 1.0])
    assert net.history[:, "hard_share"] == pytest.approx(shares)


def test_hard_share_schedule_per_step_rises_along_the_same_line():
    net, schedule, shares = _Net(max_epochs=2, batch_size=4), HardShareSchedule(per_step=True), []
    schedule.on_train_begin(net, X=range(10))  # 10 texts in batches of 4: 3 steps per epoch
    for _ in range(2):
        net.history.new_epoch()
        schedule.on_epoch_begin(net)
        for _ in range(3):
            schedule.on_batch_begin(net, training=True)
            shares.append(net.criterion_.hard_share)
            schedule.on_batch_begin(net, training=False)  # validation batches leave it
            assert net.criterion_.hard_share == shares[-1]
        schedule.on_epoch_end(net)
    assert shares == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert net.history[:, "hard_share"] == pytest.approx([0.7, 1.0])  # each epoch's last step


def test_take_is_advanced_indexing_in_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    matrix = torch.randn(7, 5, generator=g, dtype=torch.float64)
    index = torch.randint(0, 7, (3, 11), generator=g)  # repeated indices

    def gradient(read):
        leaf = matrix.clone().requires_grad_(True)
        out = read(leaf)
        out.backward(torch.arange(out.numel(), dtype=torch.float64).view_as(out))
        return out.detach(), leaf.grad

    for read, indexed in [
        (lambda m: take(m, index), lambda m: m[index]),  # rows of a matrix
        (lambda m: take(m[:, 0], index), lambda m: m[:, 0][index]),  # a vector
        (lambda m: take(m.reshape(-1), index * 5 + index % 5), lambda m: m[index, index % 5]),  # pairs
    ]:
        (value, grad), (expected_value, expected_grad) = gradient(read), gradient(indexed)
        torch.testing.assert_close(value, expected_value, rtol=0, atol=0)
        torch.testing.assert_close(grad, expected_grad)
