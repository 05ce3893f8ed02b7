"""The pickle-free model directory: what is written, replaced, hashed and restored."""

import hashlib
import json

import numpy as np
import pytest

from sklearn_sharprecl import SharpReCLClassifier


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    X, y = tickets
    return SharpReCLClassifier(
        encoder=tiny_encoder, max_length=16, batch_size=32, max_epochs=1, n_neg=20,
        validation_fraction=None, random_state=0,
    ).fit(X[:80], y[:80])


def _config(path):
    return json.loads((path / "config.json").read_text())


@pytest.fixture
def params_restored(fitted):
    """Undo the test's set_params on the shared fitted model."""
    before = fitted.get_params(deep=False)
    yield fitted
    fitted.set_params(**before)


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
    (path / "tokenizer" / "stale.json").write_text("{}")  # left by an earlier save: ours
    fitted.save_pretrained(path)

    assert set(_config(path)["sha256"]) == set(fresh)  # only the model's files are hashed
    assert (path / "notes.txt").read_text() == "v1"
    assert (path / "docs" / "card.md").read_text() == "model card"
    assert not (path / "tokenizer" / "stale.json").exists()
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
    assert params["trust_remote_code"] is None and params["callbacks"] is None

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


def test_files_of_earlier_releases_still_load(fitted, tickets, tmp_path):
    """Earlier releases saved training settings as None and hashed every file."""
    path = fitted.save_pretrained(tmp_path / "model")
    (path / "notes.txt").write_text("v1")
    config = _config(path)
    config["params"].update(augment=None, random_state=None, accelerate=None, callbacks=None,
                            trust_remote_code=None)
    config["sha256"]["notes.txt"] = hashlib.sha256(b"v1").hexdigest()
    (path / "config.json").write_text(json.dumps(config))
    (path / "notes.txt").write_text("edited later")
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert loaded.augment == "dropout" and loaded.random_state is None
    X, _ = tickets
    np.testing.assert_array_equal(loaded.predict_proba(X[:5]), fitted.predict_proba(X[:5]))


def test_files_from_before_centred_prototypes_load_uncentred(tiny_encoder, tickets, tmp_path):
    """Files saved before ``center_prototypes`` (or ``lr_schedule``) existed were
    trained uncentred (at a constant LR), and the defaults changed since: such
    a file must come back with the values it was trained with."""
    X, y = tickets
    uncentred = SharpReCLClassifier(
        encoder=tiny_encoder, max_length=16, batch_size=32, max_epochs=1, n_neg=20,
        validation_fraction=None, random_state=0, center_prototypes=False,
    ).fit(X[:80], y[:80])
    path = uncentred.save_pretrained(tmp_path / "model")
    config = _config(path)
    for name in ("center_prototypes", "hard_share_schedule", "lr_schedule"):
        del config["params"][name]
    (path / "config.json").write_text(json.dumps(config))
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert loaded.center_prototypes is False and loaded.hard_share_schedule == "epoch"
    assert loaded.lr_schedule == "constant"  # the default is 'linear' since session 5
    np.testing.assert_allclose(loaded.prototypes_, uncentred.prototypes_, atol=1e-6)


def test_library_versions_reports_further_distributions():
    import numpy

    from sklearn_sharprecl._persistence import library_versions

    recorded = library_versions()
    versions = library_versions(also=("numpy", "no-such-distribution-sharprecl", "torch"))
    assert list(versions)[: len(recorded)] == list(recorded)  # what a model records comes first
    assert {k: versions[k] for k in recorded} == recorded
    assert versions["numpy"] == numpy.__version__
    assert versions["no-such-distribution-sharprecl"] is None  # not installed
    assert "numpy" not in recorded  # what a model records is unchanged
