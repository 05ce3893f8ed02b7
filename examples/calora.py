"""Class-aware LoRA experts (CALoRA) as a second stage on a fitted SharpReCL model.

Stage 1 fits a ``SharpReCLClassifier`` on a long-tailed training set. Stage 2,
``CALoRAClassifier(base, rank=8, top_k=2)``, keeps all of it frozen and adds
one rank-8 LoRA expert per class to its classification layer; each text goes
through the experts of the two classes the base model ranks highest
(Zhu et al., "Adaptive Fine-Tuning for Class Imbalance in NLP"). Only the
experts are trained, on the base's features of the training texts, which are
computed once: stage 2 costs about one inference pass. A fitted base is used
as is and not modified, so both models can be compared on the same test set.

The script prints macro-F1 of both models on a balanced test set, the F1 of
the rarest training classes (where the experts are meant to help), and the
number of parameters the experts add next to the base model's.

    python examples/calora.py

uses the packaged all-MiniLM-L6-v2 encoder. See docs/calora.md for the layer.
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from sklearn_sharprecl import CALoRAClassifier, SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=None,
                        help="encoder directory or hub id (default: the packaged MiniLM)")
    parser.add_argument("--n-samples", type=int, default=400, help="training texts (generated)")
    parser.add_argument("--n-test", type=int, default=300, help="balanced test texts (generated)")
    parser.add_argument("--imbalance-ratio", type=float, default=20.0, help="largest / smallest class")
    parser.add_argument("--max-epochs", type=int, default=4, help="epochs of the base model (stage 1)")
    parser.add_argument("--max-length", type=int, default=32, help="tokens per text")
    parser.add_argument("--rank", type=int, default=8, help="rank of each class's expert")
    parser.add_argument("--top-k", type=int, default=2, help="experts per text")
    parser.add_argument("--lora-epochs", type=int, default=20, help="epochs of stage 2")
    parser.add_argument("--n-rare", type=int, default=2, help="how many of the rarest classes to show")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X_train, y_train = make_support_tickets(args.n_samples, args.imbalance_ratio, random_state=args.seed)
    X_test, y_test = make_support_tickets(args.n_test, 1.0, random_state=args.seed + 1)

    start = time.perf_counter()
    base = SharpReCLClassifier(
        encoder=args.encoder,
        max_length=args.max_length,
        max_epochs=args.max_epochs,
        random_state=args.seed,
    ).fit(X_train, y_train)
    base_seconds = time.perf_counter() - start
    start = time.perf_counter()
    experts = CALoRAClassifier(
        base, rank=args.rank, top_k=args.top_k, max_epochs=args.lora_epochs, random_state=args.seed
    ).fit(X_train, y_train)
    experts_seconds = time.perf_counter() - start

    classes = base.classes_
    train_counts = pd.Series(np.sum(y_train[:, None] == classes, axis=0), index=classes)
    predictions = {
        "SharpReCL": base.predict(X_test),
        f"+ CALoRA (r={args.rank}, k={args.top_k})": experts.predict(X_test),
    }
    per_class = pd.DataFrame(
        {name: f1_score(y_test, y_pred, labels=classes, average=None, zero_division=0)
         for name, y_pred in predictions.items()},
        index=classes,
    )
    per_class.insert(0, "train count", train_counts)
    per_class = per_class.sort_values("train count", ascending=False, kind="stable")
    per_class.index.name = "class"
    macro = {name: f1_score(y_test, y_pred, average="macro") for name, y_pred in predictions.items()}

    n_base = sum(p.numel() for p in base.net_.module_.parameters())
    n_added = experts.n_trainable_parameters_
    print(f"train: {len(X_train)} texts, long-tailed (ratio {args.imbalance_ratio:g}); "
          f"test: {len(X_test)} texts, balanced")
    print(f"stage 1 (SharpReCL, {len(base.net_.history)} epoch(s)): {base_seconds:.1f} s; "
          f"stage 2 (experts, {args.lora_epochs} epochs): {experts_seconds:.1f} s")
    print(f"parameters: base model {n_base:,}; experts add {n_added:,} "
          f"({100 * n_added / n_base:.2f}% of the base), the only ones trained in stage 2\n")
    print("F1 per class on the balanced test set, largest training class first:")
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(per_class.reset_index().to_string(index=False))
    print()
    for name, value in macro.items():
        print(f"macro-F1 {name}: {value:.4f}")
    rare = per_class.index[-args.n_rare:][::-1].tolist()
    for c in rare:
        print(f"rare class {c!r} ({train_counts[c]} training texts): F1 "
              + " -> ".join(f"{per_class.loc[c, name]:.4f}" for name in predictions))
    base_name, calora_name = predictions
    return {
        "base_macro_f1": float(macro[base_name]),
        "calora_macro_f1": float(macro[calora_name]),
        "per_class_f1": per_class,
        "rarest_classes": rare,
        "n_base_parameters": n_base,
        "n_added_parameters": n_added,
    }


if __name__ == "__main__":
    main()
