"""A pickle-free model format: safetensors weights plus JSON configuration.

Loading never executes code from the files: weights are read with safetensors,
the configuration with ``json``, the encoder is rebuilt from its saved
``config.json`` with ``trust_remote_code=False``, and settings that could
later fetch or run code (``trust_remote_code``, ``accelerate``, ``callbacks``)
are never restored from a file. Every file of the model is checked against the
SHA-256 recorded at save time, so a truncated or damaged model is refused with
a clear error instead of half-loading. The hashes live in ``config.json``
itself: they catch corruption, not a deliberate forgery (sign the directory
for that).

Saving writes the whole model into a new folder beside the target and swaps
it in with renames once every file is written (see
:func:`~sklearn_sharprecl._shared.files.write_directory_atomically`): a
save that fails leaves the previous model as it was. It refuses a non-empty
directory that is not a saved model; into a saved model it replaces the files
listed below, and other files there (notes, a README of the user's) are
carried over, neither hashed nor checked.

Layout of a saved model directory (format version 2)::

    config.json          format, estimator parameters, classes, versions, hashes
    model.safetensors    the weights of the heads (all weights when the encoder's
                         own save_pretrained does not write them as they are)
    encoder/             the fine-tuned encoder in the transformers layout:
                         config.json, model.safetensors and the tokenizer files,
                         which transformers.AutoModel / AutoTokenizer load as they are
    history.json         skorch training history
    README.md            the model card, generated from config.json and history.json

Every file that is loaded, those of ``encoder/`` included, is hashed in
``config.json``; a file in ``encoder/`` that is not recorded there is refused.
The model card is not hashed and never read by :func:`read_saved_model`. A
``README.md`` of the user's (one without the card's generated-by line) is
kept, and then no card is written.

Format version 1 (still read) had every weight in ``model.safetensors``, only
``config.json`` in ``encoder/``, the tokenizer in ``tokenizer/`` and no card.
"""

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from .._shared.files import json_default, read_format_config, sha256, write_directory_atomically

FORMAT = "sklearn-sharprecl"
FORMAT_VERSION = 2
_WEIGHTS = "model.safetensors"
_ENCODER_WEIGHTS = "encoder/model.safetensors"
CARD = "README.md"
_JSON_SCALARS = (str, int, float, bool, type(None))
#: Files and folders a saved model consists of; nothing else in its directory
#: is written, hashed or checked.
OWN_FILES = ("config.json", _WEIGHTS, "history.json")
OWN_DIRS = ("encoder", "tokenizer")  # tokenizer/: format version 1
# Settings that could fetch or run code if a file could set them: never
# restored. ``callbacks`` (objects) and ``trust_remote_code`` are saved as None;
# ``accelerate`` is saved when it is JSON data, for the record only.
_NEVER_RESTORED = ("callbacks", "accelerate", "module__trust_remote_code")
# Training-only settings saved when they are plain data (an int seed, a preset
# name or (preset, params) pair) and restored from such values; objects (a
# RandomState, an augmenter) are saved as None and come back as the default.
# They act only when the loaded estimator is fitted again (a ``contextual:<path>``
# preset then reads that local checkpoint, with trust_remote_code off).
_DATA_ONLY = ("augment", "random_state")
_TRAINING_ONLY = _NEVER_RESTORED + _DATA_ONLY


def library_versions(also=()):
    """Versions of the libraries a fitted model depends on, by distribution name.

    These are what a model records when it is fitted and what a loaded model's
    record is compared with. ``also`` names further distributions to report
    (e.g. ``("imbalanced-learn", "numpy")``), each with its installed version
    or None when it is not installed; they are added after the others.
    """
    from importlib.metadata import PackageNotFoundError, version

    import skorch
    import sklearn
    import torch
    import transformers

    from .. import __version__

    versions = {
        "sklearn-sharprecl": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
    }
    for dist in also:
        if dist not in versions:
            try:
                versions[dist] = version(dist)
            except PackageNotFoundError:
                versions[dist] = None
    return versions


def warn_on_version_mismatch(saved, what="model"):
    """Warn once per library whose version differs from the one a model was saved with."""
    current = library_versions()
    for name, version in (saved or {}).items():
        if name in current and current[name] != version:
            warnings.warn(
                f"This {what} was saved with {name} {version} and is loaded with "
                f"{current[name]}; predictions may differ. Refit, or install "
                f"{name}=={version}, to be sure.",
                UserWarning,
                stacklevel=3,
            )


