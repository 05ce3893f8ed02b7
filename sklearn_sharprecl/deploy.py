"""Torch-free inference with a SharpReCLClassifier exported to ONNX.

A fitted estimator's ``export_onnx(path)`` writes a directory that this module
reads with ``onnxruntime``, ``tokenizers`` and ``numpy`` alone. Where the model
is trained, ``pip install "sklearn-sharprecl[onnx]"`` adds what the export
needs; a serving image needs neither torch nor transformers::

    pip install onnxruntime tokenizers numpy
    pip install --no-deps sklearn-sharprecl

and then::

    from sklearn_sharprecl.deploy import ONNXTextClassifier

    clf = ONNXTextClassifier.load("exported/")
    clf.predict(["who wrote hamlet"])

Importing this module imports neither torch nor transformers nor the rest of
the package (whose ``__init__`` loads the estimators lazily), so it fits a
small serving image.

Layout of an export directory::

    model.onnx       the network: int64 input_ids, attention_mask (batch x sequence) -> float32 logits
    tokenizer.json   the encoder's fast tokenizer, in the format of the ``tokenizers`` library
    classifier.json  format and version, classes, the decision-prior shift, max_length, hashes,
                     and for a multi-label model its per-label thresholds

Loading checks both files against the SHA-256 recorded in ``classifier.json``.
"""

import json
import numbers
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from ._shared.files import read_format_config, sha256
from ._shared.scores import decision_scores, log_softmax, softmax
from ._shared.texts import check_texts
from ._shared.thresholds import log_sigmoid, sigmoid, threshold_predictions, threshold_scores

FORMAT = "sklearn-sharprecl-onnx"
FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "classifier.json"
OWN_FILES = (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE)


