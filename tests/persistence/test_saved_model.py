"""The pickle-free model directory: what is written, replaced, hashed and restored."""

import copy
import json
import warnings

import joblib
import numpy as np
import pytest
import torch

from skorch.callbacks import Callback

from sklearn_sharprecl import SharpReCLClassifier

#: What a saved card compares the settings with: every default of the estimator.
CARD_DEFAULTS = {**SharpReCLClassifier().get_params(deep=False), **SharpReCLClassifier.routed_parameters()}


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


def _fit_tiny(tiny_encoder, tickets, n_texts=80, **params):
    X, y = tickets
    settings = dict(encoder=tiny_encoder, max_length=16, batch_size=32, max_epochs=1, criterion__n_neg=20,
                    random_state=0, precision="fp32")
    return SharpReCLClassifier(**{**settings, **params}).fit(X[:n_texts], y[:n_texts])


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


@pytest.mark.parametrize("setting, value, message", [
    ("tau", -3, "'tau' parameter of SharpReCLClassifier must be a float in the range .*Got -3"),
    ("max_length", 1, "'max_length' parameter"),
    ("criterion__n_neg", -1, "'criterion__n_neg' parameter"),
    ("module__pooling", "max", "'module__pooling' parameter"),
    ("decision_prior", [0.5, 0.5], "decision_prior must be"),  # 6 classes
    ("criterion__n_negs", 3, "unexpected parameter 'criterion__n_negs'"),
])
def test_loading_checks_the_saved_settings(fitted, tmp_path, setting, value, message):
    path = fitted.save_pretrained(tmp_path / "model")
    config = _config(path)
    config["params"][setting] = value
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message) as error:
        SharpReCLClassifier.load_pretrained(path)
    assert str(path / "config.json") in str(error.value)


_CHILD = """
import json, sys
import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

folder, texts, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
tokenizer = AutoTokenizer.from_pretrained(folder)
encoder = AutoModel.from_pretrained(folder).eval()
batch = tokenizer(texts, padding=True, truncation=True, max_length=16, return_tensors="pt")
with torch.no_grad():
    states = encoder(**batch).last_hidden_state
assert "sklearn_sharprecl" not in sys.modules, "the child imported sklearn_sharprecl"
np.savez(out, input_ids=batch["input_ids"].numpy(), states=states.numpy())
"""


def test_the_encoder_folder_loads_with_transformers_alone(fitted, tickets, tmp_path):
    import subprocess
    import sys

    import torch

    path = fitted.save_pretrained(tmp_path / "model")
    texts = list(tickets[0][:4])
    out = tmp_path / "child.npz"
    subprocess.run([sys.executable, "-c", _CHILD, str(path / "encoder"), json.dumps(texts), str(out)],
                   check=True, cwd=tmp_path, capture_output=True)
    child = np.load(out)
    batch = fitted.tokenizer_(texts, padding=True, truncation=True, max_length=16, return_tensors="pt")
    np.testing.assert_array_equal(child["input_ids"], batch["input_ids"].numpy())
    encoder = fitted.net_.module_.encoder
    was_training = encoder.training
    try:
        with torch.no_grad():
            ours = encoder.eval()(**batch).last_hidden_state.numpy()
    finally:
        encoder.train(was_training)
    np.testing.assert_allclose(child["states"], ours, atol=1e-5, rtol=0)
    assert np.abs(ours).max() > 0.1  # compared states, not zeros


def test_the_encoder_weights_are_stored_once(fitted, tmp_path):
    from safetensors import safe_open

    path = fitted.save_pretrained(tmp_path / "model")
    config = _config(path)
    assert config["encoder_weights"] == "encoder/model.safetensors"
    with safe_open(path / "model.safetensors", "pt") as heads:
        names = list(heads.keys())
    assert names and not any(name.startswith("encoder.") for name in names)
    assert {"encoder/model.safetensors", "encoder/config.json", "model.safetensors"} <= set(config["sha256"])
    assert "README.md" not in config["sha256"]  # the card is not loaded, so not hashed


