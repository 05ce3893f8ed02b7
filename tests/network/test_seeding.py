"""Seeding: a fit draws from its own generators and leaves the caller's global ones alone."""

import torch

from sklearn_sharprecl import CALoRAClassifier, SharpReCLClassifier


def test_fit_leaves_the_global_torch_generator_alone(fast_params, tickets):
    X, y = tickets
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, y)
    assert torch.equal(torch.rand(3), expected)
    # CALoRA's feature pass draws DataLoader seeds, so compare two caller seeds:
    # a fit that reseeded the global generator would make both streams equal.
    after = []
    for seed in (123, 456):
        torch.manual_seed(seed)
        CALoRAClassifier(clf, max_epochs=1, random_state=0).fit(X, y)
        after.append(torch.rand(3))
    assert not torch.equal(after[0], after[1])

