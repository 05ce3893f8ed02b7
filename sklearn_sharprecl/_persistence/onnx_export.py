"""Export a fitted SharpReCLClassifier to ONNX, for torch-free inference.

The directory written here is read by :mod:`sklearn_sharprecl.deploy` (see
its docstring for the layout). Exporting needs torch, ``onnx`` and
``onnxruntime``; int8 models are made by onnxruntime's dynamic quantization.
"""

import inspect
import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import deploy
from .._shared.files import write_directory_atomically
from .._shared.scores import log_decision_prior_shift

_OPSET = 17  # LayerNormalization is one operator from opset 17 on
_CLASSIFIER_SCOPE = "/module/classifier/"  # node-name prefix of the classifier head in the graph


class _LogitsOnly(nn.Module):
    """The module's forward reduced to what inference needs: token ids and mask in, logits out."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, input_ids, attention_mask):
        return self.module(input_ids=input_ids, attention_mask=attention_mask)[0]


def decision_log_shift(estimator):
    """``log(decision prior / trained prior)`` per class, as the estimator's ``predict_proba`` applies it
    (the shift of :func:`~sklearn_sharprecl._shared.scores.decision_prior_shift`; zeros for None)."""
    return log_decision_prior_shift(estimator.decision_prior, estimator.class_counts_,
                                    estimator.classification_loss)


def _check_exportable(estimator, quantize):
    """Refuse what the export cannot reproduce, before any file is written."""
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}.")
    if getattr(estimator, "quantized_", False):
        raise ValueError("An int8 copy made by quantize_int8() cannot be exported; export the model it "
                         "was made from with quantize='int8'.")
    if estimator.truncation != "head":
        raise ValueError(
            f"export_onnx supports truncation='head' only; this model uses "
            f"truncation={estimator.truncation!r}, whose token selection (and, for 'chunks', pooling "
            "over windows) the ONNX loader does not reproduce. Set truncation='head' on the fitted "
            "model (it changes inference only) to export it, or serve it with torch.")
    classes = estimator.classes_.tolist()
    if not all(isinstance(c, (str, int, float, bool)) for c in classes):
        raise ValueError(f"Only str, int, float or bool class labels can be exported, got "
                         f"{type(classes[0]).__name__}.")
    if getattr(estimator, "thresholds_", None) is not None and estimator.decision_prior is not None:
        raise ValueError("decision_prior is single-label: a multi-label model decides by its "
                         "per-label thresholds_; set decision_prior=None to export it.")
    if getattr(estimator.tokenizer_, "backend_tokenizer", None) is None:
        raise ValueError(f"export_onnx needs a fast tokenizer (one backed by the tokenizers library); "
                         f"{type(estimator.tokenizer_).__name__} is not.")


def _sample_inputs(estimator, batch, width, device):
    """Padded token ids of ``batch`` texts of decreasing length (the first ``width`` tokens long).

    Every row but the first is padded: some encoders skip the attention mask
    for a batch without padding, and a trace would keep that shortcut.
    """
    text = " ".join(["export"] * estimator.max_length)
    ids = estimator.tokenizer_([text], truncation=True, max_length=width)["input_ids"][0]
    pad = estimator.tokenizer_.pad_token_id or 0
    input_ids = torch.full((batch, len(ids)), pad, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for row in range(batch):
        n = max(1, len(ids) - row * max(1, len(ids) // batch))
        input_ids[row, :n] = torch.as_tensor(ids[:n])
        mask[row, :n] = 1
    return input_ids.to(device), mask.to(device)


def _torchscript_exporter():
    """``dynamo=False`` where torch.onnx.export has the argument (torch >= 2.5), else nothing."""
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def _export_fp32(module, estimator, path):
    """Trace ``module`` into an fp32 ONNX file and check it against torch on inputs of another shape."""
    import onnxruntime

    wrapper = _LogitsOnly(module).eval()
    device = next(module.parameters()).device
    sample = _sample_inputs(estimator, 2, min(estimator.max_length, 8), device)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter (deprecated in favour of the torch.export one, which needs
        # onnxscript) traces transformers' encoders with dynamic axes reliably; its tracer
        # warnings concern shape checks that hold for every padded batch (checked below).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, sample, str(path), input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "logits": {0: "batch"}},
            opset_version=_OPSET, **_torchscript_exporter())
        check = _sample_inputs(estimator, 3, min(estimator.max_length, 5), device)
        expected = wrapper(*check).float().cpu().numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"input_ids": check[0].cpu().numpy(), "attention_mask": check[1].cpu().numpy()})[0]
    if not np.allclose(got, expected, atol=1e-3, rtol=1e-3):
        raise RuntimeError(f"The exported graph disagrees with the torch model on a batch of another shape "
                           f"(max abs. difference {np.abs(got - expected).max():.3g}); this encoder does "
                           "not trace to ONNX faithfully.")


class _DropPreprocessingAdvice(logging.Filter):
    """Drops quantize_dynamic's advice to pre-process the model first: the symbolic shape
    inference it points to fails on the dynamic sequence axis of transformers' graphs."""

    def filter(self, record):
        return not record.getMessage().startswith("Please consider to run pre-processing")


