"""The user's validation set against a split of the training texts, on one suite cell.

``fit(X, y, X_val=, y_val=)`` chooses the epoch on a curated development set
and trains on every training text; ``validation_fraction`` holds a stratified
share of the (long-tailed) training texts out instead, rarest classes
included. Both fits use the shipped defaults and the same seed, on protocol
2's cell (its development split is the validation set); the record gives the
development and test macro-F1, the recall of the rarest class on both, and the
epoch each fit kept. A measurement, not a target::

    python -m benchmarks.validation_set --cell stackoverflow:50 --seed 0
"""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, recall_score

from sklearn_sharprecl import SharpReCLClassifier

from .encoders import load_tokenizer
from .reporting.records import write_results
from .run import choose_max_length, effective_params, load_cell

RESULTS = Path(__file__).resolve().parent / "results"


def scores(model, X, y, rarest):
    pred = model.predict(X)
    return {"macro_f1": f1_score(y, pred, average="macro"),
            "rarest_recall": recall_score(y, pred, labels=[rarest], average="macro", zero_division=0)}


def measure(dataset, ratio, seed, data, validation_fraction):
    X_train, y_train, X_test, y_test, _, (X_dev, y_dev) = load_cell(dataset, ratio, seed, data, protocol=2)
    labels, counts = np.unique(y_train, return_counts=True)
    rarest = labels[np.argmin(counts)]
    max_length = choose_max_length(X_train, load_tokenizer(None), quantile=1.0)
    ways = {"validation_fraction": ({"validation_fraction": validation_fraction}, {}),
            "X_val (development split)": ({}, {"X_val": X_dev, "y_val": y_dev})}
    rows = []
    for name, (params, fit_kwargs) in ways.items():
        model = SharpReCLClassifier(max_length=max_length, random_state=seed, **params)
        start, cpu = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train, **fit_kwargs)
        history = model.net_.history
        best = int(np.argmax(history[:, "valid_f1_macro"])) + 1
        rows.append({"way": name, "estimator_params": effective_params(model), "fit_seconds": time.perf_counter() - start,
                     "fit_cpu_seconds": time.process_time() - cpu, "epochs": len(history),
                     "best_epoch": best, "n_trained": int(np.sum(model.class_counts_)),
                     "dev": scores(model, X_dev, y_dev, rarest),
                     "test": scores(model, X_test, y_test, rarest)})
    return {"cell": f"{dataset} ir={ratio}", "seed": seed, "rarest_class": str(rarest),
            "rarest_training_texts": int(counts.min()), "validation_fraction": validation_fraction,
            "settings": "SharpReCLClassifier defaults (contrastive='auto', augment=None, head_init='auto'), "
                        f"max_length={max_length}", "rows": rows}


def markdown(results):
    lines = [f"# Validation set: {results['cell']}, seed {results['seed']}", "",
             f"{results['settings']}; rarest class {results['rarest_class']} "
             f"({results['rarest_training_texts']} training texts). Written by "
             "`python -m benchmarks.validation_set`.", "",
             "| validation | texts trained | best epoch | dev macro-F1 | test macro-F1 | "
             "rarest recall, dev | rarest recall, test | fit s |", "|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        lines.append(f"| {row['way']} | {row['n_trained']} | {row['best_epoch']} of {row['epochs']} | "
                     f"{100 * row['dev']['macro_f1']:.1f} | {100 * row['test']['macro_f1']:.1f} | "
                     f"{row['dev']['rarest_recall']:.2f} | {row['test']['rarest_recall']:.2f} | "
                     f"{row['fit_seconds']:.0f} |")
    lines += ["", f"Machine: {results['machine']}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell", default="stackoverflow:50")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--data", default=os.environ.get(
        "SHARPRECL_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "datasets")))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset, ratio = args.cell.split(":")
    results = measure(dataset, int(ratio), args.seed, args.data, args.validation_fraction)
    results["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
                          f"threads" + (f"; {args.note}" if args.note else ""))
    write_results(results, "validation_set", markdown(results), RESULTS)
    return results


if __name__ == "__main__":
    main()
