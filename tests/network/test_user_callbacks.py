"""The user's skorch callbacks: which copy a fit trains with, and logging a fit to TensorBoard."""

import copy
import pickle

import numpy as np
import pytest
from skorch.callbacks import Callback, Checkpoint, EpochScoring, LoadInitState, TensorBoard

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._network.user_callbacks import copy_user_callbacks, shared_resources


class RecordEpochs(Callback):
    """Keeps the train loss of each epoch on itself."""

    def __init__(self):
        self.losses = []

    def on_epoch_end(self, net, **kwargs):
        self.losses.append(net.history[-1, "train_loss"])


class Handle:
    """A live resource: a lock, which neither deepcopy nor pickle can copy."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.lines = []


class LogToHandle(Callback):
    """Writes each epoch's train loss to a handle that cannot be deep-copied."""

    def __init__(self, handle):
        self.handle = handle

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        with self.handle.lock:
            self.handle.lines.append(net.history[-1, "train_loss"])


class Uncopyable(Callback):
    def __copy__(self):
        raise TypeError("no copies")

    def __deepcopy__(self, memo):
        raise TypeError("no copies")


# ------------------------------------------------------------------ the copy rule
def test_callbacks_are_deep_copied():
    scoring, recorder = EpochScoring("accuracy", name="acc"), RecordEpochs()
    copied = copy_user_callbacks([scoring, recorder])
    assert copied[0] is not scoring and (copied[0].scoring, copied[0].name) == ("accuracy", "acc")
    assert copied[1] is not recorder and copied[1].losses is not recorder.losses
    assert shared_resources([scoring, recorder]) == []


def test_callbacks_that_refer_to_each_other_still_do_in_the_copy(tmp_path):
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    copied_checkpoint, copied_loader = copy_user_callbacks([checkpoint, LoadInitState(checkpoint)])
    assert copied_checkpoint is not checkpoint
    assert copied_loader.checkpoint is copied_checkpoint


def test_a_resource_that_cannot_be_deep_copied_is_shared():
    handle = Handle()
    with pytest.raises(TypeError):
        copy.deepcopy(handle)
    callback = LogToHandle(handle)
    (copied,) = copy_user_callbacks([callback])
    assert copied is not callback and type(copied) is LogToHandle
    assert copied.handle is handle  # the resource is the user's, shared
    assert shared_resources([callback]) == [handle]


class Closable:
    """Copyable, but a handle to something outside: it has close()."""

    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


class Finishable:
    """Like a W&B run: copyable, and ended by finish()."""

    def finish(self):
        pass


@pytest.mark.parametrize("resource", [Closable(), Finishable()], ids=["close", "finish"])
def test_a_resource_with_close_or_finish_is_shared_even_when_it_could_be_copied(resource):
    copy.deepcopy(resource)  # no error
    callback = LogToHandle(resource)
    (copied,) = copy_user_callbacks([callback])
    assert copied.handle is resource


def test_a_callback_that_cannot_be_deep_copied_is_copied_shallowly_or_used_as_it_is():
    class NoDeepCopy(RecordEpochs):
        def __deepcopy__(self, memo):
            raise TypeError("no deep copies")

    no_deep, uncopyable, plain = NoDeepCopy(), Uncopyable(), RecordEpochs()
    copied = copy_user_callbacks([no_deep, ("u", uncopyable), plain])
    assert copied[0] is not no_deep and copied[0].losses is no_deep.losses
    assert copied[1] == ("u", uncopyable) and copied[1][1] is uncopyable
    assert copied[2] is not plain and copied[2].losses is not plain.losses  # the others: deep copies


def test_copy_user_callbacks_keeps_names_order_and_classes():
    handle = Handle()
    named = ("log", LogToHandle(handle))
    copied = copy_user_callbacks([named, RecordEpochs, EpochScoring("accuracy")])
    assert [type(c) for c in copied] == [tuple, type, EpochScoring]
    assert copied[0][0] == "log" and copied[0][1] is not named[1] and copied[0][1].handle is handle
    assert copied[1] is RecordEpochs
    assert copy_user_callbacks(None) == []


# ------------------------------------------------------------------ in a fit
def test_fit_leaves_the_users_callbacks_as_they_were(params, tickets):
    X, y = tickets
    recorder, handle = RecordEpochs(), Handle()
    logger = LogToHandle(handle)
    clf = SharpReCLClassifier(**{**params, "max_epochs": 2}, callbacks=[recorder, ("log", logger)]).fit(X, y)
    fitted = dict(clf.net_.callbacks_)
    # The deep-copyable callback trained as a copy: its state is the copy's.
    assert recorder.losses == [] and len(fitted["RecordEpochs"].losses) == 2
    # The other shares the handle, where the losses arrive, and keeps its state on its copy.
    assert fitted["log"] is not logger and fitted["log"].handle is handle
    assert fitted["log"].epochs_ == 2 and not hasattr(logger, "epochs_")
    np.testing.assert_allclose(handle.lines, fitted["RecordEpochs"].losses)
    # A second fit logs to the same handle again.
    clf.fit(X, y)
    assert len(handle.lines) == 4


