"""Hard data shapes train, interrupted fits keep their best weights, saved models are safe."""

import json
import warnings

import copy

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from conftest import SELECTION, ValidationScoreAtEnd, validation_score_at_end
from sklearn_sharprecl import SharpReCLClassifier


def assert_every_step_finite(clf):
    last = clf.net_.history[-1]
    print(f"\n{len(clf.classes_)} classes, counts {clf.class_counts_.min()}..{clf.class_counts_.max()}: "
          f"final train loss {last['train_loss']:.4f}, valid loss {last.get('valid_loss', float('nan')):.4f}")
    steps = [batch for epoch in clf.net_.history for batch in epoch["batches"] if "train_loss" in batch]
    assert len(steps) >= len(clf.net_.history)  # validation batches carry valid_loss instead
    for batch in steps:
        assert np.isfinite(batch["train_loss"]) and np.isfinite(batch["contrastive_loss"])


def test_one_example_class_and_many_classes(fast_params):
    rng = np.random.RandomState(0)
    vocab = "billing shipping technical account refund security moon far what who how is the".split()
    n_classes = 100
    # Class c has a few examples (one for the rarest); texts share a vocabulary.
    sizes = np.maximum(1, (8 * 200.0 ** (-np.arange(n_classes) / (n_classes - 1))).astype(int))
    y = np.repeat(np.arange(n_classes), sizes)
    X = [" ".join(rng.choice(vocab, 5)) + f" {vocab[c % len(vocab)]}" for c in y]
    assert sizes.min() == 1 and sizes.max() / sizes.min() >= 8
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 2, "criterion__n_neg": 30}).fit(X, y)
    assert_every_step_finite(clf)
    assert len(clf.classes_) == n_classes
    assert clf.prototypes_.shape[0] == n_classes
    assert clf.predict_proba(X[:3]).shape == (3, n_classes)
    np.testing.assert_array_equal(clf.class_counts_, sizes)  # every class is in training


def test_imbalance_ratio_200(fast_params, tickets):
    X, y = tickets
    y = np.asarray(y)
    keep = np.concatenate([np.flatnonzero(y != "security"), np.flatnonzero(y == "security")[:1]])
    X2 = [X[i] for i in keep] * 3
    y2 = np.concatenate([y[keep]] * 3)
    head = np.flatnonzero(y2 == "billing")
    X2 += [X2[i] for i in head] * 2  # billing: ~600 vs security: 3
    y2 = np.concatenate([y2, y2[head], y2[head]])
    counts = np.unique(y2, return_counts=True)[1]
    assert counts.max() / counts.min() >= 100
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "batch_size": 32}).fit(X2, y2)
    assert_every_step_finite(clf)
    np.testing.assert_array_equal(clf.class_counts_, counts)  # the three security texts included


def test_empty_whitespace_and_very_long_texts_are_valid(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, y)
    huge = "refund " * 200_000
    proba = clf.predict_proba(["", "   ", "\n\t", huge])
    assert proba.shape == (4, len(clf.classes_)) and np.isfinite(proba).all()


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


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    X, y = tickets
    return SharpReCLClassifier(
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1, criterion__n_neg=20, random_state=0,
        validation_fraction=0.1,  # so that there are validation texts it must not keep
    ).fit(X, y)


def test_safe_format_round_trip_is_identical(fitted, tickets, tmp_path):
    X, _ = tickets
    fitted.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "README.md", "config.json", "encoder", "history.json", "model.safetensors",
    ]
    loaded = SharpReCLClassifier.load_pretrained(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), fitted.predict_proba(X[:20]))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    assert loaded.get_params()["tau"] == fitted.tau
    assert len(loaded.net_.history) == len(fitted.net_.history)


def test_truncated_or_tampered_weights_are_refused(fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    weights = path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or modified"):
        SharpReCLClassifier.load_pretrained(path)
    tampered = bytearray(data)
    tampered[-10] ^= 0xFF
    weights.write_bytes(bytes(tampered))
    with pytest.raises(ValueError, match="truncated or modified"):
        SharpReCLClassifier.load_pretrained(path)


def test_damaged_config_is_refused(fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        SharpReCLClassifier.load_pretrained(path)
    (path / "config.json").write_text(json.dumps({"format": "pickle"}))
    with pytest.raises(ValueError, match="not a sklearn-sharprecl"):
        SharpReCLClassifier.load_pretrained(path)
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        SharpReCLClassifier.load_pretrained(tmp_path / "nowhere")


def test_version_mismatch_warns_for_both_formats(fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["versions"]["torch"] = "0.0.1"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match="saved with torch 0.0.1"):
        SharpReCLClassifier.load_pretrained(path)

    joblib.dump(fitted, tmp_path / "model.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        joblib.load(tmp_path / "model.joblib")  # same versions: silent
    fitted.versions_["transformers"] = "1.0"
    try:
        joblib.dump(fitted, tmp_path / "old.joblib")
    finally:
        fitted.versions_["transformers"] = __import__("transformers").__version__
    with pytest.warns(UserWarning, match="saved with transformers 1.0"):
        joblib.load(tmp_path / "old.joblib")


def test_model_saved_with_a_cuda_device_loads_on_the_cpu_without_one(fitted, tickets, tmp_path, monkeypatch):
    """The file of a model fitted on a GPU records device='cuda'; where no GPU is
    present, load_pretrained falls back to the CPU and predicts as before (the
    weights are stored device-free, so only the recorded setting differs)."""
    X, _ = tickets
    expected = fitted.predict_proba(X[:10])
    monkeypatch.setattr(fitted, "device", "cuda")
    path = fitted.save_pretrained(tmp_path / "model")
    monkeypatch.undo()
    assert json.loads((path / "config.json").read_text())["params"]["device"] == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert loaded.device == "cpu" and str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X[:10]), expected)


@pytest.mark.cuda
def test_model_pickled_on_cuda_loads_on_the_cpu(fast_params, tickets, tmp_path, monkeypatch):
    from skorch.exceptions import DeviceWarning

    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "device": "cuda"}).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    expected = clf.predict_proba(X[:10])
    joblib.dump(clf, tmp_path / "cuda.joblib")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="cuda"):
        loaded = joblib.load(tmp_path / "cuda.joblib")
    assert str(loaded.net_.device) == "cpu"
    assert not any(p.is_cuda for p in loaded.net_.module_.parameters())
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), expected, atol=1e-5)


