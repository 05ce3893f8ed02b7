"""int8 dynamic quantization of a fitted network, for CPU inference."""

import copy
import warnings

import torch


def quantize_int8(module, layers="encoder", per_channel=True):
    """An int8 dynamically quantized copy of ``module``'s ``nn.Linear`` layers.

    ``layers='all'`` quantizes every one, heads included; ``'encoder'`` only
    the encoder's. ``per_channel`` gives each output row its own weight scale.
    The defaults are the variant closest to fp32 on training texts in
    ``benchmarks/quantization.py`` (TREC: 98.5% agreement, per-tensor 98.1%).
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    spec = {torch.nn.Linear: per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig}
    copied = copy.deepcopy(module).eval()
    with warnings.catch_warnings():
        # torch points to torchao for new code; the fbgemm/x86 kernels behind
        # quantize_dynamic are still the fast path for CPU inference.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        if layers == "all":
            return quantize_dynamic(copied, spec, dtype=torch.qint8)
        copied.encoder = quantize_dynamic(copied.encoder, spec, dtype=torch.qint8)
        return copied