def test_a_file_added_to_the_encoder_folder_is_refused(fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    (path / "encoder" / "added_tokens.json").write_text('{"[NEW]": 9999}')
    with pytest.raises(ValueError, match="added_tokens.json is not recorded"):
        SharpReCLClassifier.load_pretrained(path)


def test_a_tampered_encoder_weight_file_is_refused(fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    weights = path / "encoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encoder/model.safetensors does not match the SHA-256"):
        SharpReCLClassifier.load_pretrained(path)


def _as_format_version_1(path):
    """Rewrite a saved model in the layout of format version 1, as earlier versions wrote it:
    every weight in model.safetensors, the tokenizer in tokenizer/, only config.json in encoder/,
    no model card."""
    import hashlib

    from safetensors.torch import load_file, save_file

    config = _config(path)
    state = {**load_file(path / "model.safetensors"),
             **{f"encoder.{k}": v for k, v in load_file(path / "encoder" / "model.safetensors").items()}}
    save_file(state, path / "model.safetensors")
    (path / "tokenizer").mkdir()
    for file in sorted((path / "encoder").iterdir()):
        if file.name == "model.safetensors":
            file.unlink()
        elif file.name != "config.json":
            file.rename(path / "tokenizer" / file.name)
    (path / "README.md").unlink()
    del config["encoder_weights"]
    config["format_version"] = 1
    config["sha256"] = {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(path.rglob("*")) if p.is_file() and p != path / "config.json"}
    (path / "config.json").write_text(json.dumps(config, indent=2))
    return path


def test_a_model_saved_in_the_first_layout_still_loads(fitted, tickets, tmp_path):
    path = _as_format_version_1(fitted.save_pretrained(tmp_path / "model"))
    assert sorted(p.name for p in (path / "encoder").iterdir()) == ["config.json"]
    loaded = SharpReCLClassifier.load_pretrained(path)
    X, _ = tickets
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), fitted.predict_proba(X[:20]))
    # Saving over it writes the current layout, its tokenizer/ folder gone.
    loaded.save_pretrained(path)
    assert not (path / "tokenizer").exists() and (path / "README.md").is_file()
    again = SharpReCLClassifier.load_pretrained(path)
    np.testing.assert_array_equal(again.predict_proba(X[:20]), fitted.predict_proba(X[:20]))


def _front_matter(card):
    import yaml

    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_the_model_card_is_generated_from_the_saved_state(tiny_encoder, tickets, tmp_path):
    from sklearn_sharprecl._persistence.card import model_card

    clf = _fit_tiny(tiny_encoder, tickets, n_texts=240, validation_fraction=0.25, max_epochs=2, tau=0.2)
    path = clf.save_pretrained(tmp_path / "model")
    card = (path / "README.md").read_text()
    assert card == model_card(_config(path), json.loads((path / "history.json").read_text()), CARD_DEFAULTS)
    front = _front_matter(card)
    assert front["library_name"] == "sklearn-sharprecl"
    assert front["pipeline_tag"] == "text-classification" and "text-classification" in front["tags"]
    assert front["metrics"] == ["f1"]
    assert "base_model" not in front  # a local encoder has no Hub id
    for label, count in zip(clf.classes_, clf.class_counts_):
        assert f"| {label} | {count} |" in card
    scores = clf.net_.history[:, "valid_f1_macro"]
    assert len(scores) == 2
    for epoch, score in enumerate(scores, start=1):
        assert f"| {epoch} | {score:.4f} |" in card
    assert "| `tau` | `0.2` | `0.3` |" in card and "| `max_epochs` | `2` | `4` |" in card
    assert "`mu`" not in card  # at its default
    for name, version in clf.versions_.items():
        assert f"| {name} | {version} |" in card
    assert 'AutoModel.from_pretrained("path/to/this/folder/encoder")' in card