def holds_export(directory):
    """Whether ``directory`` holds a model written by ``export_onnx``."""
    try:
        config = json.loads((Path(directory) / CONFIG_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT


def read_export_config(directory):
    """``classifier.json`` of an export directory, checked to be one this module reads."""
    directory = Path(directory)
    config = read_format_config(directory / CONFIG_FILE, FORMAT, FORMAT_VERSION, "exported model")
    for name in (MODEL_FILE, TOKENIZER_FILE):
        expected = config.get("sha256", {}).get(name)
        actual = sha256(directory / name) if (directory / name).is_file() else None
        if expected is None or actual != expected:
            raise ValueError(f"{directory / name} does not match the SHA-256 recorded at export: "
                             "the file is missing, truncated or modified. Refusing to load it.")
    return config


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or out of range, as scikit-learn's error of that name
    (a ValueError and a TypeError), without importing scikit-learn."""


def _check_int(value, name, caller, *, allow_none=False):
    """``value`` as an int of at least 1 (or None where ``allow_none``), else the error
    scikit-learn's parameter validation raises."""
    if allow_none and value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and value >= 1:
        return int(value)
    expected = "an int in the range [1, inf)" + (" or None" if allow_none else "")
    raise InvalidParameterError(f"The {name!r} parameter of {caller} must be {expected}. Got {value!r} instead.")


def _check_providers(providers, caller):
    """``providers`` as a list of str, or None."""
    if providers is None:
        return None
    if isinstance(providers, (list, tuple)) and all(isinstance(p, str) for p in providers):
        return list(providers)
    raise InvalidParameterError(f"The 'providers' parameter of {caller} must be a list of str or None. "
                                f"Got {providers!r} instead.")


__all__ = ["ONNXTextClassifier"]


class ONNXTextClassifier:
    """A SharpReCLClassifier exported by ``export_onnx``, run by onnxruntime.

    Build it with :meth:`load`. Its ``predict_proba``, ``predict_log_proba``,
    ``predict`` and ``decision_function`` follow the estimator's: the decision prior the
    estimator had at export is applied to the logits. A model fitted on a
    multi-label ``y`` gives each label's sigmoid probability and predicts the
    indicator matrix of the labels that reach their threshold
    (``thresholds_``, as fitted).

    Parameters
    ----------
    session : onnxruntime.InferenceSession
    tokenizer : tokenizers.Tokenizer
        Truncates to ``config['max_length']``; pads nothing (batches are
        padded here, each to its own longest text).
    config : dict
        The export's ``classifier.json``.
    batch_size : int, default=32
        Texts per forward pass, at least 1.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    max_length : int
    quantization : str or None
        ``'int8'`` for a dynamically quantized model, else None (fp32).
    thresholds_ : ndarray of shape (n_labels,) or None
        A multi-label model's per-label thresholds; None for a single-label one.
    """

    def __init__(self, session, tokenizer, config, batch_size=32):
        self.session = session
        self.tokenizer = tokenizer
        self.config = config
        self.batch_size = batch_size  # checked by the property below
        self.classes_ = np.asarray(config["classes"], dtype=np.dtype(config["classes_dtype"]))
        self.max_length = int(config["max_length"])
        self.quantization = config.get("quantization")
        self._log_shift = np.asarray(config["log_prior_shift"], dtype=np.float64)
        self._pad_id = int(config["pad_token_id"])
        thresholds = config.get("thresholds") if config.get("multilabel") else None
        self.thresholds_ = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)

    @classmethod
    def load(cls, directory, *, batch_size=32, intra_op_num_threads=None, providers=None):
        """Load an exported model.

        Parameters
        ----------
        directory : str or path-like
            A directory written by ``SharpReCLClassifier.export_onnx``.
        batch_size : int, default=32
            Texts per forward pass, at least 1.
        intra_op_num_threads : int or None, default=None
            Threads onnxruntime uses per operator; None lets it choose.
        providers : list of str or None, default=None
            onnxruntime execution providers; None uses the CPU.

        Returns
        -------
        classifier : ONNXTextClassifier

        Raises
        ------
        InvalidParameterError
            A ValueError (and TypeError) in scikit-learn's words, for a
            ``batch_size`` or ``intra_op_num_threads`` that is not an int of at
            least 1, or ``providers`` that are not a list of str; raised
            before any file is read.
        FileNotFoundError, ValueError
            For a directory without an export, or files that do not match
            the SHA-256 recorded at export.
        """
        caller = f"{cls.__name__}.load"
        batch_size = _check_int(batch_size, "batch_size", caller)
        intra_op_num_threads = _check_int(intra_op_num_threads, "intra_op_num_threads", caller, allow_none=True)
        providers = _check_providers(providers, caller)
        directory = Path(directory)
        config = read_export_config(directory)
        options = onnxruntime.SessionOptions()
        if intra_op_num_threads is not None:
            options.intra_op_num_threads = intra_op_num_threads
        session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILE), options, providers=providers or ["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        # Explicitly, whatever tokenizer.json says: the estimator's truncation='head'.
        tokenizer.enable_truncation(int(config["max_length"]), direction=config.get("truncation_side", "right"))
        tokenizer.no_padding()
        return cls(session, tokenizer, config, batch_size=batch_size)

    @property
    def batch_size(self):
        """Texts per forward pass: an int of at least 1."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value):
        self._batch_size = _check_int(value, "batch_size", type(self).__name__)

    def token_ids(self, X):
        """Token ids of each text, truncated to ``max_length`` as the estimator does.

        ``X`` is checked as the estimator checks it: what the estimator refuses
        is refused here with the same error.
        """
        return [encoding.ids for encoding in self.tokenizer.encode_batch(check_texts(X))]

    def logits(self, X):
        """Classifier logits (before the decision prior), shape (n_samples, n_classes), float32.

        Texts are batched by length, each batch padded to its longest text,
        and returned in input order.
        """
        ids = self.token_ids(X)
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(ids), len(self.classes_)), dtype=np.float32)
        for start in range(0, len(ids), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = max(int(lengths[rows].max()), 1)
            input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, :lengths[i]] = ids[i]
            mask = (np.arange(width)[None, :] < lengths[rows][:, None]).astype(np.int64)
            out[rows] = self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]
        return out

    def _scores(self, X):
        return self.logits(X).astype(np.float64) + self._log_shift

    def decision_function(self, X):
        """The logits plus the log decision-prior shift of each text of ``X`` (a sequence of
        str), as :meth:`SharpReCLClassifier.decision_function` returns them: one column per
        class, one score per text for two classes. Multi-label: each label's logit minus
        the logit of its threshold."""
        if self.thresholds_ is not None:
            return threshold_scores(self.logits(X), self.thresholds_)
        return decision_scores(self._scores(X))

    def predict_proba(self, X):
        """The class probabilities under the decision prior of each text of ``X``, an array
        of shape (n_samples, n_classes) with columns in the order of ``classes_``.
        Multi-label: each label's sigmoid probability."""
        if self.thresholds_ is not None:
            return sigmoid(self.logits(X))
        return softmax(self._scores(X))

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`, computed from the scores (a log-softmax; a
        multi-label model's log-sigmoid), so a probability too small for a float stays a
        finite log, as :meth:`SharpReCLClassifier.predict_log_proba` gives it."""
        if self.thresholds_ is not None:
            return log_sigmoid(self.logits(X))
        return log_softmax(self._scores(X))

    def predict(self, X):
        """The most probable class of each text of ``X`` under the decision prior.
        Multi-label: the indicator matrix of the labels that reach their thresholds."""
        if self.thresholds_ is not None:
            return threshold_predictions(self.predict_proba(X), self.thresholds_)
        return self.classes_[self._scores(X).argmax(axis=1)]

    def __repr__(self):
        precision = self.quantization or "fp32"
        return f"{type(self).__name__}({len(self.classes_)} classes, max_length={self.max_length}, {precision})"