def _quantize_int8(source, target):
    """onnxruntime dynamic int8 quantization of the encoder's linear layers (the head stays fp32).

    As ``quantize_int8()`` on the torch model: the weights of matrix products
    with a constant operand get per-channel int8 scales; embeddings and the
    classifier head stay fp32 (quantize_dynamic turns the head's Gemm into a
    ``<name>_MatMul`` node before quantizing, hence both names are excluded).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    head = [node.name for node in graph.node if node.name.startswith(_CLASSIFIER_SCOPE)]
    advice = _DropPreprocessingAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(str(source), str(target), op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8,
                         nodes_to_exclude=head + [f"{name}_MatMul" for name in head])
    finally:
        logging.getLogger().removeFilter(advice)


def _write_tokenizer(estimator, path):
    """The estimator's fast tokenizer as tokenizer.json, truncating to ``max_length``, not padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(estimator.tokenizer_.backend_tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(estimator.max_length, direction=estimator.tokenizer_.truncation_side)
    tokenizer.save(str(path))


def _write_model(estimator, fp32_path, quantize, path):
    """The network as ONNX at ``path``: the fp32 trace, or its int8 quantization."""
    module = estimator.net_.module_
    was_training = module.training
    try:
        _export_fp32(module, estimator, fp32_path if quantize else path)
    finally:
        module.train(was_training)
    if quantize == "int8":
        _quantize_int8(fp32_path, path)


def _config(estimator, quantize, shift, directory):
    from importlib.metadata import version

    from .. import __version__

    return {
        "format": deploy.FORMAT,
        "format_version": deploy.FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "classes": estimator.classes_.tolist(),
        "classes_dtype": estimator.classes_.dtype.str,
        "log_prior_shift": shift.tolist(),
        "max_length": int(estimator.max_length),
        "truncation": "head",
        "truncation_side": estimator.tokenizer_.truncation_side,
        "pad_token_id": int(estimator.tokenizer_.pad_token_id or 0),
        "quantization": quantize,
        **_multilabel_config(estimator),
        "opset": _OPSET,
        "versions": {"sklearn-sharprecl": __version__, "torch": torch.__version__,
                     "onnx": version("onnx"), "onnxruntime": version("onnxruntime")},
        "sha256": {name: deploy.sha256(directory / name) for name in (deploy.MODEL_FILE, deploy.TOKENIZER_FILE)},
    }


def _multilabel_config(estimator):
    """A multi-label model's per-label thresholds; the loader then applies a sigmoid per label."""
    thresholds = getattr(estimator, "thresholds_", None)
    return {} if thresholds is None else {"multilabel": True, "thresholds": [float(t) for t in thresholds]}


def export_onnx(estimator, path, *, quantize=None):
    """Write a fitted SharpReCLClassifier as ONNX, for inference without torch.

    Parameters
    ----------
    estimator : SharpReCLClassifier
        Fitted, with ``truncation='head'`` and a fast tokenizer.
    path : str or path-like
        Directory, created if needed. It must be new, empty, or hold a
        previous export, whose three files are replaced (other files in it
        are kept); anything else raises ``FileExistsError``. The export is
        written into a new folder beside it, which replaces it only once
        complete: a failed export leaves it as it was.
    quantize : {None, 'int8'}, default=None
        ``'int8'``: the encoder's matrix products are dynamically quantized
        by onnxruntime (per-channel int8 weights); the classifier head stays
        fp32.

    Returns
    -------
    path : pathlib.Path
        Load it with ``sklearn_sharprecl.deploy.ONNXTextClassifier.load(path)``.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    _check_exportable(estimator, quantize)
    shift = decision_log_shift(estimator)  # refuses a bad decision prior before any file is written

    def write(folder):
        with tempfile.TemporaryDirectory() as scratch:  # the fp32 graph an int8 one is made from
            _write_model(estimator, Path(scratch) / "fp32.onnx", quantize, folder / deploy.MODEL_FILE)
        _write_tokenizer(estimator, folder / deploy.TOKENIZER_FILE)
        config = _config(estimator, quantize, shift, folder)
        (folder / deploy.CONFIG_FILE).write_text(json.dumps(config, indent=2))

    # Every file is made in a new folder, swapped in when complete: a failure leaves the
    # target directory as it was.
    return write_directory_atomically(
        path, write, holds=deploy.holds_export, is_own=lambda entry: entry.name in deploy.OWN_FILES,
        what="exported model", verb="export")
