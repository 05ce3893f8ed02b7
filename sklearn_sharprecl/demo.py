"""Demo: train SharpReCL on a long-tailed ticket corpus and report per class.

Run with ``python -m sklearn_sharprecl.demo`` (or ``make demo``). Needs nothing
outside the installed package: the corpus is generated, the encoder is the
packaged all-MiniLM-L6-v2.
"""

import argparse
import time

import numpy as np
from imblearn.metrics import classification_report_imbalanced
from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._text.synthetic import make_support_tickets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--imbalance-ratio", type=float, default=20.0)
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", default=None, help="model directory (default: packaged MiniLM)")
    args = parser.parse_args(argv)

    X_train, y_train = make_support_tickets(args.n_train, args.imbalance_ratio, args.seed)
    # A balanced test set from another seed: every class counts the same.
    X_test, y_test = make_support_tickets(300, 1.0, args.seed + 1)
    labels, counts = np.unique(y_train, return_counts=True)
    listing = ", ".join(f"{label} {count}" for label, count in zip(labels.tolist(), counts.tolist()))
    print(f"train: {len(X_train)} texts; examples per class: {listing}")

    clf = SharpReCLClassifier(
        encoder=args.encoder,
        max_length=32, max_epochs=args.max_epochs, random_state=args.seed, verbose=1
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    y_pred = clf.predict(X_test)

    print(classification_report_imbalanced(y_test, y_pred, zero_division=0))
    epochs = len(clf.net_.history)
    print(f"macro-F1 on the balanced test set: {f1_score(y_test, y_pred, average='macro'):.4f}")
    print(f"fit: {seconds:.1f} s for {epochs} epochs ({np.mean(clf.net_.history[:, 'dur']):.1f} s per epoch)")


if __name__ == "__main__":
    main()
