"""The pickle-free model directory: what is written, replaced, hashed and restored."""

import copy
import json

import numpy as np
import pytest

from skorch.callbacks import Callback

from sklearn_sharprecl import SharpReCLClassifier


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    X, y = tickets
    return SharpReCLClassifier(
        encoder=tiny_encoder, max_length=16, batch_size=32, max_epochs=1, criterion__n_neg=20,
        random_state=0,
    ).fit(X[:80], y[:80])


def _config(path):
    return json.loads((path / "config.json").read_text())


@pytest.fixture
def params_restored(fitted):
    """A shallow copy of the shared fitted model: set_params on it leaves the original alone
    (routed parameters, once set, cannot be unset by set_params)."""
    return copy.copy(fitted)


def test_refuses_a_directory_that_holds_something_else(fitted, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"meow")
    (photos / "config.json").write_text('{"camera": "x"}')  # not one of ours either
    with pytest.raises(FileExistsError, match="not empty and holds no saved model"):
        fitted.save_pretrained(photos)
    assert sorted(p.name for p in photos.iterdir()) == ["cat.jpg", "config.json"]
    assert (photos / "config.json").read_text() == '{"camera": "x"}'
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        fitted.save_pretrained(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    fitted.save_pretrained(tmp_path / "empty")  # an empty directory is fine
    assert (tmp_path / "empty" / "config.json").is_file()


def test_saving_again_replaces_only_the_models_files(fitted, tmp_path):
    fresh = _config(fitted.save_pretrained(tmp_path / "fresh"))["sha256"]
    path = fitted.save_pretrained(tmp_path / "model")
    (path / "notes.txt").write_text("v1")
    (path / "docs").mkdir()
    (path / "docs" / "card.md").write_text("model card")
    (path / "encoder" / "stale.json").write_text("{}")  # left by an earlier save: ours
    (path / "tokenizer").mkdir()  # of format version 1: ours
    (path / "tokenizer" / "vocab.txt").write_text("old")
    fitted.save_pretrained(path)

    assert set(_config(path)["sha256"]) == set(fresh)  # only the model's files are hashed
    assert (path / "notes.txt").read_text() == "v1"
    assert (path / "docs" / "card.md").read_text() == "model card"
    assert not (path / "encoder" / "stale.json").exists()
    assert not (path / "tokenizer").exists()
    (path / "notes.txt").write_text("v2")  # editing one's own files never blocks loading
    SharpReCLClassifier.load_pretrained(path)


def test_training_settings_are_saved_when_they_are_data(params_restored, tmp_path):
    fitted = params_restored
    fitted.set_params(random_state=7, augment="random_swap", accelerate={"cpu": True})
    path = fitted.save_pretrained(tmp_path / "plain")
    params = _config(path)["params"]
    assert (params["random_state"], params["augment"]) == (7, "random_swap")
    assert params["accelerate"] == {"cpu": True}  # recorded ...
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert (loaded.random_state, loaded.augment) == (7, "random_swap")
    assert loaded.accelerate is None  # ... but never restored
    assert params["callbacks"] is None

    fitted.set_params(augment=("random_swap", {"aug_p": 0.2}), random_state=np.int64(3),
                      accelerate=None)
    loaded = SharpReCLClassifier.load_pretrained(fitted.save_pretrained(tmp_path / "pair"))
    assert loaded.augment == ("random_swap", {"aug_p": 0.2}) and loaded.random_state == 3


def test_training_objects_are_saved_as_none(params_restored, tmp_path):
    class Upper:
        def augment(self, texts):
            return [t.upper() for t in texts]

    from skorch.callbacks import EpochTimer

    fitted = params_restored
    fitted.set_params(random_state=np.random.RandomState(0), augment=Upper(),
                      callbacks=[("timer", EpochTimer())])
    path = fitted.save_pretrained(tmp_path / "model")
    params = _config(path)["params"]
    assert params["random_state"] is None and params["augment"] is None
    assert params["callbacks"] is None
    loaded = SharpReCLClassifier.load_pretrained(path)
    defaults = SharpReCLClassifier().get_params()
    assert (loaded.random_state, loaded.augment) == (defaults["random_state"], defaults["augment"])


def test_routed_parameters_are_saved_and_restored(params_restored, tickets, tmp_path):
    fitted = params_restored
    fitted.set_params(callbacks__lr_schedule=None, callbacks__hard_share__per_step=True,
                      optimizer__weight_decay=0.01)
    path = fitted.save_pretrained(tmp_path / "model")
    params = _config(path)["params"]
    assert params["criterion__n_neg"] == 20 and params["callbacks__lr_schedule"] is None
    loaded = SharpReCLClassifier.load_pretrained(path)
    routed = {k: v for k, v in loaded.get_params().items() if "__" in k}
    assert routed == {"criterion__n_neg": 20, "callbacks__lr_schedule": None,
                      "callbacks__hard_share__per_step": True, "optimizer__weight_decay": 0.01}
    X, _ = tickets
    np.testing.assert_array_equal(loaded.predict_proba(X[:5]), fitted.predict_proba(X[:5]))


def test_the_head_start_chosen_at_fit_is_restored(params_restored, tmp_path):
    fitted = params_restored
    # The default 'auto' chose the probe: the first 80 tickets have a class of fewer than 10.
    assert (fitted.head_init, fitted.head_init_) == ("auto", "linear_probe")
    fitted.set_params(head_init="random")  # after the fit: what is restored is what the fit chose
    path = fitted.save_pretrained(tmp_path / "model")
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert (loaded.head_init, loaded.head_init_) == ("random", "linear_probe")
    # Saved before head_init_ was recorded: the setting was the choice.
    config = _config(path)
    del config["head_init"]
    (path / "config.json").write_text(json.dumps(config))
    assert SharpReCLClassifier.load_pretrained(path).head_init_ == "random"


def test_saved_params_leaves_settings_that_run_code_at_their_defaults(fitted, tmp_path):
    from sklearn_sharprecl._persistence.saved_model import read_config, saved_params

    path = fitted.save_pretrained(tmp_path / "model")
    config = read_config(path)
    config["params"].update(module__trust_remote_code=True, accelerate=True, callbacks=["x"],
                            random_state="not a seed", augment={"not": "a preset"})
    params = saved_params(config)
    assert not {"module__trust_remote_code", "accelerate", "callbacks", "random_state", "augment"} & set(params)
    assert params["criterion__n_neg"] == 20
    assert SharpReCLClassifier(**params).get_params()["criterion__n_neg"] == 20


def test_a_hash_recorded_for_a_file_of_ones_own_is_refused(fitted, tmp_path):
    """Only the model's files are hashed; a config that hashes another file was altered."""
    import hashlib

    path = fitted.save_pretrained(tmp_path / "model")
    (path / "notes.txt").write_text("v1")
    config = _config(path)
    config["sha256"]["notes.txt"] = hashlib.sha256(b"v1").hexdigest()
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="records a hash for 'notes.txt', which is not a file of a saved model"):
        SharpReCLClassifier.load_pretrained(path)


