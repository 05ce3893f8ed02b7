"""Does the estimator still give a committed record's result? TREC ir=50, seed 0, shipped defaults.

Fits ``SharpReCLClassifier(max_length=L, random_state=0, precision=...)`` on the
long-tailed TREC training split of seed 0 (``L`` the longest training text, as
the benchmark's recipe ``r1-linear-all`` chooses it) and compares the test
macro-F1 with the committed record of the same settings,
``results/study/trec__ir50__sharprecl__seed0__39258734.json`` (fp32). Writes
``results/reproduction.json``::

    python -m benchmarks.reproduce [--precision fp32]
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier, show_versions
from sklearn_sharprecl.datasets import load_text_dataset, make_long_tailed

from .encoders import load_tokenizer
from .run import choose_max_length

RESULTS = Path(__file__).resolve().parent / "results"
RECORD = RESULTS / "study" / "trec__ir50__sharprecl__seed0__39258734.json"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"))
    parser.add_argument("--data", default=os.environ.get(
        "SHARPRECL_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "datasets")))
    args = parser.parse_args(argv)
    X, y = load_text_dataset("trec", "train", data_home=args.data, return_X_y=True)
    X_test, y_test = load_text_dataset("trec", "test", data_home=args.data, return_X_y=True)
    X, y = make_long_tailed(X, np.asarray(y), 50, random_state=0)
    max_length = choose_max_length(X, load_tokenizer(None), quantile=1.0)
    tic = time.perf_counter()
    clf = SharpReCLClassifier(max_length=max_length, random_state=0, precision=args.precision).fit(X, y)
    fit_seconds = time.perf_counter() - tic
    record = json.loads(RECORD.read_text())
    result = {"macro_f1": float(f1_score(y_test, clf.predict(X_test), average="macro")),
              "record_macro_f1": record["macro_f1"], "record": RECORD.name,
              "max_length": max_length, "precision": args.precision, "fit_seconds": fit_seconds,
              "versions": show_versions()}
    result["difference"] = result["macro_f1"] - result["record_macro_f1"]
    (RESULTS / "reproduction.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
