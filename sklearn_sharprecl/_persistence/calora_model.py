"""The pickle-free format of a fitted CALoRAClassifier: its base model, its head, JSON.

Layout of a saved CALoRA directory::

    config.json          format, parameters, classes, head shape, versions, hashes
    head.safetensors     the head: the frozen copy of the base's classifier and the experts
    history.json         the stage-2 skorch history
    base/                the fitted base, a SharpReCLClassifier saved model (its own
                         config.json, hashes, encoder/ and model card)

``config.json`` records the SHA-256 of ``head.safetensors``, ``history.json``
and ``base/config.json``; the base's ``config.json`` records those of its own
files, so every file that is loaded is checked. Loading runs no code from the
files. Saving is atomic as :func:`~sklearn_sharprecl._persistence.saved_model.write_saved_model`
is: the new model is written beside the target and swapped in by renames.
"""

import hashlib
import json
from numbers import Integral
from pathlib import Path

import numpy as np

from .._shared.files import json_default, read_format_config, sha256, write_directory_atomically
from .saved_model import library_versions, write_saved_model_files

FORMAT = "sklearn-sharprecl-calora"
FORMAT_VERSION = 1
_HEAD = "head.safetensors"
_HISTORY = "history.json"
_BASE = "base"
#: The entries of a saved CALoRA directory; nothing else in it is written or checked.
OWN_ENTRIES = ("config.json", _HEAD, _HISTORY, _BASE)
_HASHED = (_HEAD, _HISTORY, f"{_BASE}/config.json")


def holds_calora_model(directory):
    """Whether ``directory`` holds a model written by :func:`write_calora_model`."""
    try:
        config = json.loads((Path(directory) / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT


def _params(estimator):
    """The parameters as JSON data: the base as whether there was one, a seed only when an int."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name == "estimator":
            # Restored as an unfitted copy of the saved base (its settings), or None.
            params[name] = None if value is None else "base"
        elif name == "random_state":
            is_int = isinstance(value, Integral) and not isinstance(value, bool)
            params[name] = int(value) if is_int else None  # a RandomState instance is not data
        elif isinstance(value, (np.integer, np.floating)):
            params[name] = value.item()
        elif value is None or isinstance(value, (str, int, float, bool)):
            params[name] = value
        else:
            raise ValueError(f"Cannot save parameter {name}={value!r} in the pickle-free format; "
                             "use joblib.dump for this model.")
    return params


def _write_files(estimator, folder):
    from safetensors.torch import save_file

    write_saved_model_files(estimator.estimator_, folder / _BASE)
    head = estimator.head_
    state = {k: v.detach().cpu().clone().contiguous() for k, v in head.state_dict().items()}
    save_file(state, folder / _HEAD)
    history = estimator.net_.history.to_list()
    (folder / _HISTORY).write_text(json.dumps(history, default=json_default))
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _params(estimator),
        "classes": estimator.classes_.tolist(),
        "classes_dtype": estimator.classes_.dtype.str,
        "class_counts": np.asarray(estimator.class_counts_).tolist(),
        "head": {"in_features": head.in_features, "out_features": head.out_features,
                 "rank": head.rank, "top_k": head.top_k, "alpha": head.alpha,
                 "dtype": str(head.lora_A.dtype).removeprefix("torch.")},
        "versions": library_versions(),
        "sha256": {name: sha256(folder / name) for name in _HASHED},
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def write_calora_model(estimator, directory):
    """Write a fitted CALoRAClassifier to ``directory``, atomically.

    ``directory`` must be new, empty, or hold a saved CALoRA model (replaced
    as a whole once the new one is written; other files in it are carried
    over); anything else raises ``FileExistsError``.
    """
    base = estimator.estimator_
    if not hasattr(base, "save_pretrained"):
        raise ValueError(f"The base model ({type(base).__name__}) has no pickle-free format; "
                         "use joblib.dump for this model.")
    from .saved_model import check_model_savable

    check_model_savable(base)
    _params(estimator)  # refuses unsavable parameters before any file is written
    return write_directory_atomically(
        directory, lambda folder: _write_files(estimator, folder), holds=holds_calora_model,
        is_own=lambda entry: entry.name in OWN_ENTRIES, what="saved CALoRA model")


def read_calora_model(directory):
    """Read and check a model written by :func:`write_calora_model`.

    Returns a namespace with ``config`` (the checked ``config.json``), ``state``
    (the head's state dict) and ``history`` (a skorch History); the base is
    loaded by the caller from ``directory / 'base'``.
    """
    from types import SimpleNamespace

    from safetensors import SafetensorError
    from safetensors.torch import load
    from skorch.history import History

    directory = Path(directory)
    config = read_format_config(directory / "config.json", FORMAT, FORMAT_VERSION, "saved CALoRA model")
    hashes = config.get("sha256") or {}
    data = None
    for name in _HASHED:
        path = directory / name
        if name not in hashes:
            raise ValueError(f"{directory / 'config.json'} records no hash for {name}.")
        if name == _HEAD:
            if not path.is_file():
                raise FileNotFoundError(f"No head in {directory}: {_HEAD} is missing.")
            data = path.read_bytes()  # hash and parse the very same bytes
            actual = hashlib.sha256(data).hexdigest()
        else:
            actual = sha256(path) if path.is_file() else None
        if actual != hashes[name]:
            raise ValueError(f"{path} does not match the SHA-256 recorded when the model was saved: the "
                             "file is missing, truncated or modified. Refusing to load the model.")
    try:
        state = load(data)
    except SafetensorError as exc:
        raise ValueError(f"{directory / _HEAD} is not a readable safetensors file: {exc}") from exc
    # The versions are the base's: loading it warns about a mismatch.
    return SimpleNamespace(config=config, state=state,
                           history=History.from_file(str(directory / _HISTORY)))