def test_library_versions_reports_further_distributions():
    import numpy

    from sklearn_sharprecl._persistence.saved_model import library_versions

    recorded = library_versions()
    versions = library_versions(also=("numpy", "no-such-distribution-sharprecl", "torch"))
    assert list(versions)[: len(recorded)] == list(recorded)  # what a model records comes first
    assert {k: versions[k] for k in recorded} == recorded
    assert versions["numpy"] == numpy.__version__
    assert versions["no-such-distribution-sharprecl"] is None  # not installed
    assert "numpy" not in recorded  # what a model records is unchanged


class _Records(Callback):
    """Records ``value`` in the history at every epoch, as a user's callback may."""

    def __init__(self, value=None):
        self.value = value

    def on_epoch_end(self, net, **kwargs):
        net.history.record("user_value", self.value)


def _fit_tiny(tiny_encoder, tickets, **params):
    X, y = tickets
    return SharpReCLClassifier(
        encoder=tiny_encoder, max_length=16, batch_size=32, max_epochs=1, criterion__n_neg=20,
        random_state=0, precision="fp32", **params).fit(X[:80], y[:80])


def _snapshot(path):
    """Every file under ``path`` with its bytes."""
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_history_holding_numpy_scalars_saves(tiny_encoder, tickets, tmp_path):
    clf = _fit_tiny(tiny_encoder, tickets, callbacks=[("user", _Records(np.float32(0.25)))])
    loaded = SharpReCLClassifier.load_pretrained(clf.save_pretrained(tmp_path / "model"))
    assert loaded.net_.history[-1, "user_value"] == 0.25
    X, _ = tickets
    np.testing.assert_array_equal(loaded.predict_proba(X[:5]), clf.predict_proba(X[:5]))


def test_a_failed_save_leaves_the_previous_model_as_it_was(fitted, tiny_encoder, tickets, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    (path / "notes.txt").write_text("mine")
    before = _snapshot(path)
    broken = _fit_tiny(tiny_encoder, tickets, callbacks=[("user", _Records({"not", "json"}))])
    with pytest.raises(TypeError, match="not JSON serializable"):
        broken.save_pretrained(path)
    assert _snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left
    X, _ = tickets
    loaded = SharpReCLClassifier.load_pretrained(path)
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), fitted.predict_proba(X[:20]))
