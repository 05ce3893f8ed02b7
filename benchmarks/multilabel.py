"""The multi-label profile: GoEmotions (28 labels), the estimator against the peers a user tries.

Every method is trained on the training split (all of it, or a fixed
stratified subset for screens), chooses its per-label thresholds on the
development split the same way (each label's F1-maximising cut,
:func:`sklearn_sharprecl.thresholds.f1_thresholds` through the estimator's
``X_val``, :func:`dev_thresholds` for the peers) and is scored on dev and test:
macro-F1 and micro-F1 over the 28 labels and the mean F1 of the 5 labels with
the fewest training texts. The neural methods also keep their best epoch on dev
(the estimator's ``X_val``), so dev figures are selection figures; test is
looked at once. One record per run under ``benchmarks/results/multilabel/``::

    python -m benchmarks.multilabel --methods tfidf-lr tfidf-svc minilm-lr
    python -m benchmarks.multilabel --methods defaults bce --subset 10000 --seeds 0
    python -m benchmarks.multilabel --report      # the table and the README's block, from the records

Methods: ``defaults`` (``SharpReCLClassifier`` as shipped: on 28 labels the
per-label logit-adjusted binary loss, no contrastive branch), ``bce`` (plain
binary cross-entropy, ``classification_loss='cross_entropy'``), ``tfidf-lr`` and
``tfidf-svc`` (1-2-gram TF-IDF, sublinear tf, min_df 2, one-vs-rest balanced
``LogisticRegression`` / ``LinearSVC``), ``minilm-lr`` (the frozen packaged
MiniLM, mean pooling, one-vs-rest balanced logistic regression). ``--set`` adds
estimator settings to a neural method (a screen), and names the record.
"""

import argparse
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

import sklearn_sharprecl
from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.thresholds import f1_thresholds

from .encoders import load_tokenizer
from .peers import FrozenEncoderEmbedder
from .readme_summary import ROOT, rewrite
from .reporting.records import cpu_model
from .run import DEFAULT_DATA, choose_max_length, effective_params, parse_overrides

RESULTS = Path(__file__).resolve().parent / "results" / "multilabel"
RUNS = RESULTS / "runs"
SEPARATOR = ";"
N_RAREST = 5
DEFAULT_MAX_EPOCHS = SharpReCLClassifier().max_epochs  # the profile runs the estimator's default
NEURAL = {"defaults": {}, "bce": {"classification_loss": "cross_entropy"}}
PEERS = ("tfidf-lr", "tfidf-svc", "minilm-lr")
README_START = "<!-- multi-label benchmark: written by python -m benchmarks.multilabel --report -->"
README_END = "<!-- end of multi-label benchmark -->"
METHOD_NAMES = {"defaults": "SharpReCL defaults", "bce": "plain BCE", "tfidf-lr": "TF-IDF + OvR LR",
                "tfidf-svc": "TF-IDF + OvR LinearSVC", "minilm-lr": "frozen MiniLM + OvR LR"}


def read_split(data, split):
    """Texts and label lists of one GoEmotions split (``labels``: names joined by ``;``)."""
    import pandas as pd

    frame = pd.read_csv(Path(data) / "goemotions" / f"{split}.csv", keep_default_na=False)
    return frame["text"].tolist(), [[n for n in cell.split(SEPARATOR) if n] for cell in frame["labels"]]


def load_goemotions(data, subset=None):
    """``(X_train, Y_train, X_dev, Y_dev, X_test, Y_test, label_names, rarest)``.

    ``subset``: a fixed stratified share of the training texts (stratified on
    each text's rarest label, seed 0), the same for every method and seed.
    ``rarest``: the indices of the :data:`N_RAREST` labels with the fewest texts
    in the full training split.
    """
    splits = {name: read_split(data, name) for name in ("train", "dev", "test")}
    binarizer = MultiLabelBinarizer().fit(splits["train"][1])
    X, Y = splits["train"][0], binarizer.transform(splits["train"][1])
    counts = Y.sum(axis=0)
    rarest = np.argsort(counts, kind="stable")[:N_RAREST]
    if subset is not None:
        rarest_label = np.argmin(np.where(Y > 0, counts, np.inf), axis=1)
        keep, _ = train_test_split(np.arange(len(X)), train_size=subset, stratify=rarest_label, random_state=0)
        keep = np.sort(keep)
        X, Y = [X[i] for i in keep], Y[keep]
    out = [X, Y]
    for name in ("dev", "test"):
        out += [splits[name][0], binarizer.transform(splits[name][1])]
    return (*out, list(binarizer.classes_), rarest)


def peer(name, seed, max_length):
    """An unfitted one-vs-rest peer, scored by its ``decision_function``."""
    balanced_lr = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    if name == "tfidf-lr":
        return make_pipeline(tfidf, OneVsRestClassifier(balanced_lr))
    if name == "tfidf-svc":
        return make_pipeline(tfidf, OneVsRestClassifier(LinearSVC(class_weight="balanced", random_state=seed)))
    if name == "minilm-lr":
        return make_pipeline(FrozenEncoderEmbedder(None, max_length), OneVsRestClassifier(balanced_lr))
    raise ValueError(f"unknown method {name!r}")


def dev_thresholds(scores, Y, default):
    """Each label's F1-maximising threshold on dev scores; ``default`` where dev has no positive."""
    thresholds = f1_thresholds(scores, Y)
    no_positive = Y.sum(axis=0) == 0
    thresholds[no_positive] = default
    return thresholds


