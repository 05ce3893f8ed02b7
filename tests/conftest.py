"""Shared fixtures: a tiny randomly initialised BERT saved to disk, small corpora, fitted models."""

import re

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from transformers import BertConfig, BertModel, BertTokenizer

from sklearn_sharprecl._network.callbacks import macro_f1

from sklearn_sharprecl._text.synthetic import make_support_tickets


@pytest.fixture(scope="session")
def tickets():
    """~240 long-tailed support tickets, six classes."""
    return make_support_tickets(n_samples=240, imbalance_ratio=10, random_state=0)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory, tickets):
    """Directory of a 2-layer, hidden-32 BERT with a WordPiece vocabulary written here."""
    path = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w for t in tickets[0] for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    extra = ["what", "who", "how", "moon", "far", "is", "the"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(words + extra))
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # The vocabulary file positionally: its keyword is vocab_file in transformers 4, vocab in 5.
    tokenizer = BertTokenizer(str(path / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    return str(path)


# The settings the model-selection tests were written under: a validation
# split (off by default) and the constant-LR, dropout-0.1 training whose seeds
# give a best epoch that is not the last.
SELECTION = {"validation_fraction": 0.1, "callbacks__lr_schedule": None, "module__dropout": 0.1}


@pytest.fixture
def fast_params(tiny_encoder):
    """Constructor arguments for a fast fit on the tiny encoder."""
    return dict(
        encoder=tiny_encoder,
        max_length=32,
        batch_size=16,
        max_epochs=2,
        criterion__n_neg=40,
        lr=1e-3,
        random_state=0,
        # The unit tests compare numbers across fits and formats: fp32 on every CPU.
        precision="fp32",
    )


@pytest.fixture
def params(tiny_encoder):
    """A one-epoch fit on the tiny encoder (a fraction of a second)."""
    return dict(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1,
                criterion__n_neg=40, lr=1e-3, random_state=0, precision="fp32")


@pytest.fixture(scope="module")
def ten_per_class(tickets):
    """At most 10 tickets per class (59 texts, six classes, the rarest with 9)."""
    texts, labels = tickets
    idx = np.sort(np.concatenate([np.flatnonzero(labels == c)[:10] for c in np.unique(labels)]))
    return [texts[i] for i in idx], labels[idx]


@pytest.fixture(scope="module")
def fitted_with_validation(tiny_encoder, tickets):
    """A one-epoch fit on every ticket with a validation split (``validation_fraction=0.1``)."""
    from sklearn_sharprecl import SharpReCLClassifier

    X, y = tickets
    return SharpReCLClassifier(
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1, criterion__n_neg=20, random_state=0,
        validation_fraction=0.1,  # so that there are validation texts it must not keep
    ).fit(X, y)


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(autouse=True)
def _torch_threads(request):
    """One torch thread for the tiny-encoder tests (thread start-up dominates such
    small matmuls); the integration tests on MiniLM keep every core."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class CountEpochs(Callback):
    """A user callback with state: counts the epochs it sees."""

    def __init__(self, epochs=0):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


class ValidationScoreAtEnd(Callback):
    """Macro-F1 of the weights the fit ends with, on its own validation split.

    Runs after the estimator's callbacks, so after early stopping has restored
    the best epoch's weights: ``score_`` must then equal the best validation
    score in the history.
    """

    def on_train_end(self, net, X=None, y=None, **kwargs):
        _, valid = net.train_split(X)  # the estimator's predefined split
        self.score_ = macro_f1(net, valid, valid.y.numpy())


def fit_on_one_thread(clf, X, y):
    """``clf.fit(X, y)`` on one torch thread, as the per-test fixture sets (it acts after
    module fixtures): thread start-up dominates the tiny encoder's matmuls."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return clf.fit(X, y)
    finally:
        torch.set_num_threads(previous)


def validation_score_at_end(clf):
    """``score_`` of the fitted copy of :class:`ValidationScoreAtEnd` in ``clf``."""
    return dict(clf.net_.callbacks_)["ValidationScoreAtEnd"].score_


def sharp_loss(class_counts, **overrides):
    """``SharpReCLLoss`` at its defaults (the estimator's), with ``overrides``."""
    from sklearn_sharprecl._network.criterion import SharpReCLLoss

    return SharpReCLLoss(class_counts, **overrides)


def synthetic_sets(prototype_similarity, labels, hard_share=0.5, **overrides):
    """``balanced_synthetic_sets`` with the sampling settings of a default ``SharpReCLLoss``,
    with ``overrides``."""
    from sklearn_sharprecl._network.criterion import SharpReCLLoss
    from sklearn_sharprecl._network.sampling import balanced_synthetic_sets

    settings = SharpReCLLoss([1, 1]).sampling  # what the criterion passes on
    return balanced_synthetic_sets(prototype_similarity, labels, hard_share=hard_share,
                                   **{**settings, **overrides})


def pytest_collection_modifyitems(config, items):
    """The ``cuda`` marker is what makes a test CUDA-only: without a device it skips, saying why."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none here); benchmarks/gpu_check.sh runs it")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)
