"""Deployment of a fitted model: an int8 copy for the CPU, an ONNX export."""

import copy

import torch
from sklearn.utils.validation import check_is_fitted

from .._network.quantize import quantize_int8


class DeploymentMixin:
    """:meth:`quantize_int8` and :meth:`export_onnx` of a fitted estimator with a ``net_``."""

    def quantize_int8(self):
        """A copy of this fitted model that predicts with int8 weights on the CPU.

        The encoder's ``nn.Linear`` layers are dynamically quantized with
        per-channel weight scales (``torch.ao.quantization.quantize_dynamic``);
        the heads stay fp32 and the forward passes run outside bf16 autocast.
        This model is left as it is. The copy predicts, transforms and
        estimates priors; it cannot be saved (save this model instead).

        Returns
        -------
        quantized : SharpReCLClassifier
        """
        check_is_fitted(self)
        if torch.device(self.net_.device).type != "cpu":
            raise ValueError("int8 inference runs on the CPU only; this model is on "
                             f"{self.net_.device!r}. Load it with device='cpu'.")
        quantized = copy.copy(self)
        net = copy.copy(self.net_)
        vars(net).update(module_=quantize_int8(self.net_.module_), precision="fp32")
        vars(quantized).update(net_=net, quantized_=True)
        return quantized

    def export_onnx(self, path, *, quantize=None):
        """Write this fitted model as ONNX, for inference without torch.

        The export holds the ONNX graph of the encoder and classifier, the
        tokenizer and a JSON of the classes and the decision prior;
        :class:`sklearn_sharprecl.deploy.ONNXTextClassifier` loads it with
        onnxruntime, tokenizers and numpy only (``pip install
        sklearn-sharprecl[onnx]``). Only ``truncation='head'`` is exported.
        The graph computes in fp32, whatever ``precision_`` the model was
        trained in (bf16 predictions differ from it by bf16's rounding).

        Parameters
        ----------
        path : str or path-like
            Directory: new, empty, or a previous export, whose three files are
            replaced (other files are kept); anything else raises ``FileExistsError``.
        quantize : {None, 'int8'}, default=None
            ``'int8'``: onnxruntime dynamic quantization of the encoder's linear
            layers; the head stays fp32.

        Returns
        -------
        path : pathlib.Path
        """
        # Imported here: the export needs onnx and onnxruntime, an optional extra.
        from .._persistence.onnx_export import export_onnx

        return export_onnx(self, path, quantize=quantize)