def test_the_model_card_names_the_base_model_and_says_when_there_is_no_validation(fitted, tmp_path):
    from sklearn_sharprecl._persistence.card import model_card

    path = fitted.save_pretrained(tmp_path / "model")
    config, history = _config(path), json.loads((path / "history.json").read_text())
    card = (path / "README.md").read_text()
    assert "No validation set was used" in card and "metrics" not in _front_matter(card)
    config["encoder_name"] = "someone/bert-small"
    assert _front_matter(model_card(config, history, CARD_DEFAULTS))["base_model"] == "someone/bert-small"
    config["params"]["encoder"] = None  # the packaged MiniLM
    front = _front_matter(model_card(config, history, CARD_DEFAULTS))
    assert (front["base_model"], front["language"]) == ("sentence-transformers/all-MiniLM-L6-v2", "en")


def test_loading_neither_needs_nor_reads_the_card(fitted, tickets, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    (path / "README.md").write_text("---\nnot: [valid\n---\n")
    X, _ = tickets
    loaded = SharpReCLClassifier.load_pretrained(path)
    (path / "README.md").unlink()
    np.testing.assert_array_equal(SharpReCLClassifier.load_pretrained(path).predict(X[:10]),
                                  loaded.predict(X[:10]))


def test_a_readme_of_the_users_is_kept_and_a_generated_card_replaced(fitted, tmp_path):
    path = fitted.save_pretrained(tmp_path / "model")
    card = (path / "README.md").read_text()
    (path / "README.md").write_text(card + "\nedited\n")  # still a generated card: ours
    fitted.save_pretrained(path)
    assert (path / "README.md").read_text() == card
    (path / "README.md").write_text("# My model\n")
    with pytest.warns(UserWarning, match="README.md is not a model card written by sklearn-sharprecl"):
        fitted.save_pretrained(path)
    assert (path / "README.md").read_text() == "# My model\n"


def test_the_example_card_of_the_docs_is_what_the_generator_writes():
    from pathlib import Path

    from sklearn_sharprecl._persistence.card import model_card

    docs = Path(__file__).resolve().parents[2] / "docs"
    example = docs / "model-card-example"
    config = json.loads((example / "config.json").read_text())
    history = json.loads((example / "history.json").read_text())
    assert (example / "README.md").read_text() == model_card(config, history, CARD_DEFAULTS), (
        "docs/model-card-example/README.md is not the card of the saved state next to it: "
        "run python docs/model-card-example/make_example.py")
    assert "```{literalinclude} model-card-example/README.md" in (docs / "persistence.md").read_text()


def test_an_encoder_not_saved_as_it_is_keeps_every_weight_in_the_model_file(fitted, tickets, tmp_path,
                                                                            monkeypatch):
    """Should an encoder's own save_pretrained rename or shard its weights, model.safetensors holds
    them all and loading reads them from there."""
    from safetensors import safe_open

    from sklearn_sharprecl._persistence import saved_model

    write_encoder = saved_model._write_encoder
    monkeypatch.setattr(saved_model, "_write_encoder", lambda *args: write_encoder(*args) and False)
    path = fitted.save_pretrained(tmp_path / "model")
    assert _config(path)["encoder_weights"] == "model.safetensors"
    with safe_open(path / "model.safetensors", "pt") as weights:
        assert any(name.startswith("encoder.") for name in weights.keys())
    X, _ = tickets
    np.testing.assert_array_equal(SharpReCLClassifier.load_pretrained(path).predict_proba(X[:20]),
                                  fitted.predict_proba(X[:20]))
    (path / "encoder" / "model.safetensors").write_bytes(b"changed")  # in the manifest all the same
    with pytest.raises(ValueError, match="encoder/model.safetensors does not match"):
        SharpReCLClassifier.load_pretrained(path)


def test_safe_format_round_trip_is_identical(fitted_with_validation, tickets, tmp_path):
    X, _ = tickets
    fitted_with_validation.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "README.md", "config.json", "encoder", "history.json", "model.safetensors",
    ]
    loaded = SharpReCLClassifier.load_pretrained(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), fitted_with_validation.predict_proba(X[:20]))
    np.testing.assert_array_equal(loaded.classes_, fitted_with_validation.classes_)
    assert loaded.get_params()["tau"] == fitted_with_validation.tau
    assert len(loaded.net_.history) == len(fitted_with_validation.net_.history)