def is_json_data(value):
    """Whether ``value`` is plain JSON data (finite numbers, strings, lists, dicts, ...).

    Such a value can be written to ``config.json`` and shown as it is.
    """
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _training_only_value(name, value):
    """What is saved for a training-only parameter: plain data as is, objects as None."""
    if name in ("callbacks", "module__trust_remote_code"):
        return None
    if name == "accelerate":
        return value if is_json_data(value) else None
    if name == "random_state":
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        return int(value) if is_int else None  # a RandomState instance is not data
    # augment: a preset name, or a (preset, params) pair of JSON data.
    if isinstance(value, str):
        return value
    if (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], dict) and is_json_data(value[1])):
        return [value[0], value[1]]
    return None


def saved_params(config):
    """Constructor arguments from a saved model's ``config.json`` (as read by :func:`read_config`).

    The one way to rebuild an estimator's settings from a file: settings that
    could fetch or run code are left at their defaults, and objects saved as
    None come back as the defaults.
    """
    saved = config["params"]
    params = {}
    for name, value in saved.items():
        if name in _NEVER_RESTORED:
            continue
        if name in _DATA_ONLY:
            # None: the default.
            if name == "random_state" and isinstance(value, int) and not isinstance(value, bool):
                params[name] = value
            elif name == "augment" and isinstance(value, str):
                params[name] = value
            elif (name == "augment" and isinstance(value, list) and len(value) == 2
                    and isinstance(value[0], str) and isinstance(value[1], dict)):
                params[name] = (value[0], value[1])
            continue
        params[name] = value
    return params


def _json_params(estimator):
    """``get_params()`` as JSON, refusing values that cannot be stored as data."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name in _TRAINING_ONLY:
            params[name] = _training_only_value(name, value)
            continue
        if hasattr(value, "__fspath__"):
            value = str(value)
        if name == "decision_prior" and value is not None and not isinstance(value, str):
            params[name] = [float(v) for v in np.asarray(value, dtype=float).ravel()]
            continue
        if not isinstance(value, _JSON_SCALARS):
            raise ValueError(
                f"Cannot save parameter {name}={value!r} in the pickle-free format; "
                "use joblib.dump for this model."
            )
        params[name] = value
    return params


def check_savable(estimator):
    """Raise ``ValueError`` if a parameter of ``estimator`` cannot be saved as data.

    What :func:`write_saved_model` checks of the parameters, which can be
    known before fitting: checking first spares a long fit whose model could
    not be written in this format.
    """
    _json_params(estimator)


def is_own_file(name):
    """Whether ``name`` (relative, with ``/``) is one of the files of a saved model."""
    parts = Path(name).parts
    if not parts or ".." in parts or Path(name).is_absolute():
        return False
    return name in OWN_FILES or (len(parts) > 1 and parts[0] in OWN_DIRS)


def holds_saved_model(directory):
    """Whether ``directory`` holds a model written by :func:`save_pretrained`."""
    path = Path(directory) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT


def _is_own_entry(entry):
    """Whether an entry of a saved model directory is the model's (replaced by a save)."""
    from .card import is_generated_card

    if entry.name == CARD:
        return is_generated_card(entry)
    return entry.name in OWN_FILES or entry.name in OWN_DIRS


def other_entries(directory):
    """What ``directory`` holds besides the files of a saved model, sorted by name.

    These are the entries (files, folders, links) a user keeps next to a
    model, e.g. notes or a README of their own (the generated model card is
    the model's): saving a model into the directory carries them over, and
    whoever replaces the directory as a whole should too.
    """
    return sorted((entry for entry in Path(directory).iterdir() if not _is_own_entry(entry)),
                  key=lambda entry: entry.name)


def _own_files(directory):
    """The files of a saved model in ``directory``, but ``config.json`` and the card, sorted."""
    files = [directory / name for name in OWN_FILES if name != "config.json"]
    for sub in OWN_DIRS:
        files.extend(sorted((directory / sub).rglob("*")))
    return [path for path in files if path.is_file()]


def _cpu_state(module):
    # clone(): safetensors refuses tensors that share storage.
    return {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}


