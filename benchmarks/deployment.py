"""Torch-free deployment: throughput and macro-F1 of ONNX fp32 and int8 beside torch.

Fits one SharpReCLClassifier per cell, cheaply (``contrastive=None``, one
epoch, a subset of the training split: this measures inference, not the
method), exports it with ``export_onnx()`` (fp32, and int8 through
onnxruntime's dynamic quantization) and predicts the whole test split with
each variant side by side in one run:

- torch fp32: the estimator's ``predict_proba``;
- torch int8: ``quantize_int8()``'s copy (the in-torch alternative);
- ONNX fp32 and ONNX int8: ``sklearn_sharprecl.deploy.ONNXTextClassifier``.

Every variant runs on the same number of threads, after a warm-up call; a
variant's time is the best of ``--repeats`` passes over the test texts.
Macro-F1 changes and argmax agreement are against torch fp32.

Writes ``results/deployment.json`` and ``results/deployment.md``.

    python -m benchmarks.deployment                        # TREC (ir=50) and R52
    python -m benchmarks.deployment --cells trec --threads 2
    python -m benchmarks.deployment --quick --encoder DIR --data DIR --out DIR   # smoke run
"""

import argparse
import os
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import load_text_dataset, make_long_tailed
from sklearn_sharprecl.deploy import MODEL_FILE, ONNXTextClassifier

from .encoders import load_tokenizer
from .reporting.records import cpu_model, write_results
from .run import choose_max_length

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# Training subsets small enough for a fit of a few minutes on a laptop CPU.
CELLS = {
    "trec": {"dataset": "trec", "ratio": 50, "n_train": 1500, "length_quantile": 1.0},
    "r52": {"dataset": "r52", "ratio": None, "n_train": 1000, "length_quantile": 0.95},
}
QUICK = {"n_train": 60, "n_test": 40, "max_length": 32, "repeats": 1}
VARIANTS = ("torch fp32", "torch int8", "ONNX fp32", "ONNX int8")


def load_subset(spec, data_home, n_train, n_test, seed):
    """A random training subset (of the long-tailed split where the cell has a ratio) and the test split."""
    X_train, y_train = load_text_dataset(spec["dataset"], "train", data_home=data_home, return_X_y=True)
    X_test, y_test = load_text_dataset(spec["dataset"], "test", data_home=data_home, return_X_y=True)
    if spec["ratio"] is not None:
        X_train, y_train = make_long_tailed(X_train, y_train, spec["ratio"], random_state=seed)
    rng = np.random.RandomState(seed)
    keep = np.sort(rng.choice(len(X_train), min(n_train, len(X_train)), replace=False))
    X_train, y_train = [X_train[i] for i in keep], np.asarray(y_train)[keep]
    if n_test is not None:
        pick = np.sort(rng.choice(len(X_test), min(n_test, len(X_test)), replace=False))
        X_test, y_test = [X_test[i] for i in pick], np.asarray(y_test)[pick]
    return X_train, y_train, list(X_test), np.asarray(y_test)


def timed(predict_proba, texts, repeats):
    """Probabilities and the best of ``repeats`` wall times of ``predict_proba(texts)``, after a warm-up."""
    predict_proba(texts[:8])
    best, proba = np.inf, None
    for _ in range(repeats):
        tic = time.perf_counter()
        proba = predict_proba(texts)
        best = min(best, time.perf_counter() - tic)
    return proba, best


def predictors(model, directories, threads):
    """``predict_proba`` of each variant, by name."""
    onnx = {name: ONNXTextClassifier.load(path, batch_size=model.batch_size, intra_op_num_threads=threads)
            for name, path in directories.items()}
    return {"torch fp32": model.predict_proba, "torch int8": model.quantize_int8().predict_proba,
            "ONNX fp32": onnx["ONNX fp32"].predict_proba, "ONNX int8": onnx["ONNX int8"].predict_proba}


def score_variants(model, directories, X_test, y_test, threads, repeats):
    """One row per variant: seconds, texts per second, macro-F1 and agreement with torch fp32."""
    rows, reference = [], None
    for name, predict_proba in predictors(model, directories, threads).items():
        proba, seconds = timed(predict_proba, X_test, repeats)
        reference = proba if reference is None else reference
        row = {"variant": name, "seconds": seconds, "texts_per_s": len(X_test) / seconds,
               "macro_f1": float(f1_score(y_test, model.classes_[proba.argmax(1)], average="macro")),
               "agreement_with_torch_fp32": float((proba.argmax(1) == reference.argmax(1)).mean()),
               "max_abs_dp_vs_torch_fp32": float(np.abs(proba - reference).max())}
        if name in directories:
            row["model_mb"] = (directories[name] / MODEL_FILE).stat().st_size / 2**20
        rows.append(row)
    for row in rows:
        row["speedup_vs_torch_fp32"] = row["texts_per_s"] / rows[0]["texts_per_s"]
        row["macro_f1_change_vs_torch_fp32"] = row["macro_f1"] - rows[0]["macro_f1"]
    return rows


