"""SharpReCL against imbalanced-learn's classic remedies, in one table.

Every model is fitted on the same long-tailed training set and scored on a
balanced held-out set (every class the same size) by macro-F1 and by the
geometric mean of the per-class recalls (``imblearn.metrics.geometric_mean_score``,
which is 0 as soon as one class is never recognised):

* TF-IDF + logistic regression, plain and with ``class_weight="balanced"``;
* TF-IDF + a resampler + logistic regression, in ``imblearn.pipeline.make_pipeline``:
  ``RandomOverSampler``, ``SMOTE`` (on the TF-IDF vectors) and ``RandomUnderSampler``;
* ``SharpReCLClassifier`` and its ablation without the contrastive branch
  (``contrastive=None``: fine-tuning with the logit-adjusted loss only).

    python examples/imblearn_comparison.py

uses the packaged all-MiniLM-L6-v2 encoder for the two SharpReCL rows. The
table is printed as Markdown when ``tabulate`` is installed (pandas needs it
for ``to_markdown``), else, or with ``--no-markdown``, as plain text.
"""

import argparse
import time

import numpy as np
import pandas as pd
from imblearn.metrics import geometric_mean_score
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets


def models(args, smallest_class):
    """``{name: unfitted estimator}``, all taking raw texts."""

    def tfidf():
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)

    def lr(**kwargs):
        return LogisticRegression(max_iter=2000, **kwargs)

    def sharprecl(**kwargs):
        return SharpReCLClassifier(
            encoder=args.encoder,
            max_length=args.max_length,
            max_epochs=args.max_epochs,
            random_state=args.seed,
            **kwargs,
        )

    # SMOTE interpolates between a sample and its k nearest same-class
    # neighbours: the smallest class needs more than k members.
    k_neighbors = max(1, min(5, smallest_class - 1))
    return {
        "TF-IDF + LR": make_pipeline(tfidf(), lr()),
        "TF-IDF + LR (class_weight=balanced)": make_pipeline(tfidf(), lr(class_weight="balanced")),
        "TF-IDF + RandomOverSampler + LR": make_pipeline(
            tfidf(), RandomOverSampler(random_state=args.seed), lr()
        ),
        f"TF-IDF + SMOTE(k={k_neighbors}) + LR": make_pipeline(
            tfidf(), SMOTE(k_neighbors=k_neighbors, random_state=args.seed), lr()
        ),
        "TF-IDF + RandomUnderSampler + LR": make_pipeline(
            tfidf(), RandomUnderSampler(random_state=args.seed), lr()
        ),
        "SharpReCL": sharprecl(),
        "SharpReCL w/o contrastive (contrastive=None)": sharprecl(contrastive=None),
    }


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
    parser.add_argument("--no-markdown", dest="markdown", action="store_false",
                        help="print a plain table instead of Markdown")
    args = parser.parse_args(argv)

    X_train, y_train = make_support_tickets(args.n_samples, args.imbalance_ratio, random_state=args.seed)
    X_test, y_test = make_support_tickets(args.n_test, 1.0, random_state=args.seed + 1)
    classes, counts = np.unique(y_train, return_counts=True)
    print(f"train: {len(X_train)} texts, class counts {dict(zip(classes.tolist(), counts.tolist()))}")
    print(f"test:  {len(X_test)} texts, balanced\n")

    rows = []
    for name, model in models(args, int(counts.min())).items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        y_pred = model.predict(X_test)
        rows.append(
            {
                "model": name,
                "macro-F1": f1_score(y_test, y_pred, average="macro"),
                "G-mean": geometric_mean_score(y_test, y_pred, average="multiclass"),
                "fit (s)": seconds,
            }
        )
        print(f"fitted {name} in {seconds:.1f} s")
    table = pd.DataFrame(rows)

    print()
    text = None
    if args.markdown:
        try:
            text = table.to_markdown(index=False, floatfmt=("", ".4f", ".4f", ".1f"))
        except ImportError:  # pandas needs tabulate for Markdown
            pass
    if text is None:
        formats = {"macro-F1": "{:.4f}".format, "G-mean": "{:.4f}".format, "fit (s)": "{:.1f}".format}
        text = table.to_string(index=False, formatters=formats)
    print(text)
    return table


if __name__ == "__main__":
    main()
