"""benchmarks/quantization.py: the int8 variants quantize the layers they name; the table renders."""

import torch

from benchmarks import quantization
# quantization.py quantizes the estimator's network module; building one needs no fit.
from sklearn_sharprecl._network.module import SharpReCLModule


def _is_int8(layer):
    return type(layer).__module__.startswith("torch.ao.nn.quantized")


def test_variants_quantize_what_they_name(tiny_encoder):
    module = SharpReCLModule(tiny_encoder, n_classes=3)
    query = module.encoder.encoder.layer[0].attention.self.query
    for name, (layers, per_channel) in quantization.VARIANTS.items():
        q = quantization.quantize_int8(module, layers, per_channel)
        assert _is_int8(q.encoder.encoder.layer[0].attention.self.query), name
        assert _is_int8(q.classifier) == (layers == "all"), name
        scheme = q.encoder.encoder.layer[0].attention.self.query.weight().qscheme()
        assert (scheme == torch.per_channel_affine) == per_channel, name
    assert not _is_int8(query)  # the fitted module itself is left as it was


def test_markdown_marks_the_variant_chosen_on_training_fidelity():
    rows = [{"variant": "fp32", "train_agreement": 1.0, "train_mean_abs_dp": 0.0, "test_macro_f1": 0.9,
             "predict_s": 2.0},
            {"variant": "encoder Linear, per-channel", "train_agreement": 0.99, "train_mean_abs_dp": 0.01,
             "test_macro_f1": 0.895, "predict_s": 1.0}]
    text = quantization.markdown({"cells": [{"cell": "trec", "n_test": 500, "max_length": 40, "settings": {},
                                             "rows": rows,
                                             "chosen_on_training_fidelity": "encoder Linear, per-channel"}]})
    assert "| encoder Linear, per-channel (chosen) | 99.00% | 0.0100 | 89.5 | -0.5 | 1.00 | 2.00x |" in text
