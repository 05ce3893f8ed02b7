"""The training callbacks: an interrupted fit keeps its best weights, a checkpoint resumes, the best epoch is restored."""

import numpy as np
import pytest
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from conftest import SELECTION, ValidationScoreAtEnd, validation_score_at_end
from sklearn_sharprecl import SharpReCLClassifier


class InterruptAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_interrupted_fit_keeps_the_best_weights(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(
        **{**fast_params, "max_epochs": 10, "lr": 3e-3, "random_state": 7, "criterion__n_neg": 20, **SELECTION},
        callbacks=[InterruptAfter(3), ValidationScoreAtEnd()],
    ).fit(X, y)
    scores = clf.net_.history[:, "valid_f1_macro"]
    assert len(scores) == 3
    # The interrupt came after a worse epoch, and the restored weights
    # reproduce the best epoch's validation score.
    assert int(np.argmax(scores)) != len(scores) - 1
    assert validation_score_at_end(clf) == pytest.approx(max(scores), abs=1e-12)


def test_fit_resumes_from_a_checkpoint_directory(fast_params, tickets, tmp_path):
    X, y = tickets

    def callbacks():
        checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
        return [checkpoint, LoadInitState(checkpoint)]

    first = SharpReCLClassifier(**{**fast_params, "max_epochs": 2}, callbacks=callbacks()).fit(X, y)
    assert (tmp_path / "params.pt").is_file()
    resumed = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, callbacks=callbacks()).fit(X, y)
    # The history of the first two epochs was loaded and one more epoch ran.
    assert len(resumed.net_.history) == 3
    assert resumed.net_.history[:2, "train_loss"] == first.net_.history[:, "train_loss"]


def test_best_epoch_is_restored_without_early_stopping(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(
        **{**fast_params, "max_epochs": 3, "lr": 3e-3, "random_state": 0, "criterion__n_neg": 20, **SELECTION},
        callbacks__early_stopping__patience=None, callbacks=[ValidationScoreAtEnd()],
    ).fit(X, y)
    scores = clf.net_.history[:, "valid_f1_macro"]
    assert len(scores) == 3  # no early stop
    # The final weights are the best epoch's, not the last epoch's.
    assert int(np.argmax(scores)) != len(scores) - 1
    assert validation_score_at_end(clf) == pytest.approx(max(scores), abs=1e-12)
    assert dict(clf.net_.callbacks_)["early_stopping"].patience is None
