"""The dropout view whose two passes share the lower blocks (``module__shared_view_layers``)."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._network.module import SharpReCLModule
from sklearn_sharprecl._text.data import PadCollator


def _batch(n_views, share_views):
    texts = [torch.tensor([2, 7, 8, 3]), torch.tensor([2, 9, 3])]
    items = [([ids] * n_views, torch.tensor(i), None) for i, ids in enumerate(texts)]
    return PadCollator(0, share_views=share_views)(items)[0]


def test_the_collator_sends_identical_views_once_only_when_asked():
    shared = _batch(2, share_views=True)
    assert shared["input_ids"].shape == (2, 4) and int(shared["view_copies"]) == 2
    assert _batch(2, share_views=False)["input_ids"].shape == (4, 4)
    # Different views (an augmenter's) are never merged.
    items = [([torch.tensor([2, 7, 3]), torch.tensor([2, 8, 3])], torch.tensor(0), None)]
    assert "view_copies" not in PadCollator(0, share_views=True)(items)[0]


@pytest.mark.parametrize("shared_layers", [0, 1])
def test_shared_views_compute_what_the_repeated_batch_computes_without_dropout(tiny_encoder, shared_layers):
    module = SharpReCLModule(tiny_encoder, n_classes=3, shared_view_layers=shared_layers).eval()
    repeated, shared = _batch(2, share_views=False), _batch(2, share_views=True)
    with torch.no_grad():
        expected = module(**repeated)
        got = module(**shared)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


class _BlockRows(Callback):
    """Counts the rows each transformer block processes in training steps."""

    def on_train_begin(self, net, **kwargs):
        self.rows = [0, 0]
        self._hooks = []
        for i, block in enumerate(net.module_.encoder.encoder.layer):
            def count(module, args, output, i=i):
                self.rows[i] += module.training * args[0].shape[0]
            self._hooks.append(block.register_forward_hook(count))

    def on_train_end(self, net, **kwargs):
        for hook in self._hooks:  # a fitted model must not keep a test's closure
            hook.remove()
        del self._hooks


def test_the_lower_block_runs_once_per_text_and_the_top_once_per_view(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1, "validation_fraction": None}

    def block_rows(**extra):
        clf = SharpReCLClassifier(**params, augment="dropout", **extra,
                                  callbacks=[("rows", _BlockRows())]).fit(X, y)
        return clf, dict(clf.net_.callbacks_)["rows"].rows

    _, rows = block_rows()
    assert rows == [2 * len(X), 2 * len(X)]
    clf, rows = block_rows(module__shared_view_layers=1)
    assert rows == [len(X), 2 * len(X)]
    # The two views still differ: the top block's dropout draws for each.
    assert clf.net_.history[0, "batches", 0]["contrastive_loss"] > 0
    assert np.isfinite(clf.predict_proba(X[:5])).all()


def test_the_views_of_a_shared_lower_block_differ_by_the_top_blocks_dropout(tiny_encoder):
    module = SharpReCLModule(tiny_encoder, n_classes=3, shared_view_layers=1).train()
    torch.manual_seed(0)
    features = module.encode(**_batch(2, share_views=True))
    first, second = features[:2], features[2:]
    assert not torch.allclose(first, second)
    features.sum().backward()
    assert module.encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_shared_view_layers_are_refused_with_too_few_blocks_or_with_train_layers(
        tiny_encoder, fast_params, tickets):
    with pytest.raises(ValueError, match="shared_view_layers=2 needs an encoder with more blocks"):
        SharpReCLModule(tiny_encoder, n_classes=3, shared_view_layers=2)
    X, y = tickets
    with pytest.raises(ValueError, match="cannot be combined with train_layers"):
        SharpReCLClassifier(**fast_params, train_layers=1, module__shared_view_layers=1).fit(X, y)
    with pytest.warns(UserWarning, match="module__shared_view_layers has no effect"):
        SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, augment=None,
                            module__shared_view_layers=1).fit(X, y)
