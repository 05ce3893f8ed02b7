"""Which int8 dynamic quantization keeps a fitted model's decisions (issue #16).

Fits LA-CE (w/o CL) once per cell (TREC ir=50 seed 0 with the study recipe
``r1-linear-all``; R52 with the full profile's settings: 2 epochs, top 2 layers
trained) and scores several int8 copies of the same fitted network:

- which ``nn.Linear`` layers are quantized: every one (heads included) or the
  encoder's only (the classifier head stays fp32);
- per-tensor or per-channel weight scales.

The variant is chosen by its *fidelity to fp32 on training texts* (argmax
agreement, then mean absolute probability change): no label and no test text
takes part in the choice. Test macro-F1 and predict time are reported for every
variant beside fp32, timed side by side in one run.

Writes ``results/quantization.json`` and ``results/quantization.md``.

    python benchmarks/quantization.py [--cells trec r52]
"""

import argparse
import copy
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import RECIPES  # noqa: E402
from peers import make_method  # noqa: E402
from run import DEFAULT_DATA, choose_max_length, load_cell  # noqa: E402

from sklearn_sharprecl._encoder import load_tokenizer, resolve_encoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CELLS = {
    "trec": {"dataset": "trec", "ratio": 50, "max_epochs": 4, "length_quantile": 1.0,
             "params": RECIPES["r1-linear-all"]["params"]},
    "r52": {"dataset": "r52", "ratio": None, "max_epochs": 2, "length_quantile": 0.95,
            "params": {"train_layers": 2}},
}


def quantized(module, layers, per_channel):
    """An int8 dynamically quantized copy of ``module``: ``layers`` 'all' or 'encoder'."""
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    copied = copy.deepcopy(module).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if layers == "all":
            return quantize_dynamic(copied, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
        copied.encoder = quantize_dynamic(copied.encoder, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
        return copied


VARIANTS = {
    "all Linear, per-tensor": ("all", False),
    "encoder Linear, per-tensor": ("encoder", False),
    "all Linear, per-channel": ("all", True),
    "encoder Linear, per-channel": ("encoder", True),
}


def predict_with(model, module, texts):
    """``predict_proba`` of ``texts`` through ``module`` in place of the fitted network, and seconds."""
    fitted = model.net_.module_
    model.net_.module_ = module
    try:
        tic = time.perf_counter()
        proba = model.predict_proba(texts)
        return proba, time.perf_counter() - tic
    finally:
        model.net_.module_ = fitted


def study_cell(name, data_home, n_fidelity=1000, seed=0):
    spec = CELLS[name]
    X_train, y_train, X_test, y_test = load_cell(spec["dataset"], spec["ratio"], seed, data_home)
    tokenizer = load_tokenizer(resolve_encoder(None))
    max_length = choose_max_length(X_train, tokenizer, spec["length_quantile"])
    model = make_method("LA-CE (w/o CL)", seed, max_length, None, spec["max_epochs"], spec["params"])
    tic = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - tic
    rng = np.random.RandomState(seed)
    pick = rng.choice(len(X_train), min(n_fidelity, len(X_train)), replace=False)
    fidelity_texts = [X_train[i] for i in pick]

    fitted = model.net_.module_
    train_fp32, _ = predict_with(model, fitted, fidelity_texts)
    test_fp32, fp32_s = predict_with(model, fitted, X_test)
    rows = [{"variant": "fp32", "test_macro_f1": float(f1_score(y_test, model.classes_[test_fp32.argmax(1)],
                                                                 average="macro")),
             "predict_s": fp32_s, "train_agreement": 1.0, "train_mean_abs_dp": 0.0}]
    for variant, (layers, per_channel) in VARIANTS.items():
        module = quantized(fitted, layers, per_channel)
        train_q, _ = predict_with(model, module, fidelity_texts)
        test_q, seconds = predict_with(model, module, X_test)
        rows.append({
            "variant": variant,
            "train_agreement": float((train_q.argmax(1) == train_fp32.argmax(1)).mean()),
            "train_mean_abs_dp": float(np.abs(train_q - train_fp32).mean()),
            "test_macro_f1": float(f1_score(y_test, model.classes_[test_q.argmax(1)], average="macro")),
            "predict_s": seconds,
        })
    chosen = max(rows[1:], key=lambda r: (r["train_agreement"], -r["train_mean_abs_dp"]))["variant"]
    return {"cell": name, "n_train": len(X_train), "n_test": len(X_test), "n_fidelity": len(pick),
            "max_length": max_length, "fit_s": fit_s, "settings": {"max_epochs": spec["max_epochs"],
                                                                    **spec["params"]},
            "rows": rows, "chosen_on_training_fidelity": chosen}


def markdown(results):
    lines = ["# int8 dynamic quantization: which layers, which scales", "",
             "Generated by `python benchmarks/quantization.py`. One LA-CE (w/o CL) fit per cell, every "
             "int8 copy made from the same fitted fp32 network; predict times side by side in one run "
             "(the quantized copy is built before timing). The variant is chosen on its agreement with "
             "fp32 on training texts (no labels, no test texts); test macro-F1 is reported, not used.", ""]
    for cell in results["cells"]:
        fp32 = cell["rows"][0]
        lines += [f"## {cell['cell']} ({cell['n_test']} test texts, max_length {cell['max_length']}, "
                  f"settings {json.dumps(cell['settings'])})", "",
                  "| variant | agreement with fp32 (train) | mean abs. prob. change (train) | test macro-F1 | "
                  "Δ vs fp32 | predict (s) | throughput vs fp32 |",
                  "|---|---|---|---|---|---|---|"]
        for r in cell["rows"]:
            mark = " (chosen)" if r["variant"] == cell["chosen_on_training_fidelity"] else ""
            lines.append(f"| {r['variant']}{mark} | {100 * r['train_agreement']:.2f}% | {r['train_mean_abs_dp']:.4f} | "
                         f"{100 * r['test_macro_f1']:.1f} | {100 * (r['test_macro_f1'] - fp32['test_macro_f1']):+.1f} | "
                         f"{r['predict_s']:.2f} | {fp32['predict_s'] / r['predict_s']:.2f}x |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--data", default=os.environ.get("SHARPRECL_DATA", str(DEFAULT_DATA)))
    args = parser.parse_args(argv)
    path = RESULTS / "quantization.json"
    results = json.loads(path.read_text()) if path.exists() else {"cells": []}
    for name in args.cells:
        cell = study_cell(name, args.data)
        print(json.dumps(cell, indent=1), flush=True)
        results["cells"] = [c for c in results["cells"] if c["cell"] != name] + [cell]
        path.write_text(json.dumps(results, indent=1))
        (RESULTS / "quantization.md").write_text(markdown(results))


if __name__ == "__main__":
    main()
