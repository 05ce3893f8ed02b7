"""Quickstart: fit SharpReCL on long-tailed texts, score it on a balanced test set.

The training set is a generated, long-tailed corpus of support tickets (six
classes, the largest ``--imbalance-ratio`` times the smallest); the test set is
generated from another seed with every class the same size, so each class
counts equally in the scores. The script prints imbalanced-learn's per-class
report (precision, recall, specificity, F1, geometric mean, index of balanced
accuracy) and the macro-F1.

    python examples/quickstart.py

uses the packaged all-MiniLM-L6-v2 encoder and needs no data and no network.
``--encoder PATH`` takes any local encoder directory (or hub id).
"""

import argparse
import time

import numpy as np
from imblearn.metrics import classification_report_imbalanced, geometric_mean_score
from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=None,
                        help="encoder directory or hub id (default: the packaged MiniLM)")
    parser.add_argument("--n-samples", type=int, default=400, help="training texts (generated)")
    parser.add_argument("--n-test", type=int, default=300, help="balanced test texts (generated)")
    parser.add_argument("--imbalance-ratio", type=float, default=20.0, help="largest / smallest class")
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=32, help="tokens per text")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X_train, y_train = make_support_tickets(args.n_samples, args.imbalance_ratio, random_state=args.seed)
    X_test, y_test = make_support_tickets(args.n_test, 1.0, random_state=args.seed + 1)
    classes, counts = np.unique(y_train, return_counts=True)
    class_counts = dict(zip(classes.tolist(), counts.tolist()))
    print(f"train: {len(X_train)} texts, class counts {class_counts}")
    print(f"test:  {len(X_test)} texts, balanced")

    clf = SharpReCLClassifier(
        encoder=args.encoder,
        max_length=args.max_length,
        max_epochs=args.max_epochs,
        random_state=args.seed,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    y_pred = clf.predict(X_test)

    print()
    print(classification_report_imbalanced(y_test, y_pred, zero_division=0))
    macro_f1 = f1_score(y_test, y_pred, average="macro")
    g_mean = geometric_mean_score(y_test, y_pred, average="multiclass")
    epochs = len(clf.net_.history)
    print(f"macro-F1 on the balanced test set: {macro_f1:.4f}")
    print(f"geometric mean of the recalls:     {g_mean:.4f}")
    print(f"fit: {fit_seconds:.1f} s, {epochs} epoch(s)")
    return {
        "macro_f1": float(macro_f1),
        "geometric_mean": float(g_mean),
        "class_counts": class_counts,
        "n_test": len(X_test),
        "epochs": epochs,
        "fit_seconds": fit_seconds,
    }


if __name__ == "__main__":
    main()