def _scalars(log_dir):
    """Every scalar written under ``log_dir``, by tag: a list of (step, value)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = {}
    for run in sorted(p for p in log_dir.iterdir() if p.name.startswith("events.out.tfevents")):
        events = EventAccumulator(str(run)).Reload()
        for tag in events.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in events.Scalars(tag))
    return scalars


def test_tensorboard_logs_the_fit(params, tickets, tmp_path):
    from torch.utils.tensorboard import SummaryWriter  # the test extra installs tensorboard

    X, y = tickets
    writer = SummaryWriter(log_dir=str(tmp_path))
    with pytest.raises(TypeError):
        copy.deepcopy(writer)  # what the callbacks used to go through
    callback = TensorBoard(writer)
    clf = SharpReCLClassifier(**{**params, "max_epochs": 2, "validation_fraction": 0.2},
                              callbacks=[callback]).fit(X, y)
    assert dict(clf.net_.callbacks_)["TensorBoard"].writer is writer
    assert not hasattr(callback, "first_batch_")  # skorch's state went to the fit's copy
    scalars = _scalars(tmp_path)
    history = clf.net_.history
    assert [step for step, _ in scalars["Loss/train_loss"]] == [1, 2]
    np.testing.assert_allclose([v for _, v in scalars["Loss/train_loss"]],
                               history[:, "train_loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars["Loss/valid_loss"]],
                               history[:, "valid_loss"], rtol=1e-6)
    # skorch closes the writer after training (close_after_train=True); a refit logs
    # through the same writer, which reopens in its directory.
    clf.set_params(max_epochs=1).fit(X, y)
    assert dict(clf.net_.callbacks_)["TensorBoard"].writer is writer
    assert len(_scalars(tmp_path)["Loss/train_loss"]) == 3


def test_a_writer_left_open_is_shared_by_every_fit_and_not_saved(params, tickets, tmp_path):
    """With ``close_after_train=False`` the writer stays open, and so cannot be copied:
    every fit logs through the user's writer. pickle cannot write the model that holds
    it; save_pretrained leaves callbacks out of its format."""
    from torch.utils.tensorboard import SummaryWriter

    X, y = tickets
    writer = SummaryWriter(str(tmp_path / "logs"))
    clf = SharpReCLClassifier(**params, callbacks=[TensorBoard(writer, close_after_train=False)])
    for _ in range(2):
        clf.fit(X, y)
        assert dict(clf.net_.callbacks_)["TensorBoard"].writer is writer
    writer.add_scalar("after_fit", 1.0, global_step=0)  # still the user's to write to
    writer.flush()
    scalars = _scalars(tmp_path / "logs")
    assert len(scalars["Loss/train_loss"]) == 2 and "after_fit" in scalars
    with pytest.raises(TypeError):
        pickle.dumps(clf)
    clf.save_pretrained(tmp_path / "model")
    writer.close()
    restored = SharpReCLClassifier.load_pretrained(tmp_path / "model")
    assert restored.callbacks is None
    np.testing.assert_allclose(restored.predict_proba(X[:5]), clf.predict_proba(X[:5]), rtol=1e-5)


class TensorBoardPerFit(TensorBoard):
    """The recipe of docs/logging.md: skorch's TensorBoard with a writer of its own for each
    fit, in a new folder of ``log_dir``, so that scikit-learn's clone (searches,
    cross-validation) copies a folder name instead of a live writer."""

    def __init__(self, log_dir, **kwargs):
        super().__init__(writer=None, **kwargs)
        del self.writer  # skorch reads a callback's parameters from its attributes
        self.log_dir = log_dir

    def initialize(self):
        import os
        import time

        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(os.path.join(self.log_dir, f"fit-{os.getpid()}-{time.time_ns()}"))
        return super().initialize()


def test_cross_validation_logs_each_fit_to_its_own_folder(params, tickets, tmp_path):
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from torch.utils.tensorboard import SummaryWriter

    X, y = tickets
    writer = SummaryWriter(str(tmp_path / "shared"))
    with pytest.raises(TypeError):  # scikit-learn's clone deep-copies parameters: not a live writer
        clone(SharpReCLClassifier(**params, callbacks=[TensorBoard(writer)]))
    writer.close()
    callback = TensorBoardPerFit(str(tmp_path / "cv"))
    scores = cross_val_score(SharpReCLClassifier(**params, callbacks=[callback]), X, y,
                             cv=StratifiedKFold(2, shuffle=True, random_state=0))
    assert len(scores) == 2 and not hasattr(callback, "writer")
    folders = sorted((tmp_path / "cv").iterdir())
    assert len(folders) == 2
    for folder in folders:
        assert [step for step, _ in _scalars(folder)["Loss/train_loss"]] == [1]