def _write_encoder(module, tokenizer, folder):
    """The encoder and tokenizer in the transformers layout in ``folder``.

    Returns whether ``folder/model.safetensors`` holds the encoder's weights
    exactly as the module has them (same names under ``encoder.``, same
    values): then the model's own weights file need not hold them again.
    """
    import torch
    from safetensors.torch import load_file

    from .._text.encoder import quiet_transformers

    encoder = module.encoder
    with quiet_transformers():
        encoder.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    weights = folder / "model.safetensors"
    expected = {k[len("encoder."):]: v for k, v in module.state_dict().items() if k.startswith("encoder.")}
    if not weights.is_file():  # sharded, or another layout: keep every weight in ours
        return False
    written = load_file(weights)
    return written.keys() == expected.keys() and all(
        torch.equal(written[k], expected[k].detach().cpu()) for k in expected)


def _write_files(estimator, directory):
    """Write every file of a fitted estimator's saved model into the new folder ``directory``."""
    from safetensors.torch import save_file

    from .card import model_card

    classes = estimator.classes_.tolist()
    params = _json_params(estimator)
    module = estimator.net_.module_
    standalone = _write_encoder(module, estimator.tokenizer_, directory / "encoder")
    state = _cpu_state(module)
    if standalone:
        state = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    save_file(state, directory / _WEIGHTS)
    history = estimator.net_.history.to_list()
    (directory / "history.json").write_text(json.dumps(history, default=json_default))
    hashes = {path.relative_to(directory).as_posix(): sha256(path)
              for path in _own_files(directory)}
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": params,
        "classes": classes,
        "classes_dtype": estimator.classes_.dtype.str,
        "class_counts": estimator.class_counts_.tolist(),
        "encoder_name": estimator.encoder_name_,
        "precision": estimator.precision_,
        "head_init": estimator.head_init_,
        "contrastive": estimator.contrastive_,
        "versions": library_versions(),
        # Where the encoder's weights are read from at load time.
        "encoder_weights": _ENCODER_WEIGHTS if standalone else _WEIGHTS,
        "sha256": hashes,
        **_multilabel_config(estimator),
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    defaults = {**type(estimator)().get_params(deep=False), **estimator.routed_parameters()}
    history = json.loads((directory / "history.json").read_text())
    (directory / CARD).write_text(model_card(config, history, defaults))


def check_model_savable(estimator):
    """Raise ``ValueError`` for a fitted estimator whose model the format cannot hold, before any file is written."""
    if getattr(estimator, "quantized_", False):
        raise ValueError("An int8 copy cannot be saved; save the model it was made from and "
                         "call quantize_int8() after loading it.")
    classes = estimator.classes_.tolist()
    if not all(isinstance(c, (str, int, float, bool)) for c in classes):
        raise ValueError(
            "Only str, int, float or bool class labels can be saved in the pickle-free "
            f"format, got {type(classes[0]).__name__}; use joblib.dump instead."
        )
    _json_params(estimator)


def write_saved_model_files(estimator, folder):
    """Write a fitted estimator's saved model into ``folder``, which must not exist yet.

    No atomicity of its own: for a model written inside another one (the base
    of a CALoRA model), whose writer swaps in the whole.
    """
    check_model_savable(estimator)
    folder = Path(folder)
    folder.mkdir()
    _write_files(estimator, folder)


def write_saved_model(estimator, directory):
    """Write a fitted estimator to ``directory`` (created if needed).

    ``directory`` must be new, empty, or hold a saved model, which is then
    replaced as a whole once the new one is completely written (other files
    in it are carried over); anything else raises ``FileExistsError``. A
    save that fails leaves ``directory`` as it was.
    """
    check_model_savable(estimator)  # before any file is written
    directory = Path(directory)
    user_card = directory / CARD
    if holds_saved_model(directory) and user_card.is_file() and not _is_own_entry(user_card):
        warnings.warn(f"{user_card} is not a model card written by sklearn-sharprecl: it is kept, "
                      "and the generated card is not written.", UserWarning, stacklevel=3)
    return write_directory_atomically(
        directory, lambda folder: _write_files(estimator, folder), holds=holds_saved_model,
        is_own=_is_own_entry, what="saved model")


def _multilabel_config(estimator):
    """A multi-label model's per-label thresholds and label prior (nothing for single-label)."""
    if getattr(estimator, "thresholds_", None) is None:
        return {}
    return {"thresholds": [float(t) for t in estimator.thresholds_],
            "label_prior": [float(p) for p in estimator.label_prior_]}


def read_config(directory):
    """The ``config.json`` of a saved model, checked to be one this library reads."""
    return read_format_config(Path(directory) / "config.json", FORMAT, FORMAT_VERSION, "saved model")