def metrics(Y, Y_pred, rarest):
    per_label = f1_score(Y, Y_pred, average=None, zero_division=0)
    return {"macro_f1": float(per_label.mean()), "micro_f1": float(f1_score(Y, Y_pred, average="micro")),
            "rarest5_f1": float(per_label[rarest].mean()), "per_label_f1": per_label.tolist()}


def run(method, seed, data, subset, overrides, max_epochs):
    X, Y, X_dev, Y_dev, X_test, Y_test, names, rarest = load_goemotions(data, subset)
    max_length = choose_max_length(X, load_tokenizer(None))
    record = {"profile": "goemotions", "method": method, "seed": seed, "subset": subset, "n_train": len(X),
              "labels": names, "rarest_labels": [names[i] for i in rarest], "max_length": max_length}
    tic, cpu = time.perf_counter(), time.process_time()
    if method in NEURAL:
        params = {"max_length": max_length, "max_epochs": max_epochs, "random_state": seed,
                  **NEURAL[method], **overrides}
        model = SharpReCLClassifier(**params).fit(X, Y, X_val=X_dev, y_val=Y_dev)
        predict = model.predict
        history = model.net_.history
        record.update(estimator_params=effective_params(model),
                      contrastive_=model.contrastive_, epochs=len(history),
                      valid_f1_macro=[float(v) for v in history[:, "valid_f1_macro"]],
                      thresholds=model.thresholds_.tolist())
    else:
        model = peer(method, seed, max_length)
        record["estimator_params"] = effective_params(model)  # what ran, steps included
        model.fit(X, Y)
        default = 0.0  # the one-vs-rest decision at 0 (probability 0.5 for LR)
        thresholds = dev_thresholds(model.decision_function(X_dev), Y_dev, default)
        record.update(thresholds=thresholds.tolist(),
                      test_default_threshold=metrics(Y_test, model.decision_function(X_test) >= default, rarest))

        def predict(texts):
            return (model.decision_function(texts) >= thresholds).astype(int)
    record["fit_seconds"] = time.perf_counter() - tic  # thresholds included: every method chooses them
    record["fit_cpu_seconds"] = time.process_time() - cpu
    record["dev"] = metrics(Y_dev, predict(X_dev), rarest)
    record["test"] = metrics(Y_test, predict(X_test), rarest)
    record["environment"] = {"version": sklearn_sharprecl.__version__, "cpu": cpu_model(), "threads":
                             os.environ.get("OMP_NUM_THREADS"), "python": platform.python_version()}
    return record


def record_path(method, seed, subset, overrides, max_epochs):
    config = json.dumps({"overrides": overrides, "max_epochs": max_epochs if method in NEURAL else None},
                        sort_keys=True)
    digest = hashlib.sha1(config.encode()).hexdigest()[:8]
    return RUNS / f"{method}-{'full' if subset is None else subset}-seed{seed}-{digest}.json"


def load_records(runs=RUNS):
    return [json.loads(p.read_text()) for p in sorted(Path(runs).glob("*.json"))]


def _cell(values):
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def table(records):
    """Markdown: one row per (training set, method, settings), mean ± sd over seeds; test
    macro-F1, micro-F1 and mean F1 of the 5 rarest labels, dev macro-F1, fit seconds."""
    groups = {}
    for rec in records:
        settings = dict(rec.get("overrides", {}))
        epochs = rec.get("estimator_params", {}).get("max_epochs", DEFAULT_MAX_EPOCHS)
        if epochs != DEFAULT_MAX_EPOCHS:  # --max-epochs: a screen of its own
            settings["max_epochs"] = epochs
        settings = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
        groups.setdefault((rec["subset"] or 10**9, rec["method"], settings), []).append(rec)
    lines = ["| training texts | method | seeds | macro-F1 | micro-F1 | rarest-5 F1 | dev macro-F1 | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for (_, method, settings), recs in sorted(groups.items()):
        name = METHOD_NAMES.get(method, method) + (f", {settings}" if settings else "")
        lines.append(f"| {recs[0]['n_train']:,} | {name} | {len(recs)} "
                     f"| {_cell([r['test']['macro_f1'] for r in recs])} "
                     f"| {_cell([r['test']['micro_f1'] for r in recs])} "
                     f"| {_cell([r['test']['rarest5_f1'] for r in recs])} "
                     f"| {_cell([r['dev']['macro_f1'] for r in recs])} "
                     f"| {np.mean([r['fit_seconds'] for r in recs]):.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=[], choices=[*NEURAL, *PEERS])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--subset", type=int, default=None, help="stratified training subset (screens)")
    parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS)
    parser.add_argument("--set", nargs="*", default=[], metavar="PARAM=VALUE", help="neural settings of a screen")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--report", action="store_true", help="write the table from the records")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    RUNS.mkdir(parents=True, exist_ok=True)
    for method in args.methods:
        for seed in args.seeds:
            path = record_path(method, seed, args.subset, overrides, args.max_epochs)
            if path.exists():
                print(f"done already: {path.name}")
                continue
            record = run(method, seed, args.data, args.subset, overrides if method in NEURAL else {},
                         args.max_epochs)
            record["overrides"] = overrides if method in NEURAL else {}
            path.write_text(json.dumps(record, indent=1))
            print(f"{path.name}: test macro-F1 {record['test']['macro_f1']:.4f}, "
                  f"rarest-5 {record['test']['rarest5_f1']:.4f}, fit {record['fit_seconds']:.0f} s")
    if args.report:
        text = table(load_records())
        (RESULTS / "goemotions.md").write_text(text)
        readme = ROOT / "README.md"
        readme.write_text(rewrite(readme.read_text(), f"{README_START}\n{text.rstrip()}\n{README_END}",
                                  README_START, README_END))
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