def test_fitted_model_keeps_no_training_data(fitted, tickets):
    X, _ = tickets
    assert fitted.net_.train_split is None  # skorch kept the validation texts there
    early = dict(fitted.net_.callbacks_)["early_stopping"]
    assert early.best_model_weights_ is None
    blob = joblib_bytes(fitted)
    for text in X[:50]:
        ids = fitted.tokenizer_(text)["input_ids"][1:-1]
        assert bytes(np.asarray(ids, dtype=np.int64)) not in blob


def joblib_bytes(obj):
    import io

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def test_every_saved_file_is_checked_and_code_settings_are_not_restored(fitted, tmp_path):
    trusting = copy.copy(fitted).set_params(module__trust_remote_code=True)  # the shared model keeps its own
    path = trusting.save_pretrained(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    assert {"model.safetensors", "encoder/config.json", "history.json"} <= set(config["sha256"])
    assert config["params"]["module__trust_remote_code"] is None
    config["params"]["module__trust_remote_code"] = True
    config["params"]["accelerate"] = True
    (path / "config.json").write_text(json.dumps(config))
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert "module__trust_remote_code" not in loaded.get_params() and loaded.accelerate is None
    encoder_config = path / "encoder" / "config.json"
    encoder_config.write_text(encoder_config.read_text().replace('"hidden_act"', '"hidden_act" ', 1))
    with pytest.raises(ValueError, match="encoder/config.json"):
        SharpReCLClassifier.load_pretrained(path)


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


def test_tokenizer_without_pad_token_collates():
    from sklearn_sharprecl._text.data import PadCollator, TokenizedTexts

    data = TokenizedTexts([[torch.tensor([5, 6, 7]), torch.tensor([8])]], y=[1, 0])
    inputs, labels = PadCollator(None)([data[0], data[1]])
    assert inputs["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert labels.tolist() == [1, 0]


def test_ignored_precomputed_views_warn(fast_params, tickets):
    X, y = tickets
    params = {k: v for k, v in fast_params.items() if k != "criterion__n_neg"}  # X_aug alone is inert
    with pytest.warns(UserWarning, match="^X_aug has no effect with contrastive=None"):
        SharpReCLClassifier(**{**params, "max_epochs": 1}, contrastive=None).fit(X, y, X_aug=X)


def test_augmentation_tuple_spec_and_random_state_instance(fast_params, tickets):
    X, y = tickets

    def fit(seed):
        return SharpReCLClassifier(
            **{**fast_params, "max_epochs": 2, "random_state": np.random.RandomState(seed)},
            augment=("random_swap", {"aug_p": 0.3}), callbacks__refresh_view__each_epoch=True,
        ).fit(X, y).predict_proba(X[:20])

    # Equally seeded generators give the same views and the same model; another seed does not.
    first = fit(0)
    np.testing.assert_array_equal(fit(0), first)
    assert not np.allclose(fit(1), first)


def test_files_saved_with_a_pooler_still_load(tiny_encoder, tickets, tmp_path, monkeypatch):
    """Releases before the pooler was dropped saved its weights: such files keep loading."""
    from sklearn_sharprecl._network import module as _module

    X, y = tickets
    with monkeypatch.context() as patch:
        patch.setattr(_module, "drop_pooler", lambda encoder: encoder)  # the old behaviour
        old = SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1,
                                  criterion__n_neg=20, random_state=0).fit(X, y)
        assert old.net_.module_.encoder.pooler is not None
        old.save_pretrained(tmp_path / "old")
    loaded = SharpReCLClassifier.load_pretrained(tmp_path / "old")
    assert loaded.net_.module_.encoder.pooler is not None
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), old.predict_proba(X[:20]))


def test_new_files_carry_no_pooler(fitted, tmp_path):
    fitted.save_pretrained(tmp_path / "new")
    from safetensors.numpy import load_file

    for weights in ("model.safetensors", "encoder/model.safetensors"):
        assert not any("pooler." in k for k in load_file(tmp_path / "new" / weights))
    assert SharpReCLClassifier.load_pretrained(tmp_path / "new").net_.module_.encoder.pooler is None