def test_truncated_or_tampered_weights_are_refused(fitted_with_validation, tmp_path):
    path = fitted_with_validation.save_pretrained(tmp_path / "model")
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


def test_damaged_config_is_refused(fitted_with_validation, tmp_path):
    path = fitted_with_validation.save_pretrained(tmp_path / "model")
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        SharpReCLClassifier.load_pretrained(path)
    (path / "config.json").write_text(json.dumps({"format": "pickle"}))
    with pytest.raises(ValueError, match="not a sklearn-sharprecl"):
        SharpReCLClassifier.load_pretrained(path)
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        SharpReCLClassifier.load_pretrained(tmp_path / "nowhere")


def test_version_mismatch_warns_for_both_formats(fitted_with_validation, tmp_path):
    path = fitted_with_validation.save_pretrained(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["versions"]["torch"] = "0.0.1"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match="saved with torch 0.0.1"):
        SharpReCLClassifier.load_pretrained(path)

    joblib.dump(fitted_with_validation, tmp_path / "model.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        joblib.load(tmp_path / "model.joblib")  # same versions: silent
    fitted_with_validation.versions_["transformers"] = "1.0"
    try:
        joblib.dump(fitted_with_validation, tmp_path / "old.joblib")
    finally:
        fitted_with_validation.versions_["transformers"] = __import__("transformers").__version__
    with pytest.warns(UserWarning, match="saved with transformers 1.0"):
        joblib.load(tmp_path / "old.joblib")


def test_model_saved_with_a_cuda_device_loads_on_the_cpu_without_one(fitted_with_validation, tickets, tmp_path, monkeypatch):
    """The file of a model fitted_with_validation on a GPU records device='cuda'; where no GPU is
    present, load_pretrained falls back to the CPU and predicts as before (the
    weights are stored device-free, so only the recorded setting differs)."""
    X, _ = tickets
    expected = fitted_with_validation.predict_proba(X[:10])
    monkeypatch.setattr(fitted_with_validation, "device", "cuda")
    path = fitted_with_validation.save_pretrained(tmp_path / "model")
    monkeypatch.undo()
    assert json.loads((path / "config.json").read_text())["params"]["device"] == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = SharpReCLClassifier.load_pretrained(path)
    assert loaded.device == "cpu" and str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X[:10]), expected)


def test_every_saved_file_is_checked_and_code_settings_are_not_restored(fitted_with_validation, tmp_path):
    trusting = copy.copy(fitted_with_validation).set_params(module__trust_remote_code=True)  # the shared model keeps its own
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


def test_files_saved_with_a_pooler_still_load(tiny_encoder, tickets, tmp_path, monkeypatch):
    """Releases before the pooler was dropped saved its weights: such files keep loading."""
    from safetensors.numpy import load_file

    from sklearn_sharprecl._network import module as _module

    X, y = tickets
    with monkeypatch.context() as patch:
        patch.setattr(_module, "drop_pooler", lambda encoder: encoder)  # the old behaviour
        old = SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1,
                                  criterion__n_neg=20, random_state=0).fit(X, y)
        old.save_pretrained(tmp_path / "old")
    # What the old releases wrote: the pooler's weights in the encoder folder.
    assert any(k.startswith("pooler.") for k in load_file(tmp_path / "old" / "encoder" / "model.safetensors"))
    loaded = SharpReCLClassifier.load_pretrained(tmp_path / "old")
    assert loaded.net_.module_.encoder.pooler is not None
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), old.predict_proba(X[:20]))


def test_new_files_carry_no_pooler(fitted_with_validation, tmp_path):
    fitted_with_validation.save_pretrained(tmp_path / "new")
    from safetensors.numpy import load_file

    for weights in ("model.safetensors", "encoder/model.safetensors"):
        assert not any("pooler." in k for k in load_file(tmp_path / "new" / weights))
    assert SharpReCLClassifier.load_pretrained(tmp_path / "new").net_.module_.encoder.pooler is None
