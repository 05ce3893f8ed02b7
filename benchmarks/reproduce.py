"""Does the estimator still give a committed record's result? One run record, refitted.

Rebuilds ``SharpReCLClassifier`` from the record's complete settings
(``estimator_params``, written by every run since 0.1.0), refits it on the
record's cell and seed (``run.load_cell``: the same long-tailed subset and, for
protocol 2, the same development split) and compares the development and test
macro-F1 with the record's. ``--precision`` replaces the record's precision on a
machine without native bf16 (the numbers then answer a different question: use a
record of the same precision). Writes ``results/reproduction.json``::

    python -m benchmarks.reproduce --record results/study/<key>.json [--precision fp32]
"""

import argparse
import json
import time
from pathlib import Path

from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier, show_versions

from .run import DEFAULT_DATA, load_cell

RESULTS = Path(__file__).resolve().parent / "results"
#: The shipped defaults of 0.1.0 (``head_init='auto'``) on TREC ir=50, seed 0, protocol 2, bf16.
RECORD = RESULTS / "study" / "trec__ir50__sharprecl__seed0__a9dcf67f.json"


def settings_of(record, precision=None):
    """The record's estimator settings as ``SharpReCLClassifier`` takes them."""
    params = dict(record["estimator_params"])
    if isinstance(params.get("optimizer__betas"), list):  # JSON has no tuples
        params["optimizer__betas"] = tuple(params["optimizer__betas"])
    if precision is not None:
        params["precision"] = precision
    return params


def macro_f1(model, X, y):
    return float(f1_score(y, model.predict(X), average="macro"))


def reproduce(record, data, precision=None):
    config = record["config"]
    X, y, X_test, y_test, _, dev = load_cell(record["dataset"], record["imbalance_ratio"], record["seed"], data,
                                             config.get("protocol", 1))
    tic = time.perf_counter()
    model = SharpReCLClassifier(**settings_of(record, precision)).fit(X, y)
    result = {"fit_seconds": time.perf_counter() - tic, "test_macro_f1": macro_f1(model, X_test, y_test),
              "record_test_macro_f1": record["macro_f1"]}
    result["test_difference"] = result["test_macro_f1"] - result["record_test_macro_f1"]
    if dev is not None and "dev" in record:
        result.update(dev_macro_f1=macro_f1(model, *dev), record_dev_macro_f1=record["dev"]["macro_f1"])
        result["dev_difference"] = result["dev_macro_f1"] - result["record_dev_macro_f1"]
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                        help="replace the record's precision (default: keep it)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text())
    result = {"record": args.record.name, "record_code_revision": record.get("code_revision"),
              "precision": args.precision or record["estimator_params"]["precision"],
              **reproduce(record, args.data, args.precision), "versions": show_versions()}
    (RESULTS / "reproduction.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
