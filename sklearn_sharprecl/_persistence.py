"""A pickle-free model format: safetensors weights plus JSON configuration.

Loading never executes code from the files: weights are read with safetensors,
the configuration with ``json``, the encoder is rebuilt from its saved
``config.json`` with ``trust_remote_code=False``, and the weights file is
checked against the SHA-256 recorded at save time, so a truncated or edited
file is refused with a clear error instead of half-loading.

Layout of a saved model directory::

    config.json          format, estimator parameters, classes, versions, hashes
    model.safetensors    every weight of the network (encoder and heads)
    encoder/config.json  architecture of the encoder
    tokenizer/...        the tokenizer files
    history.json         skorch training history
"""

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

FORMAT = "sklearn-sharprecl"
FORMAT_VERSION = 1
_WEIGHTS = "model.safetensors"
_JSON_SCALARS = (str, int, float, bool, type(None))


def library_versions():
    """Versions of the libraries a fitted model depends on."""
    import skorch
    import sklearn
    import torch
    import transformers

    from . import __version__

    return {
        "sklearn-sharprecl": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
    }


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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_params(estimator):
    """``get_params()`` as JSON, refusing values that cannot be stored as data."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if hasattr(value, "__fspath__"):
            value = str(value)
        if not isinstance(value, _JSON_SCALARS):
            if name in ("augment", "callbacks", "random_state"):
                # Training-time objects: the fitted model does not need them.
                value = None
            else:
                raise ValueError(
                    f"Cannot save parameter {name}={value!r} in the pickle-free format; "
                    "use joblib.dump for this model."
                )
        params[name] = value
    return params


def save_pretrained(estimator, directory):
    """Write a fitted estimator to ``directory`` (created if needed)."""
    from safetensors.torch import save_file

    classes = estimator.classes_.tolist()
    if not all(isinstance(c, (str, int, float, bool)) for c in classes):
        raise ValueError(
            "Only str, int, float or bool class labels can be saved in the pickle-free "
            f"format, got {type(classes[0]).__name__}; use joblib.dump instead."
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    module = estimator.net_.module_
    # clone(): safetensors refuses tensors that share storage.
    state = {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}
    save_file(state, directory / _WEIGHTS)
    module.encoder.config.save_pretrained(directory / "encoder")
    estimator.tokenizer_.save_pretrained(directory / "tokenizer")
    estimator.net_.history.to_file(str(directory / "history.json"))
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": _json_params(estimator),
        "classes": classes,
        "classes_dtype": estimator.classes_.dtype.str,
        "class_counts": estimator.class_counts_.tolist(),
        "encoder_name": estimator.encoder_name_,
        "versions": library_versions(),
        "sha256": {_WEIGHTS: _sha256(directory / _WEIGHTS)},
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def _read_config(directory):
    path = directory / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"No saved model in {directory}: {path.name} is missing.")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); the file is damaged.") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} model configuration.")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{directory} was saved in format version {config['format_version']}; this "
            f"sklearn-sharprecl reads up to {FORMAT_VERSION}. Upgrade the library."
        )
    return config


def load_pretrained(cls, directory, device=None):
    """Rebuild a fitted ``cls`` from :func:`save_pretrained`'s output."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from skorch.history import History
    from transformers import AutoConfig, AutoModel

    from ._encoder import load_tokenizer, quiet_transformers

    directory = Path(directory)
    config = _read_config(directory)
    weights = directory / _WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"No weights in {directory}: {_WEIGHTS} is missing.")
    expected = config.get("sha256", {}).get(_WEIGHTS)
    if expected != _sha256(weights):
        raise ValueError(
            f"{weights} does not match the SHA-256 recorded when the model was saved: "
            "the file was truncated or modified. Refusing to load it."
        )
    try:
        state = load_file(weights)
    except SafetensorError as exc:
        raise ValueError(f"{weights} is not a readable safetensors file: {exc}") from exc

    estimator = cls(**config["params"])
    estimator._validate_params()
    if device is not None:
        estimator.set_params(device=device)
    elif estimator.device not in ("auto", "cpu") and not torch.cuda.is_available():
        estimator.set_params(device="cpu")
    warn_on_version_mismatch(config.get("versions"))

    with quiet_transformers():
        encoder_config = AutoConfig.from_pretrained(directory / "encoder", trust_remote_code=False)
        encoder = AutoModel.from_config(encoder_config, trust_remote_code=False)
    estimator.classes_ = np.asarray(config["classes"], dtype=np.dtype(config["classes_dtype"]))
    estimator.class_counts_ = np.asarray(config["class_counts"])
    estimator.encoder_name_ = config["encoder_name"]
    estimator.tokenizer_ = load_tokenizer(directory / "tokenizer")
    estimator.versions_ = config.get("versions", {})
    net = estimator._build_net(None, callbacks=[], encoder=encoder)
    net.initialize()
    try:
        net.module_.load_state_dict({k: v.to(net.device) for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{weights} does not fit the saved configuration: {exc}") from exc
    history = directory / "history.json"
    if history.is_file():
        net.history = History.from_file(str(history))
    estimator.net_ = net
    return estimator