def read_saved_model(directory):
    """Read and check a model written by :func:`write_saved_model`.

    Returns a namespace with ``params`` (the constructor arguments, see
    :func:`saved_params`) and ``fitted``: the classes, class counts, encoder
    name, tokenizer, versions, precision, head start, the encoder module rebuilt from its
    configuration (no code from the files runs), its state dict and the
    training history. The estimator assembles itself from them.
    """
    from types import SimpleNamespace

    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load
    from skorch.history import History
    from transformers import AutoConfig, AutoModel

    from .._text.encoder import load_tokenizer, quiet_transformers

    directory = Path(directory)
    config = read_config(directory)
    version = config.get("format_version", 0)
    # Format version 1: every weight in model.safetensors, the tokenizer in tokenizer/.
    weight_files = [_WEIGHTS]
    if version >= 2:
        encoder_weights = config.get("encoder_weights")
        if encoder_weights not in (_WEIGHTS, _ENCODER_WEIGHTS):
            raise ValueError(f"{directory / 'config.json'} names no valid encoder_weights "
                             f"(got {encoder_weights!r}); the configuration was modified.")
        weight_files = sorted({_WEIGHTS, encoder_weights})
    for name in weight_files:
        if not (directory / name).is_file():
            raise FileNotFoundError(f"No weights in {directory}: {name} is missing.")
    hashes = config.get("sha256") or {}
    for name in weight_files:
        if name not in hashes:
            raise ValueError(f"{directory / 'config.json'} records no hash for {name}.")
    recorded = {(directory / name).resolve() for name in hashes}
    for sub in OWN_DIRS:
        for path in sorted((directory / sub).rglob("*")):
            if path.is_file() and path.resolve() not in recorded:
                raise ValueError(
                    f"{path} is not recorded in {directory / 'config.json'}: a file was added to "
                    "the model after it was saved. Refusing to load the model.")
    data = {}
    for name, expected in hashes.items():
        if not is_own_file(name):
            raise ValueError(f"{directory / 'config.json'} records a hash for {name!r}, which is "
                             "not a file of a saved model; the configuration was modified.")
        path = directory / name
        if name in weight_files:
            data[name] = path.read_bytes()  # hash and parse the very same bytes
            actual = hashlib.sha256(data[name]).hexdigest()
        else:
            actual = sha256(path) if path.is_file() else None
        if actual != expected:
            raise ValueError(
                f"{path} does not match the SHA-256 recorded when the model was saved: "
                "the file is missing, truncated or modified. Refusing to load the model."
            )
    state = {}
    for name in weight_files:
        try:
            part = load(data[name])
        except SafetensorError as exc:
            raise ValueError(f"{directory / name} is not a readable safetensors file: {exc}") from exc
        state.update({f"encoder.{k}": v for k, v in part.items()} if name == _ENCODER_WEIGHTS else part)

    warn_on_version_mismatch(config.get("versions"))
    with quiet_transformers():
        encoder_config = AutoConfig.from_pretrained(directory / "encoder", trust_remote_code=False)
        encoder = AutoModel.from_config(encoder_config, trust_remote_code=False, dtype=torch.float32)
    if not any(k.startswith("encoder.pooler.") for k in state):
        from .._network.module import drop_pooler

        drop_pooler(encoder)  # saved without one
    history = directory / "history.json"
    fitted = {
        "classes": np.asarray(config["classes"], dtype=np.dtype(config["classes_dtype"])),
        "class_counts": np.asarray(config["class_counts"]),
        "encoder_name": config["encoder_name"],
        "tokenizer": load_tokenizer(directory / ("encoder" if version >= 2 else "tokenizer")),
        "versions": config.get("versions", {}),
        "precision": config.get("precision", "fp32"),
        # Saved before 'auto' existed: the setting was the choice.
        "head_init": config.get("head_init", config["params"].get("head_init", "random")),
        "contrastive": config.get("contrastive", config["params"].get("contrastive", "sharp")),
        "encoder": encoder,
        "state": state,
        "history": History.from_file(str(history)) if history.is_file() else History(),
        # A multi-label model's; None for single-label.
        "thresholds": _float_array(config.get("thresholds")),
        "label_prior": _float_array(config.get("label_prior")),
    }
    return SimpleNamespace(params=saved_params(config), fitted=fitted)


def _float_array(values):
    return None if values is None else np.asarray(values, dtype=np.float64)