def bench_cell(name, args):
    """Fit, export and score one cell."""
    spec = CELLS[name]
    n_train = QUICK["n_train"] if args.quick else args.n_train or spec["n_train"]
    n_test = QUICK["n_test"] if args.quick else args.n_test
    X_train, y_train, X_test, y_test = load_subset(spec, args.data, n_train, n_test, args.seed)
    # fp32, the precision the exported graph computes in: the rows compare formats, not precisions.
    model = SharpReCLClassifier(args.encoder, contrastive=None, max_epochs=1, random_state=args.seed,
                                precision="fp32")
    max_length = (QUICK["max_length"] if args.quick
                  else choose_max_length(X_train, load_tokenizer(args.encoder), spec["length_quantile"]))
    model.set_params(max_length=max_length)
    tic = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - tic
    with tempfile.TemporaryDirectory() as scratch:
        directories = {"ONNX fp32": model.export_onnx(Path(scratch) / "fp32"),
                       "ONNX int8": model.export_onnx(Path(scratch) / "int8", quantize="int8")}
        rows = score_variants(model, directories, X_test, y_test, args.threads, args.repeats)
    return {"cell": name, "dataset": spec["dataset"], "imbalance_ratio": spec["ratio"], "n_train": len(X_train),
            "n_test": len(X_test), "n_classes_trained": len(model.classes_), "max_length": max_length,
            "fit_s": fit_s, "rows": rows}


def machine(threads):
    """What the times were measured on."""
    model = cpu_model()
    return {"cpu": model, "cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "onnxruntime": version("onnxruntime"), "onnx": version("onnx")}


def markdown(results):
    """The results as a Markdown page, one table per cell."""
    m = results["machine"]
    command = "python -m benchmarks.deployment" + (" --quick" if results["quick"] else "")
    lines = ["# Deployment: ONNX fp32 and int8 beside torch", "",
             f"Generated by `{command}`"
             + (" (a smoke run: tiny model and data, numbers mean nothing)" if results["quick"] else "")
             + f". One cheap fit per cell (`contrastive=None`, 1 epoch, a training subset), the test texts "
             f"predicted by every variant side by side; best of {results['repeats']} timed passes after a "
             f"warm-up. {m['cpu']}; torch and onnxruntime on {m['threads']} thread(s) each; torch {m['torch']}, "
             f"onnxruntime {m['onnxruntime']}.", ""]
    for cell in results["cells"]:
        ratio = f", ir={cell['imbalance_ratio']}" if cell["imbalance_ratio"] else ""
        lines += [f"## {cell['dataset']}{ratio}: {cell['n_train']} training texts, {cell['n_test']} test texts, "
                  f"max_length {cell['max_length']}", "",
                  "| variant | texts/s | vs torch fp32 | macro-F1 | Δ macro-F1 (points) | agreement with torch fp32 "
                  "| model file (MB) |", "|---|---|---|---|---|---|---|"]
        for r in cell["rows"]:
            size = f"{r['model_mb']:.1f}" if "model_mb" in r else "–"
            lines.append(f"| {r['variant']} | {r['texts_per_s']:.1f} | {r['speedup_vs_torch_fp32']:.2f}x | "
                         f"{100 * r['macro_f1']:.1f} | {100 * r['macro_f1_change_vs_torch_fp32']:+.1f} | "
                         f"{100 * r['agreement_with_torch_fp32']:.1f}% | {size} |")
        lines.append("")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--encoder", default=None, help="local encoder directory (default: packaged MiniLM)")
    parser.add_argument("--data", default=os.environ.get("SHARPRECL_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--n-train", type=int, default=None, help="training subset size (default: the cell's)")
    parser.add_argument("--n-test", type=int, default=None, help="test texts (default: the whole split)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 60 training and 40 test texts, max_length 32, one pass (needs --out)")
    parser.add_argument("--out", default=None, help="results folder (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out: a smoke run never replaces the recorded results")
    if args.quick:
        args.repeats = QUICK["repeats"]
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {"quick": args.quick, "repeats": args.repeats, "seed": args.seed, "machine": machine(args.threads),
               "encoder": args.encoder or "all-MiniLM-L6-v2 (packaged)",
               "cells": [bench_cell(name, args) for name in args.cells]}
    write_results(results, "deployment", markdown(results), Path(args.out) if args.out else RESULTS)
    return results


if __name__ == "__main__":
    main()
