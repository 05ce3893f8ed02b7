"""Does the estimator still give a committed record's result? One run record, refitted.

Rebuilds ``SharpReCLClassifier`` from the record's complete settings
(``estimator_params``, written by every run since 0.1.0), refits it on the
record's cell and seed (``run.load_cell``: the same long-tailed subset and, for
protocol 2, the same development split) and compares the development and test
macro-F1 with the record's; ``dev_stability`` says whether the development
predictions of the one fitted model change with what ran before them or with
the batches. ``--precision`` replaces the record's precision on a
machine without native bf16 (the numbers then answer a different question: use a
record of the same precision). Writes ``results/reproduction.json``::

    python -m benchmarks.reproduce --record results/study/<key>.json [--precision fp32] [--fits 2]
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
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


def reproduce(record, data, precision=None, fits=1):
    config = record["config"]
    X, y, X_test, y_test, _, dev = load_cell(record["dataset"], record["imbalance_ratio"], record["seed"], data,
                                             config.get("protocol", 1))
    tic = time.perf_counter()
    model = SharpReCLClassifier(**settings_of(record, precision)).fit(X, y)
    fit_seconds = time.perf_counter() - tic
    repeats = [same_fit_again(model, X, y, X_test, dev) for _ in range(fits - 1)]
    result = {"fit_seconds": fit_seconds, "test_macro_f1": macro_f1(model, X_test, y_test),
              "record_test_macro_f1": record["macro_f1"]}
    result["test_difference"] = result["test_macro_f1"] - result["record_test_macro_f1"]
    if dev is not None and "dev" in record:
        result.update(dev_macro_f1=macro_f1(model, *dev), record_dev_macro_f1=record["dev"]["macro_f1"])
        result["dev_difference"] = result["dev_macro_f1"] - result["record_dev_macro_f1"]
        result["dev_stability"] = dev_stability(model, dev[0], X_test)
    if repeats:
        result["same_fit_again"] = repeats
    return result


def same_fit_again(model, X, y, X_test, dev):
    """The same settings fitted again in this process: how far its weights and predictions
    are from ``model``'s (zero everywhere when training is bitwise reproducible)."""
    from sklearn.base import clone

    again = clone(model).fit(X, y)
    first, second = model.net_.module_.state_dict(), again.net_.module_.state_dict()
    texts = list(X_test) + ([] if dev is None else list(dev[0]))
    return {"max_abs_weight_difference": float(max((first[k].float() - second[k].float()).abs().max()
                                                   for k in first)),
            "changed_predictions": int((model.predict(texts) != again.predict(texts)).sum()),
            "texts": len(texts)}


def dev_stability(model, X_dev, X_test):
    """Whether the development predictions depend on anything but the model: the same texts
    predicted again after what the benchmark does before it scores them (an int8 copy and
    the label-shift estimate on the test texts), and in reverse order (other batches), with
    the smallest gap between a text's two highest class scores."""
    first = model.predict_proba(X_dev)
    model.quantize_int8().predict_proba(X_test)
    model.estimate_decision_prior(X_test)
    again = model.predict_proba(X_dev)
    reversed_order = model.predict_proba(X_dev[::-1])[::-1]
    top2 = np.sort(first, axis=1)[:, -2:]
    return {"changed_after_diagnostics": int((again.argmax(1) != first.argmax(1)).sum()),
            "changed_in_reverse_order": int((reversed_order.argmax(1) != first.argmax(1)).sum()),
            "max_abs_proba_difference": float(max(np.abs(again - first).max(),
                                                  np.abs(reversed_order - first).max())),
            "smallest_top2_gap": float((top2[:, 1] - top2[:, 0]).min())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                        help="replace the record's precision (default: keep it)")
    parser.add_argument("--fits", type=int, default=1,
                        help="fit the same settings this many times in one process (reproducibility)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=RESULTS / "reproduction.json")
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text())
    result = {"record": args.record.name, "record_code_revision": record.get("code_revision"),
              "environment": {**{name: os.environ.get(name) for name in ("MKL_CBWR", "OMP_NUM_THREADS")},
                              "torch_threads": torch.get_num_threads()},  # identical fits need the same count
              "precision": args.precision or record["estimator_params"]["precision"],
              **reproduce(record, args.data, args.precision, args.fits), "versions": show_versions()}
    args.output.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
