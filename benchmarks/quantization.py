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
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoders import load_tokenizer  # noqa: E402
from methods import neural_settings  # noqa: E402
from peers import make_method  # noqa: E402
from run import DEFAULT_DATA, choose_max_length, effective_params, load_cell  # noqa: E402

import sklearn_sharprecl  # noqa: E402

# The estimator's public ``quantize_int8()`` makes one variant (encoder Linear
# layers, per-channel scales: the one this study chose); comparing the others
# needs the function behind it, which takes the layers and scales to use.
from sklearn_sharprecl._quantize import quantize_int8  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CELLS = {
    "trec": {"dataset": "trec", "ratio": 50, "max_epochs": 4, "length_quantile": 1.0,
             "params": neural_settings("r1-linear-all")},
    "r52": {"dataset": "r52", "ratio": None, "max_epochs": 2, "length_quantile": 0.95,
            "params": {"train_layers": 2}},
}


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
    X_train, y_train, X_test, y_test, _, _ = load_cell(spec["dataset"], spec["ratio"], seed, data_home)
    tokenizer = load_tokenizer(None)
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
        module = quantize_int8(fitted, layers, per_channel)
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
            "estimator_params": effective_params(model), "library_version": sklearn_sharprecl.__version__,
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
